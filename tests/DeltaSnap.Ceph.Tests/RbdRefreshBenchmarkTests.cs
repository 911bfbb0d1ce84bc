namespace DeltaSnap.Ceph.Tests;

/// <summary>The <c>rbd</c> command of benchmarks/DeltaSnap.RefreshBenchmarks, run in-process against the real cluster.</summary>
public class RbdRefreshBenchmarkTests
{
    private static async Task<(int Exit, string Out, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await DeltaSnap.RefreshBenchmarks.Program.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Test]
    public async Task Rbd_smallImage_reportsEveryRouteAndLeavesNoImage()
    {
        var (exit, output, error) = await RunAsync(
            "rbd", "--source-pool", CephCluster.PoolA, "--target-pool", CephCluster.PoolB, "--size", "16M", "--changed", "10", "--runs", "2", "--json");

        Assert.That(exit, Is.EqualTo(0), error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var cases = json.RootElement.EnumerateArray().ToList();
        Assert.That(cases, Has.Count.EqualTo(1));
        var result = cases[0];
        Assert.Multiple(() =>
        {
            Assert.That(result.GetProperty("changedPercent").GetDouble(), Is.EqualTo(10));
            // 10 % of 16 MiB in 64 KiB blocks is 1.6 MiB of data, framed.
            Assert.That(result.GetProperty("streamBytes").GetInt64(), Is.InRange(1_600_000, 2_000_000));
            foreach (var name in new[] { "rawSeconds", "deltaSnapSeconds", "refreshSeconds", "pairedTransferRatio", "pairedRefreshRatio" })
            {
                Assert.That(result.GetProperty(name).GetDouble(), Is.GreaterThan(0), name);
            }
            Assert.That(error, Does.Contain("run 2 raw").And.Contain("run 2 deltasnap").And.Contain("run 2 refresh"));
        });
        await using var scope = await CephScope.CreateAsync(); // no default pool: lists the images of every pool
        Assert.That(await scope.Driver.ListVolumesAsync(), Has.None.Contains("dsbench-"), "the benchmark deletes its images");
    }

    [Test]
    public async Task Rbd_rewritePatternWithWritesRoute_sendsTheChangeWhereTheStreamBeforeSentTheImage()
    {
        var (exit, output, error) = await RunAsync(
            "rbd", "--source-pool", CephCluster.PoolA, "--target-pool", CephCluster.PoolB, "--size", "16M", "--changed", "10", "--runs", "1",
            "--pattern", "rewrite", "--with-writes-route", "--json");

        Assert.That(exit, Is.EqualTo(0), error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var result = json.RootElement.EnumerateArray().Single();
        Assert.Multiple(() =>
        {
            Assert.That(result.GetProperty("pattern").GetString(), Is.EqualTo("rewrite"));
            // 10 % of 16 MiB in 4 KiB blocks is 1.6 MiB changed; every byte was written again.
            Assert.That(result.GetProperty("streamBytes").GetInt64(), Is.InRange(1_600_000, 1_800_000));
            Assert.That(result.GetProperty("writesStreamBytes").GetInt64(), Is.GreaterThan(16 << 20));
            Assert.That(result.GetProperty("pairedContentRatio").GetDouble(), Is.GreaterThan(0));
            Assert.That(error, Does.Contain("run 1 writes"));
        });
    }

    [Test]
    public async Task Rbd_unknownPattern_isUsageError()
    {
        var (exit, _, error) = await RunAsync("rbd", "--source-pool", CephCluster.PoolA, "--target-pool", CephCluster.PoolB, "--pattern", "sideways");

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("sideways"));
    }

    [TestCase("-x", "rbd2")]
    [TestCase("rbd", "a/b")]
    public async Task Rbd_badPool_isUsageError(string sourcePool, string targetPool)
    {
        var (exit, _, error) = await RunAsync("rbd", "--source-pool", sourcePool, "--target-pool", targetPool, "--size", "16M");

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("expected a pool name"));
    }

    [TestCase("--size", "1M")]
    [TestCase("--changed", "0")]
    [TestCase("--runs", "0")]
    public async Task Rbd_badSharedOption_isUsageErrorBeforeAnyImage(string option, string value)
    {
        var (exit, output, error) = await RunAsync("rbd", "--source-pool", CephCluster.PoolA, "--target-pool", CephCluster.PoolB, option, value);

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain(option));
        Assert.That(output, Is.Empty);
    }
}
