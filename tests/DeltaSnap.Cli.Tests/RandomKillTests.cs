using System.Diagnostics;
using System.Globalization;
using DeltaSnap.Cli.Tests.Support;
using DeltaSnap.Drivers;
using DeltaSnap.Testing;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// <c>deltasnap refresh</c> on ZFS, Btrfs and RBD, run as a real process and SIGKILLed (with the programs it started:
/// <c>zfs send/receive</c>, <c>btrfs send/receive</c>) at a random moment, uniform over the measured duration of an
/// unkilled run. After each kill: the backend's own listing works and shows nothing the refresh does not explain, a
/// rerun succeeds, the target then equals the source (live state, and the same snapshots), and nothing temporary is
/// left (temporary snapshots, half-received datasets or subvolumes, staging subvolumes, scratch images, ZFS snapshot
/// views). Every fifth kill is of a refresh that starts from a missing target, so full refreshes are killed too. RBD's kills are shared by
/// parallel lanes (see <see cref="RbdLanes"/>).
/// </summary>
/// <remarks>
/// <c>DELTASNAP_RANDOM_KILLS=N</c> sets the kills per backend (default 30, sized for CI; the campaigns in docs/reliability.md ran 50); a longer campaign is the same
/// test with a larger N. The seed is fixed per backend; <c>DELTASNAP_RANDOM_KILL_SEED</c> changes it.
/// </remarks>
[NonParallelizable]
[Category("RandomKill")]
public sealed class RandomKillTests
{
    private const int VolumeBytes = 8 << 20;

    /// <summary>
    /// The RBD campaign runs in this many lanes at once, each with its own images and seed, taking kills from a shared
    /// count until the campaign has its N (so the lanes end together whatever their luck with kill times). A kill
    /// after the run took an image's exclusive lock leaves the lock with a watch that only expires after the OSD's
    /// <c>osd_client_watch_timeout</c> (30 s), and librbd in the rerun waits for that before it breaks the lock: a round
    /// is about 20 s of waiting and 1.5 s of work, so the lanes overlap the waits (the rerun still meets the stale lock).
    /// ZFS and Btrfs rounds do not wait; they run in one lane.
    /// </summary>
    private const int RbdLanes = 8;

