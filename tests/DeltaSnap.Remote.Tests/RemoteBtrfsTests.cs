using DeltaSnap.Btrfs;
using DeltaSnap.Drivers;
using DeltaSnap.Replication;
using DeltaSnap.Lineage;
using DeltaSnap.Testing;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Remote.Tests;

/// <summary>
/// A Btrfs target across a session: the repair of a killed promotion, the refresh lock held where the volume is, and a
/// spooled Btrfs refresh cut half-way and rerun across a session, either way: the source on the server (a pull: the
/// source volume is a proxy whose <see cref="Volume.SendAfterPrefixAsync"/> asks the server to hash the prefix there) or the
/// target on the server (a push: the spool is on this side and the receive reads it across the session); and a hostile
/// stream pushed to a server's Btrfs volume.
/// </summary>
public sealed class RemoteBtrfsTests
{
    private const long MiB = 1 << 20;

    private readonly List<string> _roots = [];
    private TempDirectory _checkpoints = null!;

    [SetUp]
    public void CreateCheckpointDirectory() => _checkpoints = new TempDirectory();

    [TearDown]
    public void RemoveRoots()
    {
        foreach (var root in _roots)
        {
            foreach (var directory in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length))
            {
                if (BackendRequirement.Run("stat", "-c", "%i", directory).Trim() == "256")
                {
                    BackendRequirement.Run("btrfs", "-q", "subvolume", "delete", directory);
                }
            }
            Directory.Delete(root, recursive: true);
        }
        _roots.Clear();
        _checkpoints.Dispose();
    }

    [TestCase(true, TestName = "Refresh_remoteSourceCutHalfWay_rerunResumesAndTargetEqualsSource")]
    [TestCase(false, TestName = "Refresh_remoteTargetCutHalfWay_rerunResumesAndTargetEqualsSource")]
    public async Task Refresh_cutHalfWayAcrossASession_rerunResumes(bool sourceIsRemote)
    {
        var rootA = NewRoot("DELTASNAP_BTRFS_MOUNT_A");
        var rootB = NewRoot("DELTASNAP_BTRFS_MOUNT_B");
        await using var localA = new BtrfsDriver(rootA);
        await using var localB = new BtrfsDriver(rootB);
        var data = (BtrfsVolume)await localA.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        var random = new Random(5);
        var bytes = new byte[48 * MiB];
        random.NextBytes(bytes);
        await File.WriteAllBytesAsync(Path.Combine(data.LivePath, "big.bin"), bytes);
        await data.CreateSnapshotAsync("s1");
        await localB.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });

        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddBtrfs());
        await using var remote = await loop.Session.OpenDriverAsync("btrfs", sourceIsRemote ? rootA : rootB);
        var source = sourceIsRemote ? await remote.OpenVolumeAsync("vm1") : data;
        var target = sourceIsRemote ? await localB.OpenVolumeAsync("vm1") : await remote.OpenVolumeAsync("vm1");
        var options = new RefreshOptions { CheckpointDirectory = _checkpoints.Path, CheckpointInterval = TimeSpan.FromMilliseconds(200) };
        var replicator = new Replicator();

        var spooled = await SpooledCut.RefreshCutAtAsync(replicator, source, target, options, 16 * MiB);

        var wireBefore = loop.Session.WireBytesReceived + loop.Session.WireBytesSent;
        var rerun = await replicator.RefreshAsync(source, target, options);
        var wire = loop.Session.WireBytesReceived + loop.Session.WireBytesSent - wireBefore;

        Assert.That(rerun.Resumed, Is.True);
        Assert.That(rerun.BytesSent, Is.EqualTo(rerun.BytesWritten - spooled));
        if (sourceIsRemote)
        {
            // A pull's server skips the prefix where the source is: only the rest crosses the session. (A push's spool is
            // here and its receive reads all of it across the session, so it moves the whole stream either way.)
            Assert.That(wire, Is.LessThan(rerun.BytesWritten - spooled / 2), $"{spooled} of {rerun.BytesWritten} bytes spooled; {wire} on the wire");
        }
        Assert.That(TreeDigest.Describe(Path.Combine(rootB, "vm1")), Is.EqualTo(TreeDigest.Describe(data.LivePath)));
        Assert.That(Directory.GetFiles(_checkpoints.Path), Is.Empty);
    }

    [TestCase(true, TestName = "Refresh_remoteTargetAfterAPromotionKilledBetweenItsRenames_serverPutsTheLiveStateBack")]
    [TestCase(false, TestName = "Refresh_remoteTargetOfAnOlderServer_isNeverAskedToRemoveLeftovers")]
    public async Task Refresh_remoteTargetAfterAKilledPromotion(bool serverKnowsLeftovers)
    {
        var rootA = NewRoot("DELTASNAP_BTRFS_MOUNT_A");
        var rootB = NewRoot("DELTASNAP_BTRFS_MOUNT_B");
        await using var localA = new BtrfsDriver(rootA);
        var data = (BtrfsVolume)await localA.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        await File.WriteAllTextAsync(Path.Combine(data.LivePath, "a.txt"), "one");
        await data.CreateSnapshotAsync("s1");
        await using (var localB = new BtrfsDriver(rootB))
        {
            await localB.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        }
        using var serverLogs = new CapturingLoggerFactory();
        // An older server: one that announces none of the features after send-after-prefix.
        var serverOptions = serverKnowsLeftovers ? null : new VolumeServerOptions { AnnouncedFeatures = ["lz4", "zstd", "credit", "digests", ClientSession.SendAfterPrefixFeature] };
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddBtrfs(), serverOptions, loggerFactory: serverLogs);
        await using var remote = await loop.Session.OpenDriverAsync("btrfs", rootB);
        var target = await remote.OpenVolumeAsync("vm1");
        var replicator = new Replicator();
        await replicator.RefreshAsync(data, target);
        if (serverKnowsLeftovers)
        {
            // What a kill inside the server's promotion leaves: the live subvolume moved aside, the new one still staged.
            Directory.Move(Path.Combine(rootB, "vm1"), Path.Combine(rootB, ".deltasnap-replaced.0123456789ab.vm1"));
            BackendRequirement.Run("btrfs", "-q", "subvolume", "snapshot", Path.Combine(rootB, ".deltasnap-snapshots", "vm1", "s1"), Path.Combine(rootB, ".deltasnap-staging.0123456789ab.vm1"));
        }

        var rerun = await replicator.RefreshAsync(data, target);

        Assert.That(rerun.SnapshotsSent, Is.Empty);
        Assert.That(TreeDigest.Describe(Path.Combine(rootB, "vm1")), Is.EqualTo(TreeDigest.Describe(data.LivePath)));
        Assert.That(Directory.GetDirectories(rootB).Select(Path.GetFileName).Where(n => n!.StartsWith(".deltasnap-staging.", StringComparison.Ordinal) || n.StartsWith(".deltasnap-replaced.", StringComparison.Ordinal)), Is.Empty);
        // One request of each per refresh, and only to a server that announced the features (an older one's target is
        // locked on this machine, by its remote address).
        foreach (var op in new[] { "volume.removeLeftovers", "volume.lockForRefresh" })
        {
            var asked = serverLogs.Entries.Count(e => e.Message.Contains(op, StringComparison.Ordinal));
            Assert.That(asked, serverKnowsLeftovers ? Is.EqualTo(2) : Is.Zero, op);
        }
    }

    [Test]
    public async Task Refresh_remoteTargetAnotherSessionLocked_isRefusedThereAndByTheServersOwnRefreshesUntilLetGo()
    {
        var rootA = NewRoot("DELTASNAP_BTRFS_MOUNT_A");
        var rootB = NewRoot("DELTASNAP_BTRFS_MOUNT_B");
        await using var localA = new BtrfsDriver(rootA);
        await using var localB = new BtrfsDriver(rootB);
        var data = (BtrfsVolume)await localA.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        await File.WriteAllTextAsync(Path.Combine(data.LivePath, "a.txt"), "one");
        await data.CreateSnapshotAsync("s1");
        var onServer = await localB.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        await using var first = await Loopback.StartAsync(new VolumeResolver().AddBtrfs());
        await using var second = await Loopback.StartAsync(new VolumeResolver().AddBtrfs());
        await using var viaFirst = await first.Session.OpenDriverAsync("btrfs", rootB);
        await using var viaSecond = await second.Session.OpenDriverAsync("btrfs", rootB);
        var target = await viaSecond.OpenVolumeAsync("vm1");
        var replicator = new Replicator();

        var held = await (await viaFirst.OpenVolumeAsync("vm1")).LockForRefreshAsync();
        var e = Assert.ThrowsAsync<RefreshInProgressException>(() => replicator.RefreshAsync(data, target));
        Assert.ThrowsAsync<RefreshInProgressException>(() => replicator.RefreshAsync(data, onServer), "the server's machine's own refresh of it");
        Assert.That(e!.Message, Does.Contain("Another refresh of btrfs:"));
        Assert.That(await onServer.GetLineageAsync(), Is.Empty, "refused before anything was sent");
        await held.DisposeAsync();

        var result = await replicator.RefreshAsync(data, target);

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        Assert.That(TreeDigest.Describe(Path.Combine(rootB, "vm1")), Is.EqualTo(TreeDigest.Describe(data.LivePath)));
    }

    [Test]
    public async Task Refresh_remoteTargetLockedBySessionThatEnded_runs()
    {
        var rootA = NewRoot("DELTASNAP_BTRFS_MOUNT_A");
        var rootB = NewRoot("DELTASNAP_BTRFS_MOUNT_B");
        await using var localA = new BtrfsDriver(rootA);
        var data = await localA.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        await data.CreateSnapshotAsync("s1");
        await using (var localB = new BtrfsDriver(rootB))
        {
            await localB.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        }
        await using (var ending = await Loopback.StartAsync(new VolumeResolver().AddBtrfs()))
        {
            await using var driver = await ending.Session.OpenDriverAsync("btrfs", rootB);
            await (await driver.OpenVolumeAsync("vm1")).LockForRefreshAsync(); // never released: the session's end lets go
        }
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddBtrfs());
        await using var remote = await loop.Session.OpenDriverAsync("btrfs", rootB);

        var result = await new Replicator().RefreshAsync(data, await remote.OpenVolumeAsync("vm1"));

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task Receive_pushedStreamWritingOutsideItsSubvolume_isRefusedByTheServerAndWritesNothingThere()
    {
        BackendRequirement.Require(DeltaSnap.ExternalCommands.Landlock.IsAvailable, "Linux Landlock (kernel 5.13 or later)");
        var rootA = NewRoot("DELTASNAP_BTRFS_MOUNT_A");
        var rootB = NewRoot("DELTASNAP_BTRFS_MOUNT_B");
        await using var localA = new BtrfsDriver(rootA);
        var data = await localA.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        var s1 = await data.CreateSnapshotAsync("s1");
        using var genuine = new MemoryStream();
        await data.SendAsync(null, "s1", genuine);
        // Authorised to write the volume vm1 on the server, the peer names a file beside the server's driver root.
        var escaped = Path.Combine(rootB, "escaped");
        var hostile = HostileBtrfsStreams.After(genuine.ToArray(), HostileBtrfsStreams.WriteFile("../../../escaped", 257));

        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddBtrfs());
        await using var remote = await loop.Session.OpenDriverAsync("btrfs", rootB);
        var target = await remote.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });

        var error = Assert.ThrowsAsync<BackendCommandException>(() => target.ReceiveAsync(new MemoryStream(hostile), new NativeReceiveRequest { Snapshot = s1 }));

        Assert.That(error!.Message, Does.Contain("Permission denied"));
        Assert.That(File.Exists(escaped), Is.False);
        Assert.That(await target.GetLineageAsync(), Is.Empty, "the half-received subvolume was removed");
        var replicator = new Replicator();
        await replicator.RefreshAsync(data, target);
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }), "the session and the volume still work");
    }

    private string NewRoot(string variable)
    {
        var root = Path.Combine(BackendRequirement.RequireEnvironment(variable, "A loop-mounted Btrfs file system"), "r-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        _roots.Add(root);
        return root;
    }
}
