using System.Collections.Concurrent;
using DeltaSnap.Replication;

namespace DeltaSnap.Bench.Tests;

/// <summary>A tiny matrix end to end on lvol stores (seconds): the report's numbers against the refreshes that made them.</summary>
public class BenchRunTests
{
    private string _directory = "";

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "dsbench-test-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private async Task<Matrix> WriteMatrixAsync(string json)
    {
        var path = Path.Combine(_directory, "matrix.json");
        await File.WriteAllTextAsync(path, json);
        return await Matrix.LoadAsync(path, CancellationToken.None);
    }

    [Test]
    public async Task Run_tinyLvolMatrix_reportMatchesTheRefreshResults()
    {
        var matrix = await WriteMatrixAsync($$"""
            { "name": "tiny", "rounds": 3, "pairs": ["lvol-lvol"], "sizes": ["8M"], "rates": [1],
              "patterns": ["scattered-4k", "sequential", {"name": "rewrite", "rates": [2]}, {"name": "append", "rates": [5]}],
              "workDirectory": "{{_directory}}" }
            """);
        var environment = new BenchEnvironment(_directory, BenchEnvironment.FindCli(null));
        Assert.That(environment.CliCommand, Is.Not.Null, "the deltasnap tool is built with this project");
        var refreshes = new ConcurrentQueue<(CaseKey Case, RefreshResult Result)>();
        using var log = new StringWriter();

        var report = await new BenchRunner(matrix, environment, log) { OnRefresh = (key, result) => refreshes.Enqueue((key, result)) }.RunAsync(CancellationToken.None);
        var files = await ReportWriter.WriteAsync(report, Path.Combine(_directory, "results"), CancellationToken.None);

        Assert.That(report.Skipped, Is.Empty, log.ToString());
        Assert.That(report.Cases.Select(c => $"{c.Pattern} {c.RatePercent}"), Is.EqualTo(new[] { "scattered-4k 1", "sequential 1", "rewrite 2", "append 5" }));
        Assert.Multiple(() =>
        {
            Assert.That(report.MatrixSha256, Has.Length.EqualTo(64));
            // 1 % of 2048 blocks of 4 KiB is 20 blocks; 1 % of 32 runs of 256 KiB rounds to 0, so 1; 2 % of 2048 is 41; 5 % is 102.
            Assert.That(report.Cases.Select(c => c.ChangedBytes), Is.EqualTo(new long[] { 20 * 4096, 256 << 10, 41 * 4096, 102 * 4096 }));
            foreach (var c in report.Cases)
            {
                var inProcess = c.Contenders.Single(r => r.Name == "deltasnap");
                var sent = refreshes.Where(r => r.Case == c.Key).Select(r => r.Result.BytesSent).ToList();
                Assert.That(inProcess.Runs.Select(r => r.WireBytes), Is.EqualTo(sent), $"{c.Key}: wire bytes are the RefreshResults' BytesSent, run by run");
                Assert.That(sent, Has.Count.EqualTo(3));
                Assert.That(c.Contenders.Single(r => r.Name == "deltasnap-cli").Runs.Select(r => r.WireBytes), Is.All.EqualTo(sent[0]),
                    $"{c.Key}: the tool sends the same stream");
                // The native lvol stream moves the blocks written and its framing: what changed and little more, except after a
                // whole rewrite, where every block was written (the same content mostly) and is sent.
                var written = c.Pattern == "rewrite" ? c.SizeBytes : c.ChangedBytes;
                Assert.That(sent[0], Is.InRange(c.ChangedBytes, (written * 1.1) + 65536), c.Key.ToString());
                foreach (var contender in c.Contenders)
                {
                    Assert.That(contender.Runs, Has.Count.EqualTo(3));
                    Assert.That(contender.TargetMatches, Is.True, $"{c.Key} {contender.Name}: the target has the source snapshot's content");
                    Assert.That(contender.Runs.Select(r => r.Position).Distinct().Count(), Is.EqualTo(2), "the order rotates");
                    foreach (var (metric, value) in contender.Metrics())
                    {
                        Assert.That(value.Median, Is.InRange(value.Min, value.Max), $"{c.Key} {contender.Name} {metric}");
                    }
                    Assert.That(contender.WallSeconds.Min, Is.GreaterThan(0));
                    Assert.That(contender.PeakRssBytes.Min, Is.GreaterThan(0));
                }
            }
        });

        var results = Path.Combine(_directory, "results");
        Assert.That(files.Select(f => Path.GetRelativePath(results, f)), Is.SupersetOf(new[]
        {
            "results.json", "wall-seconds.csv", "cpu-seconds.csv", "peak-rss-bytes.csv", "wire-bytes.csv", "summary.md", "report.html",
            Path.Combine("plots", "lvol-lvol-8M-time.png"), Path.Combine("plots", "lvol-lvol-8M-wire.png"),
        }));
        foreach (var png in files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)))
        {
            var bytes = await File.ReadAllBytesAsync(png);
            Assert.That(bytes.Take(8), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), png);
            Assert.That(bytes, Has.Length.GreaterThan(5000), $"{png} holds a drawing");
        }
        var html = await File.ReadAllTextAsync(Path.Combine(results, "report.html"));
        Assert.That(html, Does.Contain("plots/lvol-lvol-8M-time.png").And.Contain(report.MatrixSha256));

        var parsed = await ReportComparison.LoadAsync(Path.Combine(results, "results.json"), CancellationToken.None);
        Assert.That(parsed.Cases.SelectMany(c => c.Contenders.SelectMany(r => r.Runs)),
            Is.EqualTo(report.Cases.SelectMany(c => c.Contenders.SelectMany(r => r.Runs))), "the JSON parses back to the same runs");
        var wireCsv = await File.ReadAllLinesAsync(Path.Combine(results, "wire-bytes.csv"));
        var first = report.Cases[0];
        Assert.That(wireCsv, Does.Contain($"lvol-lvol,{8 << 20},scattered-4k,1,{first.ChangedBytes},deltasnap,DeltaSnap,3,{first.Contenders.Single(r => r.Name == "deltasnap").WireBytes.Median:R},"
            + $"{first.Contenders.Single(r => r.Name == "deltasnap").WireBytes.Min:R},{first.Contenders.Single(r => r.Name == "deltasnap").WireBytes.Max:R}"));
        Assert.That(ReportComparison.Compare(report, parsed), Does.Contain("deltasnap").And.Not.Contain("only in"));
    }

    [Test]
    public async Task RunCommand_matrixWithUnknownPair_isUsageError()
    {
        var path = Path.Combine(_directory, "bad.json");
        await File.WriteAllTextAsync(path, """{ "pairs": ["lvol-nfs"], "sizes": ["8M"], "patterns": ["append"] }""");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await Program.RunAsync(["run", path, "-o", Path.Combine(_directory, "out")], output, error);

        Assert.That(exit, Is.EqualTo(Program.Usage));
        Assert.That(error.ToString(), Does.Contain("unknown pair 'lvol-nfs'"));
        Assert.That(Directory.Exists(Path.Combine(_directory, "out")), Is.False);
    }

    [Test]
    public async Task RunCommand_unavailablePair_isListedAsSkippedWithItsReason()
    {
        var path = Path.Combine(_directory, "matrix.json");
        await File.WriteAllTextAsync(path, $$"""
            { "rounds": 1, "pairs": ["zfs-zfs", "lvol-lvol"], "sizes": ["4M"], "patterns": [{"name": "append", "rates": [1]}],
              "contenders": ["deltasnap"], "workDirectory": "{{_directory}}" }
            """);
        var saved = Environment.GetEnvironmentVariable("DELTASNAP_ZFS_POOL_A");
        Environment.SetEnvironmentVariable("DELTASNAP_ZFS_POOL_A", null);
        try
        {
            using var output = new StringWriter();
            using var error = new StringWriter();

            var exit = await Program.RunAsync(["run", path, "-o", Path.Combine(_directory, "out")], output, error);

            Assert.That(exit, Is.EqualTo(Program.Success), error.ToString());
            var report = await ReportComparison.LoadAsync(Path.Combine(_directory, "out", "results.json"), CancellationToken.None);
            Assert.That(report.Skipped.Select(s => (s.Pair, s.Contender)), Is.EqualTo(new[] { ("zfs-zfs", (string?)null) }));
            Assert.That(report.Skipped[0].Reason, Does.Contain("DELTASNAP_ZFS_POOL_A"));
            Assert.That(report.Cases.Select(c => c.Pair), Is.EqualTo(new[] { "lvol-lvol" }));
            Assert.That(await File.ReadAllTextAsync(Path.Combine(_directory, "out", "summary.md")), Does.Contain("zfs-zfs: DELTASNAP_ZFS_POOL_A"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("DELTASNAP_ZFS_POOL_A", saved);
        }
    }
}