    private static int Kills => int.TryParse(Environment.GetEnvironmentVariable("DELTASNAP_RANDOM_KILLS"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 30;

    [TestCase("zfs", false)]
    [TestCase("btrfs", false)]
    [TestCase("rbd", false)]
    [TestCase("btrfs", true, TestName = "Refresh_killedAtRandomMoments_rerunSucceedsAndNothingTemporaryIsLeft(btrfs, --checkpoint-dir)")]
    public async Task Refresh_killedAtRandomMoments_rerunSucceedsAndNothingTemporaryIsLeft(string backend, bool checkpoints)
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("DELTASNAP_RANDOM_KILL_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 18;
        var lanes = backend == "rbd" ? Math.Min(RbdLanes, Kills) : 1;
        // Lanes block pool threads (librbd calls waiting for a lock, backend CLI calls); enough threads keep one lane's
        // wait from delaying another lane's kill.
        ThreadPool.GetMinThreads(out var workers, out var completions);
        ThreadPool.SetMinThreads(Math.Max(workers, 4 * lanes), completions);
        using var stop = new CancellationTokenSource();
        var kills = new KillCount(Kills);
        try
        {
            var killed = await Task.WhenAll(Enumerable.Range(0, lanes).Select(async lane =>
            {
                try
                {
                    return await RunLaneAsync(backend, checkpoints, lane, kills, seed, stop.Token);
                }
                catch
                {
                    // One lane failed: the others stop at their next round.
                    await stop.CancelAsync();
                    throw;
                }
            }));
            Assert.That(killed.Sum(), Is.EqualTo(Kills), "N runs were killed mid-run");
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, completions);
        }
    }

    /// <summary>The kills a campaign still has to make, shared by its lanes.</summary>
    private sealed class KillCount(int total)
    {
        private int _claimed;

        public int Total => total;

        /// <summary>Takes one kill for the calling lane: its number in the campaign (0, 1, …), or -1 when all are taken.</summary>
        public int Claim()
        {
            var number = Interlocked.Increment(ref _claimed) - 1;
            return number < total ? number : -1;
        }
    }

    /// <summary>One lane of a campaign: its own source and target; kills until no kill is left to claim, and returns how many runs it killed mid-run.</summary>
    private static async Task<int> RunLaneAsync(string backend, bool checkpoints, int lane, KillCount kills, int seed, CancellationToken stop)
    {
        var name = lane == 0 ? backend : $"{backend} lane {lane}";
        // With --checkpoint-dir, Btrfs streams are spooled and a killed run's spool is continued by the rerun.
        using var checkpointDirectory = checkpoints ? new TempDirectory() : null;
        await using var bed = KillBed.Create(backend);
        string[] Refresh(params string[] more) =>
            ["refresh", bed.Source, bed.Target, .. checkpointDirectory is null ? [] : (string[])["--checkpoint-dir", checkpointDirectory.Path], .. more];
        var random = new Random(seed * 31 + backend.Length + 7919 * lane);
        await bed.PrepareSourceAsync(random);

        // The unkilled runs whose durations the kill times are drawn from: a full refresh, then an incremental one.
        var full = await RunTimedAsync(Refresh());
        await bed.MutateAsync(random, 1, snapshot: true);
        var incremental = await RunTimedAsync(Refresh());
        await bed.AssertConvergedAsync($"{name}: after the unkilled runs");
        TestContext.Out.WriteLine($"{name}: unkilled full refresh {full.TotalSeconds:F2} s, incremental {incremental.TotalSeconds:F2} s");

        int killed = 0, fullKills = 0, finishedFirst = 0, fullRounds = 0, resumed = 0;
        var laneClock = Stopwatch.StartNew();
        // Rounds go on while the lane holds a kill not yet made (a kill time past a run's end lets it finish; that round
        // still checks convergence but does not count, and the lane tries again).
        var round = 0;
        int claimed = 0, kill = -1;
        for (; round < 3 * kills.Total && !stop.IsCancellationRequested; round++)
        {
            if (killed == claimed)
            {
                kill = kills.Claim();
                if (kill < 0)
                {
                    break;
                }
                claimed++;
            }
            // Every fifth kill of the campaign is of a full refresh.
            var isFull = kill % 5 == 4;
            if (isFull)
            {
                await bed.DestroyTargetAsync();
                fullRounds++;
            }
            await bed.MutateAsync(random, round + 2, snapshot: round % 3 == 0);
            var duration = isFull ? full : incremental;
            var at = TimeSpan.FromTicks((long)(random.NextDouble() * duration.Ticks));
            var context = $"{name} round {round} ({(isFull ? "full" : "incremental")}, killed at {at.TotalMilliseconds:F0} ms of {duration.TotalMilliseconds:F0})";

            var clock = Stopwatch.StartNew();
            using var process = DeltaSnapTool.StartProcess(Refresh());
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            if (!await ExitsWithinAsync(process, at))
            {
                process.Kill(entireProcessTree: true);
                killed++;
                fullKills += isFull ? 1 : 0;
            }
            else
            {
                // An unkilled run: the next kill of its kind is drawn over its duration (the load changes over a campaign).
                finishedFirst++;
                if (isFull)
                {
                    full = clock.Elapsed;
                }
                else
                {
                    incremental = clock.Elapsed;
                }
            }
            await process.WaitForExitAsync(CancellationToken.None);
            await Task.WhenAll(stdout, stderr);

            bed.AssertListingSane(context, creatingTarget: isFull);
            var rerun = await DeltaSnapTool.RunAsync(Refresh("--json"));
            resumed += rerun.Out.Contains("\"resumed\":true", StringComparison.Ordinal) ? 1 : 0;
            if (rerun.ExitCode != 0)
            {
                // For the diagnosis: what the backend shows, and one more rerun with the library's debug log.
                var again = await DeltaSnapTool.RunAsync(Refresh("--log-level", "debug"));
                Assert.Fail($"{context}: the rerun failed\n{rerun}\n--- killed run's stderr\n{await stderr}\n--- backend\n{bed.Describe()}\n--- a second rerun with --log-level debug\n{again}");
            }
            await bed.AssertConvergedAsync(context);
            if (checkpointDirectory is not null)
            {
                Assert.That(Directory.GetFiles(checkpointDirectory.Path), Is.Empty, $"{context}: no checkpoint or spool left after the rerun");
            }
        }
        TestContext.Out.WriteLine($"{name}: {round} rounds ({fullRounds} full) in {laneClock.Elapsed.TotalSeconds:F0} s: {killed} killed mid-run ({fullKills} full), {finishedFirst} finished before the kill; every rerun converged"
            + (checkpointDirectory is null ? "" : $"; {resumed} reruns resumed a spooled stream"));
        if (!stop.IsCancellationRequested)
        {
            Assert.That(killed, Is.EqualTo(claimed), $"{name}: the runs it took kills for were killed mid-run");
        }
        return killed;
    }

    /// <summary>Whether the process exits within <paramref name="time"/> (waited for without holding a thread).</summary>
    private static async Task<bool> ExitsWithinAsync(Process process, TimeSpan time)
    {
        using var deadline = new CancellationTokenSource(time);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<TimeSpan> RunTimedAsync(string[] refresh)
    {
        var clock = Stopwatch.StartNew();
        var run = await DeltaSnapTool.RunProcessAsync(refresh);
        clock.Stop();
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        return clock.Elapsed;
    }

    /// <summary>One backend's source and target for the campaign, created and destroyed around it.</summary>
    private abstract class KillBed : IAsyncDisposable
    {
        protected KillBed(string id) => Id = id;

        protected string Id { get; }

        public abstract string Source { get; }

        public abstract string Target { get; }

        public static KillBed Create(string backend)
        {
            var id = "rk" + Guid.NewGuid().ToString("N")[..10];
            return backend switch
            {
                "zfs" => new ZfsBed(id),
                "btrfs" => new BtrfsBed(id),
                _ => new RbdBed(id),
            };
        }

        public abstract Task PrepareSourceAsync(Random random);

        public abstract Task DestroyTargetAsync();

        /// <summary>Changes the source's live state, then snapshots it when asked.</summary>
        public async Task MutateAsync(Random random, int round, bool snapshot)
        {
            await WithVolumeAsync(Source, v => v.Kind == VolumeKind.Block ? WriteBlocksAsync(v, random) : WriteFilesAsync(v, random, round));
            if (snapshot)
            {
                var created = await DeltaSnapTool.RunAsync("snapshot", "create", Source, "k" + round.ToString(CultureInfo.InvariantCulture));
                Assert.That(created.ExitCode, Is.Zero, created.ToString());
            }
        }

        /// <summary>What the backend lists of the test's volumes, for failure messages.</summary>
        public abstract string Describe();

        /// <summary>
        /// The backend's listing works and holds nothing unexplained (before the rerun); <paramref name="creatingTarget"/>:
        /// the killed run started without a target, so it may have been creating it.
        /// </summary>
        public abstract void AssertListingSane(string context, bool creatingTarget);

        /// <summary>Content equal, the same snapshots on both sides, nothing temporary anywhere.</summary>
        public async Task AssertConvergedAsync(string context)
        {
            var sourceSnapshots = await SnapshotNamesAsync(Source);
            var targetSnapshots = await SnapshotNamesAsync(Target);
            Assert.That(targetSnapshots, Is.EqualTo(sourceSnapshots), $"{context}: the target holds the source's snapshots");
            Assert.That(sourceSnapshots.Where(n => n.StartsWith("deltasnap-tmp-", StringComparison.Ordinal)), Is.Empty, $"{context}: no temporary snapshot on the source");
            var sourceContent = await WithVolumeAsync(Source, ContentAsync);
            var targetContent = await WithVolumeAsync(Target, ContentAsync);
            Assert.That(targetContent, Is.EqualTo(sourceContent), $"{context}: the target's content equals the source's");
            AssertNoLeftovers(context, targetSnapshots);
        }

        protected abstract void AssertNoLeftovers(string context, string[] snapshots);

        public abstract ValueTask DisposeAsync();

        protected static string Run(string program, params string[] arguments) => BackendRequirement.Run(program, arguments);

        protected static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        private static async Task<string[]> SnapshotNamesAsync(string address)
        {
            var list = await DeltaSnapTool.RunAsync("snapshot", "list", address, "--json");
            Assert.That(list.ExitCode, Is.Zero, list.ToString());
            using var json = System.Text.Json.JsonDocument.Parse(list.Out);
            return json.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToArray();
        }

        private static async Task<T> WithVolumeAsync<T>(string address, Func<Volume, Task<T>> action)
        {
            var context = new CliContext(TextWriter.Null);
            var volume = await context.Resolver.OpenVolumeAsync(address);
            try
            {
                return await action(volume);
            }
            finally
            {
                await volume.Driver.DisposeAsync();
            }
        }

        private static Task WithVolumeAsync(string address, Func<Volume, Task> action) =>
            WithVolumeAsync(address, async v =>
            {
                await action(v);
                return 0;
            });

        private static async Task<string> ContentAsync(Volume volume)
        {
            if (volume.Kind == VolumeKind.Filesystem)
            {
                var path = await volume.GetPathAsync(null);
                return string.Join('\n', TreeDigest.Describe(path, new TreeDigestOptions { NanosecondTimes = false, Sparseness = false, ExtendedAttributes = false }));
            }
            var device = await volume.OpenDeviceAsync(null);
            await using (device)
            {
                var bytes = new byte[device.Length];
                await device.ReadAsync(0, bytes);
                return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)) + " " + device.Length.ToString(CultureInfo.InvariantCulture);
            }
        }

        private static async Task WriteBlocksAsync(Volume volume, Random random)
        {
            var device = await volume.OpenDeviceAsync(null, writable: true);
            await using (device)
            {
                for (var i = 0; i < 4; i++)
                {
                    var data = new byte[random.Next(1, 64) * 4096];
                    random.NextBytes(data);
                    var offset = random.NextInt64(0, (device.Length - data.Length) / 4096) * 4096;
                    await device.WriteAsync(offset, data);
                }
                await device.FlushAsync();
            }
        }

        private static async Task WriteFilesAsync(Volume volume, Random random, int round)
        {
            var path = await volume.GetPathAsync(null);
            var data = new byte[random.Next(16, 256) * 1024];
            random.NextBytes(data);
            await File.WriteAllBytesAsync(Path.Combine(path, $"f{round % 7}.bin"), data);
            var big = Path.Combine(path, "big.bin");
            await using (var stream = new FileStream(big, FileMode.OpenOrCreate, FileAccess.Write))
            {
                stream.Position = random.Next(0, 4 << 20);
                var part = new byte[128 * 1024];
                random.NextBytes(part);
                await stream.WriteAsync(part);
            }
        }
    }

