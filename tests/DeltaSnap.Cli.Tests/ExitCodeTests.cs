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
        Assert.That(AllExitCodes().Values, Is.Unique);
    }

    /// <summary>
    /// The README's table, pinned to ExitCodes.cs: each constant has its row, under its number, starting with its name
    /// (so neither side can change alone), and the table has no row without a constant.
    /// </summary>
    [Test]
    public void Readme_exitCodeTable_matchesExitCodesCs()
    {
        var documented = ReadmeExitCodes();
        var names = new Dictionary<string, string>
        {
            [nameof(ExitCodes.Success)] = "success",
            [nameof(ExitCodes.Failure)] = "operational failure",
            [nameof(ExitCodes.Usage)] = "usage error",
            [nameof(ExitCodes.NoCommonBase)] = "no common base",
            [nameof(ExitCodes.VerificationFailed)] = "verification failed",
            [nameof(ExitCodes.BackendFailed)] = "backend failed",
            [nameof(ExitCodes.NativeStreamMismatch)] = "native stream mismatch",
            [nameof(ExitCodes.PeerRefused)] = "peer refused",
            [nameof(ExitCodes.Busy)] = "busy",
            [nameof(ExitCodes.Cancelled)] = "cancelled",
        };
        var constants = AllExitCodes();

        Assert.That(constants.Keys, Is.EquivalentTo(names.Keys), "a new exit code needs its README row (and its name here)");
        Assert.That(documented.Keys, Is.EquivalentTo(constants.Values), "the README documents exactly the codes of ExitCodes.cs");
        foreach (var (name, code) in constants)
        {
            Assert.That(documented[code], Does.StartWith(names[name]), $"README row {code} is {name}");
        }
        Assert.That(constants[nameof(ExitCodes.Usage)], Is.EqualTo(2), "as GNU tools and System.CommandLine");
        Assert.That(constants[nameof(ExitCodes.Cancelled)], Is.EqualTo(130), "128 + SIGINT, as shells report it");
        Assert.That(constants[nameof(ExitCodes.PeerRefused)], Is.EqualTo(7));
    }

    private static Dictionary<string, int> AllExitCodes() =>
        typeof(ExitCodes).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);

    /// <summary>The rows of the table under "## Exit codes" in the CLI's README: code → meaning.</summary>
    private static Dictionary<int, string> ReadmeExitCodes()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DeltaSnap.sln")))
        {
            dir = dir.Parent;
        }
        Assert.That(dir, Is.Not.Null, "the repository above the test assembly");
        var lines = File.ReadAllLines(Path.Combine(dir!.FullName, "src", "DeltaSnap.Cli", "README.md"));
        var rows = new Dictionary<int, string>();
        foreach (var line in lines.SkipWhile(l => l != "## Exit codes").Skip(1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal)))
        {
            var cells = line.Split('|', StringSplitOptions.TrimEntries);
            if (cells.Length >= 4 && int.TryParse(cells[1], System.Globalization.CultureInfo.InvariantCulture, out var code))
            {
                rows.Add(code, cells[2]);
            }
        }
        return rows;
    }
}
