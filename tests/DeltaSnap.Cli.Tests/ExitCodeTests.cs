using System.CommandLine;
using DeltaSnap.Cli.Commands;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Cli.Tests;

/// <summary>The documented exit codes (README, "Exit codes"): each failure kind a handler can throw, run through the real runner.</summary>
public class ExitCodeTests
{
    private static IEnumerable<TestCaseData> Mappings()
    {
        yield return new TestCaseData(new InvalidOperationException("bug"), 1).SetName("other exception -> 1");
        yield return new TestCaseData(new IOException("disk"), 1).SetName("IOException -> 1");
        yield return new TestCaseData(new DeltaSnapException("failed"), 1).SetName("DeltaSnapException -> 1");
        yield return new TestCaseData(new UsageException("bad"), 2).SetName("UsageException -> 2");
        yield return new TestCaseData(new NoCommonBaseException("share none"), 3).SetName("NoCommonBaseException -> 3");
        yield return new TestCaseData(new VerificationFailedException("differ"), 4).SetName("VerificationFailedException -> 4");
        yield return new TestCaseData(new BackendCommandException("zfs receive x", 1, "cannot receive"), 5).SetName("BackendCommandException -> 5");
        yield return new TestCaseData(new NativeStreamMismatchException("base differs"), 6).SetName("NativeStreamMismatchException -> 6");
        yield return new TestCaseData(new OperationCanceledException(), 130).SetName("OperationCanceledException -> 130");
        yield return new TestCaseData(new TaskCanceledException(), 130).SetName("TaskCanceledException -> 130");
        yield return new TestCaseData(new AggregateException(new NoCommonBaseException("x")), 3).SetName("AggregateException of one -> its code");
    }

    [TestCaseSource(nameof(Mappings))]
    public async Task Handler_throws_exitsWithTheDocumentedCodeAndOneErrorLine(Exception thrown, int expected)
    {
        var command = new Command("fail");
        CommandRunner.SetHandler(command, (_, _, _) => Task.FromException<int>(thrown));
        var root = new RootCommand { command };
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter { NewLine = "\n" };

        var exitCode = await CommandRunner.InvokeAsync(root, ["fail"], output, error);

        Assert.That(exitCode, Is.EqualTo(expected));
        Assert.That(CommandRunner.ExitCodeOf(thrown), Is.EqualTo(expected));
        Assert.That(error.ToString().TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), error.ToString());
        Assert.That(error.ToString(), Does.StartWith("deltasnap: "));
    }

    [Test]
    public void ExitCodes_areDistinct()
    {
        int[] codes = [ExitCodes.Success, ExitCodes.Failure, ExitCodes.Usage, ExitCodes.NoCommonBase, ExitCodes.VerificationFailed,
            ExitCodes.BackendFailed, ExitCodes.NativeStreamMismatch, ExitCodes.Cancelled];
        Assert.That(codes, Is.Unique);
    }
}