    private sealed class ZfsBed : KillBed
    {
        private readonly string _poolA;
        private readonly string _poolB;

        public ZfsBed(string id)
            : base(id)
        {
            BackendRequirement.RequireProgram("zfs");
            _poolA = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_A", "a zfs-fuse pool");
            _poolB = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_B", "a second zfs-fuse pool");
        }

        private string SourceDataset => $"{_poolA}/{Id}";

        private string TargetDataset => $"{_poolB}/{Id}";

        public override string Source => "zfs:" + SourceDataset;

        public override string Target => "zfs:" + TargetDataset;

        public override Task PrepareSourceAsync(Random random)
        {
            Run("zfs", "create", SourceDataset);
            return MutateAsync(random, 0, snapshot: true);
        }

        public override Task DestroyTargetAsync()
        {
            DestroyViews(_poolB, TargetDataset);
            ReleaseHolds(TargetDataset);
            Destroy(TargetDataset);
            return Task.CompletedTask;
        }

        public override string Describe() =>
            string.Join('\n', new[] { _poolA, _poolB }.SelectMany(pool => Lines(Run("zfs", "list", "-H", "-t", "all", "-o", "name,userrefs,mounted", "-r", pool)))
                .Where(n => n.Contains(Id, StringComparison.Ordinal)));

