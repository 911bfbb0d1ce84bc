using System.Globalization;
using DeltaSnap.Cli.Tests.Support;
using DeltaSnap.Lvol;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// <c>deltasnap refresh</c> between two lvol stores, run as a real process and killed (SIGKILL, by the store's
/// fault-injection switch <c>DELTASNAP_LVOL_FAULT_KILL_AT</c>) at every durable boundary in turn — each file sync and
/// each metadata slot write of either store — until a run completes without reaching the boundary. After each kill:
/// <c>lvol fsck</c> is clean on both stores, the target's complete snapshots from before are intact, a rerun without
/// the fault succeeds, the target then equals the source (live state and every snapshot), and no temporary snapshot
/// or receive scratch clone is left on either side.
/// </summary>
[NonParallelizable]
public sealed class KillAtEveryPointTests : LvolPairTests
{
    private const int KiB = 1024;

    /// <summary>Stops a runaway loop: no refresh here has anywhere near this many boundaries.</summary>
    private const int MaxBoundaries = 400;

    [SetUp]
    public async Task SetUp()
    {
        await Lvol.WriteAsync(SourceStore, "vm1", 0, LvolFixture.RandomBytes(768 * KiB, 1));
        await Lvol.WriteAsync(SourceStore, "vm1", 2048 * KiB, LvolFixture.RandomBytes(256 * KiB, 2));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
        await Lvol.WriteAsync(SourceStore, "vm1", 3072 * KiB, LvolFixture.RandomBytes(64 * KiB, 3));
    }

    [TestCase("native")]
    [TestCase("checksum")]
    public async Task FullRefresh_killedAtEveryDurableBoundary_rerunSucceedsAndNothingIsStuck(string route)
    {
        var points = await KillAtEveryPointAsync([], RouteArguments(route));

        TestContext.Out.WriteLine($"full refresh, {route} route: {points} kill points");
        Assert.That(points, Is.GreaterThan(10), "a full refresh crosses many durable boundaries");
    }

    [TestCase("native")]
    [TestCase("checksum")]
    public async Task IncrementalRefresh_killedAtEveryDurableBoundary_rerunSucceedsAndNothingIsStuck(string route)
    {
        var arguments = RouteArguments(route);
        await LvolFixture.RunOkAsync(["refresh", Source, Target, .. arguments]);
        await Lvol.WriteAsync(SourceStore, "vm1", 100 * KiB, LvolFixture.RandomBytes(128 * KiB, 4));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s2");
        await Lvol.WriteAsync(SourceStore, "vm1", 1024 * KiB, LvolFixture.RandomBytes(64 * KiB, 5));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s3");
        await Lvol.WriteAsync(SourceStore, "vm1", 3500 * KiB, LvolFixture.RandomBytes(32 * KiB, 6));

        var points = await KillAtEveryPointAsync(["s1"], arguments);

        TestContext.Out.WriteLine($"incremental refresh, {route} route: {points} kill points");
        Assert.That(points, Is.GreaterThan(10));
    }

