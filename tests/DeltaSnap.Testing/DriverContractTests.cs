using System.Security.Cryptography;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Testing;

/// <summary>
/// What every driver must do, run against the real backend by each driver's test project: lineage after
/// snapshots, data round trips, first and incremental refresh, live-state refresh, divergent targets,
/// a failure injected mid-transfer, leftovers, hostile names.
/// </summary>
/// <remarks>
/// Subclasses say how to reach the backend: <see cref="CreateSourceDriverAsync"/> and
/// <see cref="CreateTargetDriverAsync"/> (a second pool, mount or store), and <see cref="Kind"/>. A subclass
/// whose backend is missing calls <see cref="BackendRequirement.Require"/> there.
/// </remarks>
[NonParallelizable]
public abstract class DriverContractTests
{
    private readonly List<(VolumeDriver Driver, string Name)> _created = [];

    /// <summary>The driver holding source volumes.</summary>
    protected VolumeDriver SourceDriver { get; private set; } = null!;

    /// <summary>The driver holding target volumes.</summary>
    protected VolumeDriver TargetDriver { get; private set; } = null!;

    /// <summary>Block or file system volumes.</summary>
    protected abstract VolumeKind Kind { get; }

    /// <summary>The size of block volumes the tests create.</summary>
    protected virtual long BlockVolumeSize => 64L << 20;

    /// <summary>Connects to the backend holding source volumes.</summary>
    protected abstract Task<VolumeDriver> CreateSourceDriverAsync();

    /// <summary>Connects to the backend holding target volumes (another pool, mount or store).</summary>
    protected abstract Task<VolumeDriver> CreateTargetDriverAsync();

    [OneTimeSetUp]
    public async Task ConnectAsync()
    {
        SourceDriver = await CreateSourceDriverAsync();
        TargetDriver = await CreateTargetDriverAsync();
    }

    [TearDown]
    public async Task DeleteVolumesAsync()
    {
        foreach (var (driver, name) in _created)
        {
            try
            {
                await driver.DeleteVolumeAsync(name);
            }
            catch (Exception e) when (e is DeltaSnapException or IOException or InvalidOperationException)
            {
                TestContext.Out.WriteLine($"Could not delete {name}: {e.Message}");
            }
        }
        _created.Clear();
    }

    [OneTimeTearDown]
    public async Task DisconnectAsync()
    {
        if (SourceDriver is not null)
        {
            await SourceDriver.DisposeAsync();
        }
        if (TargetDriver is not null && !ReferenceEquals(TargetDriver, SourceDriver))
        {
            await TargetDriver.DisposeAsync();
        }
    }