        public override void AssertListingSane(string context, bool creatingTarget)
        {
            foreach (var pool in new[] { _poolA, _poolB })
            {
                var names = Lines(Run("zfs", "list", "-H", "-t", "all", "-o", "name", "-r", pool)).Where(n => n.Contains(Id, StringComparison.Ordinal)).ToArray();
                Assert.That(names.Where(n => n.Contains('%', StringComparison.Ordinal) || !(n.StartsWith($"{pool}/{Id}", StringComparison.Ordinal) || n.Contains("deltasnap-views", StringComparison.Ordinal))),
                    Is.Empty, $"{context}: zfs list -t all -r {pool}");
            }
        }

        protected override void AssertNoLeftovers(string context, string[] snapshots)
        {
            foreach (var (pool, dataset) in new[] { (_poolA, SourceDataset), (_poolB, TargetDataset) })
            {
                var names = Lines(Run("zfs", "list", "-H", "-t", "all", "-o", "name", "-r", pool)).Where(n => n.Contains(Id, StringComparison.Ordinal)).ToArray();
                var expected = new[] { dataset }.Concat(snapshots.Select(s => dataset + "@" + s)).Order(StringComparer.Ordinal);
                Assert.That(names.Order(StringComparer.Ordinal), Is.EqualTo(expected), $"{context}: everything zfs lists of {dataset}");
                Assert.That(ViewsOf(pool, dataset), Is.Empty, $"{context}: snapshot views of {dataset} under {pool}/deltasnap-views");
            }
        }

