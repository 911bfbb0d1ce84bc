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

    [Test]
    public async Task Suggest_commandPrefix_completesToTheCommand()
    {
        // What dotnet-suggest asks: the directive with the cursor position, then the whole command line.
        var result = await DeltaSnapTool.RunAsync("[suggest:13]", "deltasnap ref");

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Is.EqualTo("refresh\n"));
        Assert.That(result.Error, Is.Empty);
    }

    [Test]
    public async Task Suggest_refreshOptions_listsTheRefreshOptions()
    {
        var result = await DeltaSnapTool.RunAsync("[suggest:20]", "deltasnap refresh --");

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var suggestions = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(suggestions, Is.SupersetOf(new[]
        {
            "--json", "--quiet", "--progress", "--no-progress", "--progress-interval", "--no-create", "--no-native", "--verify-whole",
            "--allow-full-resend", "--snapshots-only", "--checkpoint-dir", "--tls-cert", "--ssh-option", "--log-level", "--help",
        }));
        Assert.That(suggestions, Is.All.StartWith("--"));
    }

    [Test]
    public async Task Suggest_algorithmValue_listsTheAlgorithms()
    {
        var result = await DeltaSnapTool.RunAsync("[suggest:27]", "deltasnap hash --algorithm ");

        Assert.That(result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.SupersetOf(new[] { "crc32c", "crc64iso", "xxh3", "xxh128", "sha256" }));
    }

    [Test]
    public async Task Suggest_process_completesAsDotnetSuggestRunsIt()
    {
        var result = await DeltaSnapTool.RunProcessAsync("[suggest:13]", "deltasnap ref");

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Is.EqualTo("refresh\n"));
    }
}