    /// <summary>Runs the refresh killed at boundary 1, 2, … from the same starting stores; returns how many kill points there were.</summary>
    private async Task<int> KillAtEveryPointAsync(string[] completeOnTarget, string[] arguments)
    {
        var sourceCopy = Dir.File("source.start");
        var targetCopy = Dir.File("target.start");
        File.Copy(SourceStore, sourceCopy);
        File.Copy(TargetStore, targetCopy);
        var complete = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var snapshot in completeOnTarget)
        {
            complete[snapshot] = await TargetBytesAsync(snapshot);
        }
        var trace = Dir.File("kills.trace");
        for (var n = 1; n <= MaxBoundaries; n++)
        {
            File.Copy(sourceCopy, SourceStore, overwrite: true);
            File.Copy(targetCopy, TargetStore, overwrite: true);
            if (Directory.Exists(Dir.File("checkpoints")))
            {
                // The starting state has none (the refresh before it completed); a killed run may have left one.
                Directory.Delete(Dir.File("checkpoints"), recursive: true);
            }
            var environment = new Dictionary<string, string>
            {
                [LvolFaultInjectionNames.KillAt] = n.ToString(CultureInfo.InvariantCulture),
                [LvolFaultInjectionNames.Trace] = trace,
            };
            using var process = DeltaSnapTool.StartProcess(environment, ["refresh", Source, Target, .. arguments]);
            var run = await DeltaSnapTool.WaitAsync(process);
            if (run.ExitCode == 0)
            {
                await AssertConvergedAsync($"run with N={n} (not reached)");
                return n - 1;
            }
            var where = File.Exists(trace) ? File.ReadLines(trace).LastOrDefault() ?? "?" : "?";
            Assert.That(run.ExitCode, Is.EqualTo(137), $"N={n}: killed by SIGKILL at a boundary ({where}), not failed\n{run}");
            var context = $"killed at boundary {where}";

            await AssertFsckCleanAsync(SourceStore, context);
            await AssertFsckCleanAsync(TargetStore, context);
            foreach (var (snapshot, bytes) in complete)
            {
                Assert.That(await TargetBytesAsync(snapshot), Bytes.EqualTo(bytes), $"{context}: the target's complete snapshot {snapshot} is intact");
            }

            var rerun = await DeltaSnapTool.RunAsync(["refresh", Source, Target, .. arguments]);
            Assert.That(rerun.ExitCode, Is.Zero, $"{context}: the rerun without the fault succeeds\n{rerun}");
            await AssertConvergedAsync(context);
        }
        Assert.Fail($"The refresh still reached boundary {MaxBoundaries}.");
        return MaxBoundaries;
    }

    /// <summary>The native route (the lvol diff stream, received into a scratch clone), or the checksum route with resume checkpoints.</summary>
    private string[] RouteArguments(string route) =>
        route == "native" ? [] : ["--no-native", "--checkpoint-dir", Dir.File("checkpoints"), "--cluster-size", "64K"];

    private async Task AssertConvergedAsync(string context)
    {
        await AssertFsckCleanAsync(SourceStore, context + ", after the rerun");
        await AssertFsckCleanAsync(TargetStore, context + ", after the rerun");
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync()), $"{context}: the target's live state equals the source's");
        var sourceSnapshots = (await LvolFixture.SnapshotsAsync(Source)).Select(s => s.GetProperty("name").GetString()!).ToArray();
        var targetSnapshots = (await LvolFixture.SnapshotsAsync(Target)).Select(s => s.GetProperty("name").GetString()!).ToArray();
        Assert.That(targetSnapshots, Is.EqualTo(sourceSnapshots), $"{context}: the target holds the source's snapshots and nothing temporary");
        foreach (var snapshot in sourceSnapshots)
        {
            Assert.That(await TargetBytesAsync(snapshot), Bytes.EqualTo(await SourceBytesAsync(snapshot)), $"{context}: snapshot {snapshot}");
        }
        foreach (var store in new[] { SourceStore, TargetStore })
        {
            await using var opened = await LvolStore.OpenAsync(store);
            var leftovers = opened.ListLvols().Select(l => l.Name)
                .Where(name => name.Contains("deltasnap-tmp-", StringComparison.Ordinal) || name.Contains("@.receiving-", StringComparison.Ordinal)).ToArray();
            Assert.That(leftovers, Is.Empty, $"{context}: nothing temporary left in {Path.GetFileName(store)}");
        }
    }

    private static async Task AssertFsckCleanAsync(string store, string context)
    {
        var fsck = await DeltaSnapTool.RunAsync("lvol", "fsck", store);
        Assert.That(fsck.ExitCode, Is.Zero, $"{context}: lvol fsck {Path.GetFileName(store)}\n{fsck}");
    }

    /// <summary>The switch's environment variables (the class that reads them is internal to DeltaSnap.Lvol).</summary>
    private static class LvolFaultInjectionNames
    {
        public const string KillAt = "DELTASNAP_LVOL_FAULT_KILL_AT";
        public const string Trace = "DELTASNAP_LVOL_FAULT_TRACE";
    }
}