        public override ValueTask DisposeAsync()
        {
            foreach (var (pool, dataset) in new[] { (_poolA, SourceDataset), (_poolB, TargetDataset) })
            {
                try
                {
                    DestroyViews(pool, dataset);
                    ReleaseHolds(dataset);
                    Destroy(dataset);
                }
                catch (InvalidOperationException)
                {
                    // Already gone (a failed test may not have created it).
                }
            }
            return ValueTask.CompletedTask;
        }

        private static string[] ViewsOf(string pool, string dataset)
        {
            string output;
            try
            {
                output = Run("zfs", "list", "-H", "-o", "name,origin", "-r", pool + "/deltasnap-views");
            }
            catch (InvalidOperationException)
            {
                return [];
            }
            return Lines(output).Select(l => l.Split('\t')).Where(f => f.Length == 2 && f[1].StartsWith(dataset + "@", StringComparison.Ordinal)).Select(f => f[0]).ToArray();
        }

        /// <summary>Releases the driver's holds on the dataset's snapshots (it holds the common base by design).</summary>
        private static void ReleaseHolds(string dataset)
        {
            foreach (var line in Lines(Run("zfs", "list", "-H", "-t", "snapshot", "-o", "name,userrefs", "-r", dataset)))
            {
                var fields = line.Split('\t');
                if (fields.Length == 2 && fields[1] != "0" && fields[1] != "-")
                {
                    Run("zfs", "release", "deltasnap-base", fields[0]);
                }
            }
        }

