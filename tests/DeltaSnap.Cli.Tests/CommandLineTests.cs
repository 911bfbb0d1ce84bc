using DeltaSnap.Cli.Commands;
using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary>Behaviour every command shares: parse errors, help, exit codes, one-line messages.</summary>
public class CommandLineTests
{
    [Test]
    public async Task Run_noCommand_isUsageErrorTwoOnOneLine()
    {
        var result = await DeltaSnapTool.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Usage));
        Assert.That(result.Error, Is.EqualTo("deltasnap: Required command was not provided. See 'deltasnap --help'.\n"));
        Assert.That(result.Out, Is.Empty);
    }

    [Test]
    public async Task Run_unknownCommand_isUsageErrorTwoNamingIt()
    {
        var result = await DeltaSnapTool.RunAsync("frobnicate");

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain("'frobnicate'"));
        Assert.That(result.Error.TrimEnd('\n'), Does.Not.Contain("\n"));
    }

    [Test]
    public async Task Run_unknownOption_isUsageErrorTwo()
    {
        var result = await DeltaSnapTool.RunAsync("checksums", "--frobnicate", "x.img");

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain("--frobnicate").And.Contain("See 'deltasnap checksums --help'."));
    }

    [TestCase("hash")]
    [TestCase("checksums")]
    [TestCase("diff")]
    public async Task Help_eachCommand_exitsZeroAndShowsUsageUnderTheToolsName(string command)
    {
        var result = await DeltaSnapTool.RunAsync(command, "--help");

        Assert.That(result.ExitCode, Is.Zero);
        Assert.That(result.Out, Does.Contain($"Usage:\n  deltasnap {command} "));
        Assert.That(result.Error, Is.Empty);
    }

    [Test]
    public async Task Help_root_listsEveryCommand()
    {
        var result = await DeltaSnapTool.RunAsync("--help");

        Assert.That(result.ExitCode, Is.Zero);
        Assert.That(result.Out, Does.Contain("Usage:\n  deltasnap [command] [options]"));
        Assert.That(result.Out, Does.Contain("  hash ").And.Contain("  checksums ").And.Contain("  diff "));
    }

    [Test]
    public void WithToolName_usageLines_startWithToolNameOnlyThere()
    {
        var help = "Description:\n  testhost is not replaced here\n\nUsage:\n  testhost diff <A> <B> [options]\n";

        Assert.That(CommandRunner.WithToolName(help, "testhost"),
            Is.EqualTo("Description:\n  testhost is not replaced here\n\nUsage:\n  deltasnap diff <A> <B> [options]\n".Replace(
                "  testhost is", "  deltasnap is", StringComparison.Ordinal)));
    }

    [Test]
    public void Describe_unexpectedException_namesItsTypeOnOneLine() =>
        Assert.That(CommandRunner.Describe(new InvalidOperationException("bad\nstate")), Is.EqualTo("bad\nstate (InvalidOperationException)"));

    [Test]
    public void ExitCodeOf_cancellation_is130() =>
        Assert.That(CommandRunner.ExitCodeOf(new OperationCanceledException()), Is.EqualTo(130));
}