    [Test]
    public async Task Lineage_afterSnapshots_listsThemOldestFirstWithDistinctIdentities()
    {
        var volume = await CreateVolumeAsync(SourceDriver);
        var before = DateTimeOffset.UtcNow.AddSeconds(-2);
        await WriteAsync(volume, seed: 1, amount: 4);
        await volume.CreateSnapshotAsync("first");
        await WriteAsync(volume, seed: 2, amount: 4);
        await volume.CreateSnapshotAsync("second");
        var lineage = await volume.GetLineageAsync();
        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "first", "second" }));
        Assert.That(lineage[0].Identity, Is.Not.EqualTo(lineage[1].Identity));
        Assert.That(lineage.All(s => !s.Identity.IsEmpty && s.CreatedUtc >= before && s.CreatedUtc <= DateTimeOffset.UtcNow.AddSeconds(2)), Is.True,
            string.Join("; ", lineage));
        await volume.DeleteSnapshotAsync("first");
        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "second" }));
    }

    [Test]
    public async Task RoundTrip_snapshotKeepsItsContentWhileLiveChanges()
    {
        var volume = await CreateVolumeAsync(SourceDriver);
        await WriteAsync(volume, seed: 3, amount: 8);
        var atSnapshot = await DigestAsync(volume, null);
        await volume.CreateSnapshotAsync("kept");
        await WriteAsync(volume, seed: 4, amount: 8);
        Assert.That(await DigestAsync(volume, null), Is.Not.EqualTo(atSnapshot), "the live state changed");
        Assert.That(await DigestAsync(volume, "kept"), Is.EqualTo(atSnapshot), "the snapshot did not");
        await volume.RollbackAsync("kept");
        Assert.That(await DigestAsync(volume, null), Is.EqualTo(atSnapshot), "rollback restores it");
    }

    [Test]
    public async Task Refresh_emptyTarget_copiesEverySnapshotAndTheLiveState()
    {
        var (source, target) = await PairAsync();
        await WriteAsync(source, seed: 5, amount: 16);
        await source.CreateSnapshotAsync("s1");
        await WriteAsync(source, seed: 6, amount: 2);
        await source.CreateSnapshotAsync("s2");
        await WriteAsync(source, seed: 7, amount: 1);

        var result = await new Replicator().RefreshAsync(source, target);

        Assert.That(result.Kind, Is.EqualTo(RefreshKind.Full));
        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(result.LiveStateSent, Is.True);
        await AssertReplicaAsync(source, target, "s1", "s2");
    }

    [Test]
    public async Task Refresh_incremental_movesBytesProportionalToTheChange()
    {
        var (source, target) = await PairAsync();
        await WriteAsync(source, seed: 8, amount: 16);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator();
        var first = await replicator.RefreshAsync(source, target);

        await WriteAsync(source, seed: 9, amount: 1);
        await source.CreateSnapshotAsync("s2");
        var second = await replicator.RefreshAsync(source, target);

        Assert.That(second.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(second.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That(second.BytesSent, Is.GreaterThan(0));
        Assert.That(second.BytesSent, Is.LessThan(first.BytesSent / 4),
            $"the incremental moved {second.BytesSent} bytes, the first refresh {first.BytesSent}");
        await AssertReplicaAsync(source, target, "s1", "s2");
    }

    [Test]
    public async Task Refresh_liveStateOnly_targetMatchesAndNoTemporaryIsLeft()
    {
        var (source, target) = await PairAsync();
        await WriteAsync(source, seed: 10, amount: 8);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator();
        await replicator.RefreshAsync(source, target);
        await WriteAsync(source, seed: 11, amount: 2);

        var result = await replicator.RefreshAsync(source, target);

        Assert.That(result.SnapshotsSent, Is.Empty);
        Assert.That(result.LiveStateSent, Is.True);
        await AssertReplicaAsync(source, target, "s1");
    }

    [Test]
    public async Task Refresh_unrelatedTarget_refusedThenForced()
    {
        var (source, target) = await PairAsync();
        await WriteAsync(source, seed: 12, amount: 4);
        await source.CreateSnapshotAsync("s1");
        await WriteAsync(target, seed: 13, amount: 4);
        await target.CreateSnapshotAsync("mine");
        var targetBefore = await DigestAsync(target, null);

        Assert.That(async () => await new Replicator().RefreshAsync(source, target), Throws.TypeOf<NoCommonBaseException>());
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "mine" }), "nothing deleted");
        Assert.That(await DigestAsync(target, null), Is.EqualTo(targetBefore), "nothing written");

        var options = new RefreshOptions { Plan = new RefreshPlanOptions { AllowFullResend = true } };
        var result = await new Replicator().RefreshAsync(source, target, options);
        Assert.That(result.Kind, Is.EqualTo(RefreshKind.Full));
        await AssertReplicaAsync(source, target, "s1");
    }

    [Test]
    public async Task Refresh_targetOnlySnapshotAfterBase_isDeletedAndTargetMatches()
    {
        var (source, target) = await PairAsync();
        await WriteAsync(source, seed: 14, amount: 4);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator();
        await replicator.RefreshAsync(source, target);
        await WriteAsync(target, seed: 15, amount: 2);
        await target.CreateSnapshotAsync("diverged");
        await WriteAsync(source, seed: 16, amount: 2);
        await source.CreateSnapshotAsync("s2");

        await replicator.RefreshAsync(source, target);

        await AssertReplicaAsync(source, target, "s1", "s2");
    }

    [Test]
    public async Task Refresh_targetLiveStateWrittenSinceBase_isReplacedBySnapshot()
    {
        var (source, target) = await PairAsync();
        await WriteAsync(source, seed: 30, amount: 4);
        await source.CreateSnapshotAsync("s1");
        var snapshotsOnly = new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } };
        var replicator = new Replicator();
        await replicator.RefreshAsync(source, target, snapshotsOnly);
        await WriteAsync(target, seed: 31, amount: 2); // written on the target, never snapshotted
        await WriteAsync(source, seed: 32, amount: 2);
        await source.CreateSnapshotAsync("s2");

        var result = await replicator.RefreshAsync(source, target, snapshotsOnly);

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(await DigestAsync(target, null), Is.EqualTo(await DigestAsync(source, "s2")), "the target's own writes are gone");
        Assert.That(await DigestAsync(target, "s2"), Is.EqualTo(await DigestAsync(source, "s2")));
    }

    [Test]
    public async Task Refresh_failureMidTransfer_targetStaysAtItsSnapshotAndRerunCompletes()
    {
        var (source, realTarget) = await PairAsync();
        await WriteAsync(source, seed: 17, amount: 8);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator();
        await replicator.RefreshAsync(source, realTarget);
        var s1OnTarget = await DigestAsync(realTarget, "s1");
        await WriteAsync(source, seed: 18, amount: 8);
        await source.CreateSnapshotAsync("s2");

        var target = new FaultInjectingVolume(realTarget) { FailReceiveAfterBytes = 64 * 1024, FailDeviceAfterWrites = 3 };
        Assert.That(async () => await replicator.RefreshAsync(source, target), Throws.Exception);

        var lineage = await realTarget.GetLineageAsync();
        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "s1" }), "no half-received or temporary snapshot is left");
        Assert.That(await DigestAsync(realTarget, "s1"), Is.EqualTo(s1OnTarget), "the complete snapshot is untouched");
        Assert.That(await DigestAsync(realTarget, null), Is.EqualTo(s1OnTarget), "the live state is back at the snapshot");
        Assert.That((await source.GetLineageAsync()).Where(s => s.IsTemporary), Is.Empty, "no temporary snapshot on the source");

        await replicator.RefreshAsync(source, realTarget);
        await AssertReplicaAsync(source, realTarget, "s1", "s2");
    }

    [Test]
    public async Task NativeStream_declaredReproducible_isTheSameBytesEverySend()
    {
        if (!SourceDriver.Has(DriverCapabilities.NativeStream))
        {
            // RBD without its native stream (the checksum route): nothing may claim its native streams resume.
            Assert.That(SourceDriver.Has(DriverCapabilities.ReproducibleNativeStream), Is.False,
                "a driver without a native stream declares reproducible native streams");
            return;
        }
        Assert.That(SourceDriver.Has(DriverCapabilities.ReproducibleNativeStream), Is.True,
            "every backend's native stream is reproducible, so a cut native refresh resumes (lvol, ZFS, Btrfs, RBD)");
        var (source, _) = await PairAsync();
        await WriteAsync(source, seed: 30, amount: 16);
        await source.CreateSnapshotAsync("s1");
        await WriteAsync(source, seed: 31, amount: 2);
        await source.CreateSnapshotAsync("s2");
        await WriteAsync(source, seed: 32, amount: 1); // the live state moves on: the snapshots' streams must not

        foreach (var (from, to) in new (string?, string)[] { (null, "s1"), ("s1", "s2") })
        {
            var first = await SendAsync(source, from, to);
            var second = await SendAsync(source, from, to);
            Assert.That(first.Length, Is.GreaterThan(0));
            Assert.That(second, Is.EqualTo(first), $"the stream {from ?? "(full)"} -> {to} is the same bytes when sent again");
        }
    }

    [Test]
    public async Task Refresh_cutWithACheckpointDirectory_rerunSendsOnlyWhatWasNotSpooled()
    {
        if (!SourceDriver.Has(DriverCapabilities.NativeStream | DriverCapabilities.ReproducibleNativeStream)
            || !TargetDriver.Has(DriverCapabilities.NativeStream) || SourceDriver.NativePayloadKind != TargetDriver.NativePayloadKind)
        {
            await AssertCheckpointedRefreshSpoolsNothingAsync();
            return;
        }
        var (source, target) = await PairAsync();
        await WriteAsync(source, seed: 33, amount: 128);
        await source.CreateSnapshotAsync("s1");
        var checkpoints = Path.Combine(Path.GetTempPath(), "deltasnap-contract-resume-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var options = new RefreshOptions { CheckpointDirectory = checkpoints, CheckpointInterval = TimeSpan.FromMilliseconds(20) };
            var replicator = new Replicator();
            var spool = RefreshCheckpoint.SpoolPathOf(checkpoints, target.Address);
            using (var cut = new CancellationTokenSource())
            {
                var watching = Task.Run(async () =>
                {
                    while (!cut.IsCancellationRequested)
                    {
                        if (File.Exists(spool) && new FileInfo(spool).Length >= 4 << 20)
                        {
                            await cut.CancelAsync();
                            return;
                        }
                        await Task.Delay(1, CancellationToken.None);
                    }
                }, CancellationToken.None);
                Assert.That(async () => await replicator.RefreshAsync(source, target, options, cancellationToken: cut.Token),
                    Throws.InstanceOf<OperationCanceledException>(), "the refresh was cut once 4 MiB were spooled");
                await cut.CancelAsync();
                await watching;
            }
            var checkpoint = await RefreshCheckpoint.LoadAsync(checkpoints, target.Address, CancellationToken.None);
            Assert.That(checkpoint, Is.Not.Null, "the cut refresh kept its checkpoint");
            Assert.That(checkpoint!.SpoolBytes, Is.GreaterThan(0));
            Assert.That((await target.GetLineageAsync()).Count, Is.Zero, "nothing reached the target before the stream was complete");

            var rerun = await replicator.RefreshAsync(source, target, options);

            Assert.That(rerun.Resumed, Is.True, "the rerun continued the spooled stream");
            Assert.That(rerun.BytesSent, Is.LessThan(rerun.BytesWritten), $"the rerun sent {rerun.BytesSent} of a {rerun.BytesWritten}-byte stream");
            await AssertReplicaAsync(source, target, "s1");
            Assert.That(Directory.GetFiles(checkpoints), Is.Empty, "no checkpoint or spool left");
        }
        finally
        {
            if (Directory.Exists(checkpoints))
            {
                Directory.Delete(checkpoints, recursive: true);
            }
        }
    }

    /// <summary>Without a resumable native route, a refresh with a checkpoint directory never spools a stream, converges, and leaves no file behind.</summary>
    private async Task AssertCheckpointedRefreshSpoolsNothingAsync()
    {
        var (source, target) = await PairAsync();
        await WriteAsync(source, seed: 34, amount: 16);
        await source.CreateSnapshotAsync("s1");
        var checkpoints = Path.Combine(Path.GetTempPath(), "deltasnap-contract-resume-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var spool = RefreshCheckpoint.SpoolPathOf(checkpoints, target.Address);
            var spooled = false;
            using var done = new CancellationTokenSource();
            var watching = Task.Run(async () =>
            {
                while (!done.IsCancellationRequested)
                {
                    spooled |= File.Exists(spool);
                    await Task.Delay(1, CancellationToken.None);
                }
            }, CancellationToken.None);
            await new Replicator().RefreshAsync(source, target, new RefreshOptions { CheckpointDirectory = checkpoints });
            await done.CancelAsync();
            await watching;

            Assert.That(spooled, Is.False, "no native stream was spooled");
            await AssertReplicaAsync(source, target, "s1");
            Assert.That(Directory.Exists(checkpoints) ? Directory.GetFiles(checkpoints) : [], Is.Empty, "no checkpoint or spool left");
        }
        finally
        {
            if (Directory.Exists(checkpoints))
            {
                Directory.Delete(checkpoints, recursive: true);
            }
        }
    }

    private static async Task<byte[]> SendAsync(Volume volume, string? from, string to)
    {
        using var stream = new MemoryStream();
        await volume.SendAsync(from, to, stream);
        return stream.ToArray();
    }

    [Test]
    public async Task Refresh_leftoverTemporarySnapshots_areRemoved()
    {
        var (source, target) = await PairAsync();
        await WriteAsync(source, seed: 19, amount: 4);
        await source.CreateSnapshotAsync("s1");
        await new Replicator().RefreshAsync(source, target);
        var leftover = TemporarySnapshot.NewName();
        await source.CreateSnapshotAsync(leftover);
        await target.CreateSnapshotAsync(TemporarySnapshot.NewName());

        await new Replicator().RefreshAsync(source, target);

        Assert.That((await source.GetLineageAsync()).Any(s => s.IsTemporary), Is.False);
        Assert.That((await target.GetLineageAsync()).Any(s => s.IsTemporary), Is.False);
        await AssertReplicaAsync(source, target, "s1");
    }

    [TestCase("-rf")]
    [TestCase("--help")]
    [TestCase("..")]
    [TestCase("a;reboot")]
    [TestCase("a\nb")]
    [TestCase("a@b")]
    [TestCase("a#b")]
    [TestCase("a/../../etc")]
    [TestCase("")]
    public async Task HostileNames_areRejectedBeforeAnyCommandRuns(string name)
    {
        var volume = await CreateVolumeAsync(SourceDriver);
        var before = await volume.GetLineageAsync();
        Assert.That(async () => await volume.CreateSnapshotAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(async () => await volume.DeleteSnapshotAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(async () => await volume.RollbackAsync(name), Throws.InstanceOf<ArgumentException>());
        if (name.Length > 0 && name[0] != '-' && !name.Contains('/', StringComparison.Ordinal) && name != "..")
        {
            // Volume names may hold '/', so only the names no backend accepts as a volume are tried there.
            Assert.That(async () => await SourceDriver.OpenVolumeAsync(name), Throws.InstanceOf<ArgumentException>().Or.InstanceOf<VolumeNotFoundException>());
        }
        else
        {
            Assert.That(async () => await SourceDriver.CreateVolumeAsync(name, Options()), Throws.InstanceOf<ArgumentException>());
        }
        Assert.That((await volume.GetLineageAsync()).Count, Is.EqualTo(before.Count));
    }

    [Test]
    public async Task HostileNames_longName_isRejected()
    {
        var volume = await CreateVolumeAsync(SourceDriver);
        Assert.That(async () => await volume.CreateSnapshotAsync(new string('a', 1000)), Throws.InstanceOf<ArgumentException>());
    }

    /// <summary>Options for a new volume of this fixture's kind.</summary>
    protected VolumeCreateOptions Options() => new() { Kind = Kind, Size = Kind == VolumeKind.Block ? BlockVolumeSize : 0 };

    /// <summary>A fresh volume name.</summary>
    protected virtual string NewVolumeName() => "ct" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Creates a volume that is deleted after the test.</summary>
    protected async Task<Volume> CreateVolumeAsync(VolumeDriver driver)
    {
        var name = NewVolumeName();
        var volume = await driver.CreateVolumeAsync(name, Options());
        _created.Add((driver, name));
        return volume;
    }

    /// <summary>A new source volume and a new, empty target volume.</summary>
    protected async Task<(Volume Source, Volume Target)> PairAsync() =>
        (await CreateVolumeAsync(SourceDriver), await CreateVolumeAsync(TargetDriver));

    /// <summary>
    /// Writes <paramref name="amount"/> units of seeded random data into the live volume: 256 KiB blocks at
    /// random offsets of a block volume, or 256 KiB files (some new, some rewritten in part) in a file system volume.
    /// </summary>
    protected virtual async Task WriteAsync(Volume volume, int seed, int amount)
    {
        var random = new Random(seed);
        const int Unit = 256 * 1024;
        if (volume.Kind == VolumeKind.Block)
        {
            var device = await volume.OpenDeviceAsync(null, writable: true);
            await using (device)
            {
                var data = new byte[Unit];
                for (var i = 0; i < amount; i++)
                {
                    random.NextBytes(data);
                    var offset = random.NextInt64(0, device.Length / 4096 - Unit / 4096) * 4096;
                    await device.WriteAsync(offset, data);
                }
                await device.FlushAsync();
            }
        }
        else
        {
            var root = await volume.GetPathAsync(null);
            var dir = Path.Combine(root, "data", $"d{seed % 3}");
            Directory.CreateDirectory(dir);
            var data = new byte[Unit];
            for (var i = 0; i < amount; i++)
            {
                random.NextBytes(data);
                await File.WriteAllBytesAsync(Path.Combine(dir, $"f{seed}-{i}.bin"), data);
            }
            var existing = Directory.GetFiles(Path.Combine(root, "data"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
            if (existing.Length > 0)
            {
                // Rewrite 4 KiB in the middle of one existing file: a small change.
                var victim = existing[random.Next(existing.Length)];
                await using var stream = new FileStream(victim, FileMode.Open, FileAccess.Write);
                stream.Position = Math.Min(stream.Length, 4096);
                await stream.WriteAsync(data.AsMemory(0, 4096));
            }
        }
    }

    /// <summary>A digest of the live volume's or a snapshot's content: all bytes of a block device, or every file's path and bytes.</summary>
    protected virtual async Task<string> DigestAsync(Volume volume, string? snapshot)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (volume.Kind == VolumeKind.Block)
        {
            var device = await volume.OpenDeviceAsync(snapshot);
            await using (device)
            {
                var buffer = new byte[1 << 20];
                for (long offset = 0; offset < device.Length; offset += buffer.Length)
                {
                    var n = (int)Math.Min(buffer.Length, device.Length - offset);
                    await device.ReadAsync(offset, buffer.AsMemory(0, n));
                    hash.AppendData(buffer, 0, n);
                }
            }
        }
        else
        {
            var root = await volume.GetPathAsync(snapshot);
            foreach (var file in Directory.GetFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal))
            {
                hash.AppendData(System.Text.Encoding.UTF8.GetBytes(file + "\0"));
                hash.AppendData(await File.ReadAllBytesAsync(Path.Combine(root, file)));
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Asserts the target holds the named snapshots matching the source's by identity and content, its live state equals the source's, and no temporary snapshot is left.</summary>
    protected async Task AssertReplicaAsync(Volume source, Volume target, params string[] snapshots)
    {
        var sourceLineage = await source.GetLineageAsync();
        var targetLineage = await target.GetLineageAsync();
        Assert.That(targetLineage.Select(s => s.Name), Is.EqualTo(snapshots), "target snapshots");
        Assert.That(sourceLineage.Any(s => s.IsTemporary), Is.False, "temporary snapshot left on the source");
        foreach (var name in snapshots)
        {
            var s = sourceLineage.Find(name)!;
            var t = targetLineage.Find(name)!;
            Assert.That(t.IsSameAs(s), Is.True, $"target {t} is not recognised as source {s}");
            Assert.That(t.CreatedUtc, Is.EqualTo(s.CreatedUtc).Within(TimeSpan.FromSeconds(1)).Or.GreaterThan(s.CreatedUtc), $"creation time of {name}");
            Assert.That(await DigestAsync(target, name), Is.EqualTo(await DigestAsync(source, name)), $"content of {name}");
        }
        Assert.That(await DigestAsync(target, null), Is.EqualTo(await DigestAsync(source, null)), "live content");
    }
}