        /// <summary>
        /// Destroys a dataset the test made (<c>-f</c> unmounts it). zfs-fuse reports "dataset is busy" for a while (seen:
        /// over 10 s) after a SIGKILLed <c>zfs receive</c>, even once a rerun has received into the dataset, so it is
        /// retried for up to a minute.
        /// </summary>
        private static void Destroy(string dataset)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    Run("zfs", "destroy", "-r", "-f", dataset);
                    return;
                }
                catch (InvalidOperationException e) when (attempt < 120 && e.Message.Contains("busy", StringComparison.Ordinal))
                {
                    if (attempt == 1)
                    {
                        TestContext.Out.WriteLine($"zfs destroy {dataset}: busy, retrying (zfs-fuse)");
                    }
                    Thread.Sleep(500);
                }
            }
        }

        private static void DestroyViews(string pool, string dataset)
        {
            foreach (var view in ViewsOf(pool, dataset))
            {
                Run("zfs", "destroy", "-r", view);
            }
        }
    }

    private sealed class BtrfsBed : KillBed
    {
        private readonly string _mountA;
        private readonly string _mountB;

        public BtrfsBed(string id)
            : base(id)
        {
            BackendRequirement.RequireProgram("btrfs");
            _mountA = BackendRequirement.RequireEnvironment("DELTASNAP_BTRFS_MOUNT_A", "a btrfs mount");
            _mountB = BackendRequirement.RequireEnvironment("DELTASNAP_BTRFS_MOUNT_B", "a second btrfs mount");
        }

        public override string Source => $"btrfs:{_mountA}/{Id}";

        public override string Target => $"btrfs:{_mountB}/{Id}";

        public override Task PrepareSourceAsync(Random random)
        {
            Run("btrfs", "-q", "subvolume", "create", $"{_mountA}/{Id}");
            return MutateAsync(random, 0, snapshot: true);
        }

        public override Task DestroyTargetAsync()
        {
            DeleteAll(_mountB);
            return Task.CompletedTask;
        }

        public override string Describe() => string.Join('\n', Subvolumes(_mountA).Concat(Subvolumes(_mountB)));

        public override void AssertListingSane(string context, bool creatingTarget)
        {
            foreach (var mount in new[] { _mountA, _mountB })
            {
                Assert.That(() => Run("btrfs", "subvolume", "list", mount), Throws.Nothing, $"{context}: btrfs subvolume list {mount}");
            }
        }

        protected override void AssertNoLeftovers(string context, string[] snapshots)
        {
            foreach (var mount in new[] { _mountA, _mountB })
            {
                var expected = new[] { Id }.Concat(snapshots.Select(s => $".deltasnap-snapshots/{Id}/{s}")).Order(StringComparer.Ordinal);
                Assert.That(Subvolumes(mount).Order(StringComparer.Ordinal), Is.EqualTo(expected), $"{context}: btrfs subvolume list {mount}");
            }
        }

        public override ValueTask DisposeAsync()
        {
            DeleteAll(_mountA);
            DeleteAll(_mountB);
            return ValueTask.CompletedTask;
        }

        private string[] Subvolumes(string mount) =>
            Lines(Run("btrfs", "subvolume", "list", "-o", mount)).Concat(Lines(Run("btrfs", "subvolume", "list", mount)))
                .Select(l => l[(l.IndexOf(" path ", StringComparison.Ordinal) + 6)..]).Where(p => p.Contains(Id, StringComparison.Ordinal)).Distinct().ToArray();

        private void DeleteAll(string mount)
        {
            foreach (var path in Subvolumes(mount).OrderByDescending(p => p.Length))
            {
                var full = Path.Combine(mount, path);
                try
                {
                    Run("btrfs", "property", "set", "-ts", full, "ro", "false");
                }
                catch (InvalidOperationException)
                {
                    // Not read-only.
                }
                Run("btrfs", "-q", "subvolume", "delete", full);
            }
            var snapshots = Path.Combine(mount, ".deltasnap-snapshots", Id);
            if (Directory.Exists(snapshots))
            {
                Directory.Delete(snapshots, recursive: true);
            }
        }
    }

    private sealed class RbdBed : KillBed
    {
        private readonly string _poolA;
        private readonly string _poolB;

        public RbdBed(string id)
            : base(id)
        {
            BackendRequirement.RequireProgram("rbd");
            BackendRequirement.RequireEnvironment("CEPH_CONF", "a Ceph cluster");
            _poolA = BackendRequirement.RequireEnvironment("DELTASNAP_CEPH_POOL_A", "an RBD pool");
            _poolB = BackendRequirement.RequireEnvironment("DELTASNAP_CEPH_POOL_B", "a second RBD pool");
        }

        public override string Source => $"rbd:{_poolA}/{Id}";

        public override string Target => $"rbd:{_poolB}/{Id}";

        public override Task PrepareSourceAsync(Random random)
        {
            Run("rbd", "create", "--size", (VolumeBytes >> 20).ToString(CultureInfo.InvariantCulture) + "M", $"{_poolA}/{Id}");
            return MutateAsync(random, 0, snapshot: true);
        }

        public override Task DestroyTargetAsync() => RemoveAsync(_poolB);

        public override string Describe() =>
            string.Join('\n', new[] { _poolA, _poolB }.SelectMany(pool => Images(pool).Select(image => $"{pool}/{image}: {Run("rbd", "snap", "ls", "--all", $"{pool}/{image}").Trim()}")));

        public override void AssertListingSane(string context, bool creatingTarget)
        {
            foreach (var pool in new[] { _poolA, _poolB })
            {
                foreach (var image in Images(pool))
                {
                    try
                    {
                        Run("rbd", "snap", "ls", $"{pool}/{image}");
                    }
                    catch (InvalidOperationException e) when (creatingTarget && pool == _poolB && e.Message.Contains("(2) No such file or directory", StringComparison.Ordinal))
                    {
                        // librbd lists a new image before it writes its header: a kill in between leaves one that cannot be
                        // opened (as a killed `rbd create` does). The rerun must remove and create it again.
                        TestContext.Out.WriteLine($"{context}: the target was left half-created by the kill");
                    }
                    catch (InvalidOperationException e)
                    {
                        Assert.Fail($"{context}: rbd snap ls {pool}/{image}: {e.Message}");
                    }
                }
            }
        }

        protected override void AssertNoLeftovers(string context, string[] snapshots)
        {
            foreach (var pool in new[] { _poolA, _poolB })
            {
                Assert.That(Images(pool), Is.EqualTo(new[] { Id }), $"{context}: rbd ls {pool}");
                var snaps = Lines(Run("rbd", "snap", "ls", "--format", "json", $"{pool}/{Id}"));
                using var json = System.Text.Json.JsonDocument.Parse(string.Concat(snaps));
                Assert.That(json.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()), Is.EqualTo(snapshots), $"{context}: rbd snap ls {pool}/{Id}");
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await RemoveAsync(_poolA);
            await RemoveAsync(_poolB);
        }

        private string[] Images(string pool) => Lines(Run("rbd", "ls", pool)).Where(n => n.Contains(Id, StringComparison.Ordinal)).ToArray();

        /// <summary>
        /// Removes the test's images from the pool. A run killed after it opened an image read-write but before it took the
        /// exclusive lock leaves a watch that no rerun had to break; it expires after <c>osd_client_watch_timeout</c> (30 s),
        /// and until then <c>rbd rm</c> refuses ("image still has watchers"), so that is retried for up to a minute.
        /// </summary>
        private async Task RemoveAsync(string pool)
        {
            foreach (var image in Images(pool))
            {
                try
                {
                    Run("rbd", "snap", "purge", $"{pool}/{image}");
                }
                catch (InvalidOperationException)
                {
                    // Protected snapshots or none; rm reports what matters.
                }
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        Run("rbd", "rm", $"{pool}/{image}");
                        break;
                    }
                    catch (InvalidOperationException e) when (attempt < 120 && e.Message.Contains("image still has watchers", StringComparison.Ordinal))
                    {
                        if (attempt == 1)
                        {
                            TestContext.Out.WriteLine($"rbd rm {pool}/{image}: a killed run's watch is left, retrying until it expires");
                        }
                        await Task.Delay(500);
                    }
                }
            }
        }
    }
}
