namespace DeltaSnap.Btrfs.Tests;

/// <summary>The <c>btrfs</c> command of benchmarks/DeltaSnap.RefreshBenchmarks, run in-process on the real file systems.</summary>
public class BtrfsRefreshBenchmarkTests : BtrfsTestBase
{
    private static async Task<(int Exit, string Out, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await DeltaSnap.RefreshBenchmarks.Program.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Test]
    public async Task Btrfs_smallVolume_reportsEveryRouteAndLeavesNothing()
    {
        var sourceDir = NewRoot(MountA);
        var targetDir = NewRoot(MountB);

        var (exit, output, error) = await RunAsync(
            "btrfs", "--source-dir", sourceDir, "--target-dir", targetDir, "--size", "16M", "--changed", "10", "--runs", "2", "--json");

        Assert.That(exit, Is.EqualTo(0), error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var cases = json.RootElement.EnumerateArray().ToList();
        Assert.That(cases, Has.Count.EqualTo(1));
        var result = cases[0];
        Assert.Multiple(() =>
        {
            Assert.That(result.GetProperty("changedPercent").GetDouble(), Is.EqualTo(10));
            // 10 % of 16 MiB in 64 KiB blocks is 1.6 MiB of data, plus the stream's commands.
            Assert.That(result.GetProperty("streamBytes").GetInt64(), Is.InRange(1_600_000, 2_200_000));
            foreach (var name in new[] { "rawSeconds", "deltaSnapSeconds", "refreshSeconds", "pairedTransferRatio", "pairedRefreshRatio" })
            {
                Assert.That(result.GetProperty(name).GetDouble(), Is.GreaterThan(0), name);
            }
            Assert.That(error, Does.Contain("run 2 raw").And.Contain("run 2 deltasnap").And.Contain("run 2 refresh"));
            Assert.That(Directory.EnumerateFileSystemEntries(sourceDir), Is.Empty, "the benchmark removes its source work directory");
            Assert.That(Directory.EnumerateFileSystemEntries(targetDir), Is.Empty, "the benchmark removes its target work directory");
        });
    }

    [TestCase("--size", "1M")]
    [TestCase("--changed", "101")]
    [TestCase("--runs", "0")]
    public async Task Btrfs_badSharedOption_isUsageError(string option, string value)
    {
        var (exit, output, error) = await RunAsync("btrfs", "--source-dir", MountA, "--target-dir", MountB, option, value);

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain(option));
        Assert.That(output, Is.Empty);
    }
}
