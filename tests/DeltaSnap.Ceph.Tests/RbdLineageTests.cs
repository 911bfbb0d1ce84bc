using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Ceph.Tests;

public class RbdLineageTests
{
    [Test]
    public async Task GetLineage_snapshots_inCreationOrderWithTimesSizesAndStableIdentities()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 4 << 20);
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var b = await volume.CreateSnapshotAsync("b");
        await volume.ResizeAsync(8 << 20);
        var a = await volume.CreateSnapshotAsync("a");
        var lineage = await volume.GetLineageAsync();
        var again = await volume.GetLineageAsync();
        Assert.Multiple(() =>
        {
            Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "b", "a" }));
            Assert.That(lineage[0].Size, Is.EqualTo(4 << 20));
            Assert.That(lineage[1].Size, Is.EqualTo(8 << 20));
            Assert.That(lineage[0].CreatedUtc, Is.InRange(SnapshotInfo.TruncateToSeconds(before), DateTimeOffset.UtcNow));
            Assert.That(lineage[0].Identity, Is.EqualTo(b.Identity));
            Assert.That(lineage[1].Identity, Is.EqualTo(a.Identity));
            Assert.That(again[0].Identity, Is.EqualTo(lineage[0].Identity));
            Assert.That(lineage[0].Identity, Is.Not.EqualTo(lineage[1].Identity));
            Assert.That(lineage[0].Identity.Kind, Is.EqualTo("rbd"));
            Assert.That(lineage[0].ReceivedFrom, Is.Null);
        });
    }

    [Test]
    public async Task Lineage_snapshotInTheTrashNamespace_isLeftOutAndRefreshesGoOn()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 4 << 20, "src");
        var target = await scope.CreateAsync(CephCluster.PoolB, 4 << 20, "dst");
        await source.CreateSnapshotAsync("s1");
        await source.CreateSnapshotAsync("s2");
        var spec = $"{source.Pool}/{source.ImageName}";
        // librbd moves a snapshot it removes into the trash namespace, under a UUID name, first; there it stays while a
        // clone uses it (here), or when the process removing it was killed (what a kill campaign met: the next refresh
        // took the UUID for the newest snapshot and failed on it ever after).
        var clone = $"{CephCluster.PoolA}/{CephCluster.UniqueName("clone")}";
        await CephCluster.RbdAsync(["clone", "--rbd-default-clone-format", "2", spec + "@s2", clone]);
        try
        {
            await CephCluster.RbdAsync(["snap", "rm", "--no-progress", spec + "@s2"]);
            var all = System.Text.Encoding.UTF8.GetString(await CephCluster.RbdAsync(["snap", "ls", "--all", spec]));
            Assert.That(all, Does.Contain("trash (s2)"), "the set-up left s2 in the trash");

            var lineage = await source.GetLineageAsync();
            var result = await new Replicator().RefreshAsync(source, target);
            var again = await new Replicator().RefreshAsync(source, target);

            Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
            Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
            Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
            Assert.That(again.SnapshotsSent, Is.Empty);
            Assert.That(await CephCluster.ExportAsync($"{target.Pool}/{target.ImageName}"), Is.EqualTo(await CephCluster.ExportAsync(spec)));
            // The refresh deleted its temporary snapshot, and with it tried the trash: s2 stays, a clone uses it.
            Assert.That(System.Text.Encoding.UTF8.GetString(await CephCluster.RbdAsync(["snap", "ls", "--all", spec])), Does.Contain("trash (s2)"));
        }
        finally
        {
            await CephCluster.RbdAsync(["rm", "--no-progress", clone]);
        }
    }

    [Test]
    public async Task CreateSnapshot_receivedFrom_recordsSourceIdentityAndTimeReadBack()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 4 << 20, "src");
        var target = await scope.CreateAsync(CephCluster.PoolB, 4 << 20, "dst");
        var s1 = await source.CreateSnapshotAsync("s1");
        var sourceTime = s1.CreatedUtc.AddDays(-3); // a copy made long after the source snapshot
        var created = await target.CreateSnapshotAsync("s1", new SnapshotCreateOptions { ReceivedFrom = s1.Identity, CreatedUtc = sourceTime });
        var t1 = (await target.GetLineageAsync()).Find("s1")!;
        Assert.Multiple(() =>
        {
            Assert.That(created.ReceivedFrom, Is.EqualTo(s1.Identity));
            Assert.That(t1.ReceivedFrom, Is.EqualTo(s1.Identity));
            Assert.That(t1.CreatedUtc, Is.EqualTo(sourceTime), "the source's creation time, not the copy's");
            Assert.That(t1.Identity, Is.Not.EqualTo(s1.Identity), "ids are per image: the copy has its own");
            Assert.That(t1.IsSameAs(s1), Is.True);
        });
    }

    [Test]
    public async Task FindCommonBase_sameNamesCreatedIndependently_noMatchAndRefreshRefused()
    {
        await using var scope = await CephScope.CreateAsync();
        // Equal image names in two pools, equal snapshot names, made within the same second: still different snapshots.
        var name = CephCluster.UniqueName("same");
        var source = (RbdVolume)await scope.Driver.CreateVolumeAsync(scope.Track($"{CephCluster.PoolA}/{name}"), new VolumeCreateOptions { Size = 1 << 20 });
        var target = (RbdVolume)await scope.Driver.CreateVolumeAsync(scope.Track($"{CephCluster.PoolB}/{name}"), new VolumeCreateOptions { Size = 1 << 20 });
        await source.CreateSnapshotAsync("daily");
        await target.CreateSnapshotAsync("daily");
        var sourceLineage = await source.GetLineageAsync();
        var targetLineage = await target.GetLineageAsync();
        Assert.Multiple(() =>
        {
            Assert.That(SnapshotLineage.FindCommonBase(sourceLineage, targetLineage), Is.Null);
            Assert.Throws<NoCommonBaseException>(() => RefreshPlanner.Plan(sourceLineage, targetLineage));
            Assert.That(RefreshPlanner.Plan(sourceLineage, targetLineage, new RefreshPlanOptions { AllowFullResend = true }).Kind, Is.EqualTo(RefreshKind.Full));
        });
    }

    [Test]
    public async Task FindCommonBase_receivedCopies_matchByRecordedIdentityAndNameAndTime()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 1 << 20, "src");
        var target = await scope.CreateAsync(CephCluster.PoolB, 1 << 20, "dst");
        foreach (var name in new[] { "s1", "s2" })
        {
            var s = await source.CreateSnapshotAsync(name);
            await target.CreateSnapshotAsync(name, new SnapshotCreateOptions { ReceivedFrom = s.Identity, CreatedUtc = s.CreatedUtc });
        }
        await source.CreateSnapshotAsync("s3");
        await target.CreateSnapshotAsync("t-only");
        var sourceLineage = await source.GetLineageAsync();
        var targetLineage = await target.GetLineageAsync();
        var common = SnapshotLineage.FindCommonBase(sourceLineage, targetLineage);
        var plan = RefreshPlanner.Plan(sourceLineage, targetLineage);
        Assert.Multiple(() =>
        {
            Assert.That(common, Is.Not.Null);
            Assert.That(common!.Value.Source.Name, Is.EqualTo("s2"));
            Assert.That(common.Value.Target.Name, Is.EqualTo("s2"));
            Assert.That(common.Value.Target.CreatedUtc, Is.EqualTo(common.Value.Source.CreatedUtc));
            Assert.That(plan.Kind, Is.EqualTo(RefreshKind.Incremental));
            Assert.That(plan.TargetSnapshotsToDelete.Select(s => s.Name), Is.EqualTo(new[] { "t-only" }));
            Assert.That(plan.SnapshotsToSend.Select(s => s.Name), Is.EqualTo(new[] { "s3" }));
        });
    }

    [Test]
    public async Task RenameSnapshot_receivedSnapshot_keepsItsRecordAndStillMatches()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 1 << 20, "src");
        var target = await scope.CreateAsync(CephCluster.PoolB, 1 << 20, "dst");
        var s1 = await source.CreateSnapshotAsync("s1");
        await target.CreateSnapshotAsync("s1", new SnapshotCreateOptions { ReceivedFrom = s1.Identity, CreatedUtc = s1.CreatedUtc });
        await target.RenameSnapshotAsync("s1", "renamed");
        await source.RenameSnapshotAsync("s1", "also-renamed");
        var sourceLineage = await source.GetLineageAsync();
        var targetLineage = await target.GetLineageAsync();
        Assert.Multiple(() =>
        {
            Assert.That(targetLineage.Single().Name, Is.EqualTo("renamed"));
            Assert.That(sourceLineage.Single().Identity, Is.EqualTo(s1.Identity), "renaming keeps the identity");
            Assert.That(targetLineage.Single().IsSameAs(sourceLineage.Single()), Is.True);
        });
    }

    [Test]
    public async Task GetLineage_recordOfDeletedAndRecreatedSnapshot_isIgnored()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 1 << 20, "src");
        var target = await scope.CreateAsync(CephCluster.PoolB, 1 << 20, "dst");
        var s1 = await source.CreateSnapshotAsync("s1");
        await target.CreateSnapshotAsync("s1", new SnapshotCreateOptions { ReceivedFrom = s1.Identity });
        // Outside DeltaSnap: the snapshot is removed and made again; the image metadata still holds the record.
        await CephCluster.RbdAsync(["snap", "rm", "--no-progress", $"{target.Name}@s1"]);
        await CephCluster.RbdAsync(["snap", "create", "--no-progress", $"{target.Name}@s1"]);
        var t1 = (await target.GetLineageAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(t1.ReceivedFrom, Is.Null);
            Assert.That(t1.IsSameAs(s1), Is.False);
        });
    }

    [Test]
    public async Task GetLineage_killedBetweenSnapshotAndItsRecord_pendingRecordStillIdentifiesIt()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 1 << 20, "src");
        var target = await scope.CreateAsync(CephCluster.PoolB, 1 << 20, "dst");
        var s0 = await source.CreateSnapshotAsync("s0");
        await target.CreateSnapshotAsync("s0", new SnapshotCreateOptions { ReceivedFrom = s0.Identity, CreatedUtc = s0.CreatedUtc });
        var s1 = await source.CreateSnapshotAsync("s1");
        var highest = (await CephCluster.SnapshotIdsAsync(target.Name)).Max();
        // What a process killed after creating the snapshot, before writing its final record, leaves behind.
        var pending = ReceivedRecord.Pending(highest, DateTimeOffset.UtcNow, s1.Identity, s1.CreatedUtc.ToUnixTimeSeconds()).Serialize();
        await CephCluster.RbdAsync(["image-meta", "set", target.Name, ReceivedRecord.KeyOf("s1"), pending]);
        await CephCluster.RbdAsync(["snap", "create", "--no-progress", $"{target.Name}@s1"]);
        var targetLineage = await target.GetLineageAsync();
        var plan = RefreshPlanner.Plan(await source.GetLineageAsync(), targetLineage);
        Assert.Multiple(() =>
        {
            Assert.That(targetLineage.Find("s1")!.ReceivedFrom, Is.EqualTo(s1.Identity));
            Assert.That(targetLineage.Find("s1")!.CreatedUtc, Is.EqualTo(s1.CreatedUtc));
            Assert.That(plan.TargetBase?.Name, Is.EqualTo("s1"), "the snapshot is the common base");
            Assert.That(plan.SnapshotsToSend, Is.Empty, "s1 is already there");
        });
    }

    [Test]
    public async Task CreateSnapshot_nameTaken_refusedAndTheExistingSnapshotKeepsItsRecord()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 1 << 20, "src");
        var target = await scope.CreateAsync(CephCluster.PoolB, 1 << 20, "dst");
        var s1 = await source.CreateSnapshotAsync("s1");
        await target.CreateSnapshotAsync("s1", new SnapshotCreateOptions { ReceivedFrom = s1.Identity, CreatedUtc = s1.CreatedUtc });

        Assert.CatchAsync<DeltaSnapException>(() => target.CreateSnapshotAsync("s1", new SnapshotCreateOptions { ReceivedFrom = new SnapshotIdentity("rbd", "x.1@5") }));
        Assert.CatchAsync<DeltaSnapException>(() => target.CreateSnapshotAsync("s1"));

        var t1 = (await target.GetLineageAsync()).Single();
        Assert.That(t1.ReceivedFrom, Is.EqualTo(s1.Identity), "the refused creations left the existing record alone");
    }

    [Test]
    public async Task GetLineage_pendingRecordOfOlderSnapshotId_isIgnored()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 1 << 20, "src");
        var target = await scope.CreateAsync(CephCluster.PoolB, 1 << 20, "dst");
        var s1 = await source.CreateSnapshotAsync("s1");
        // A snapshot made outside DeltaSnap before the pending record was written is not the one it describes.
        await CephCluster.RbdAsync(["snap", "create", "--no-progress", $"{target.Name}@s1"]);
        var highest = (await CephCluster.SnapshotIdsAsync(target.Name)).Max();
        var pending = ReceivedRecord.Pending(highest, DateTimeOffset.UtcNow, s1.Identity, null).Serialize();
        await CephCluster.RbdAsync(["image-meta", "set", target.Name, ReceivedRecord.KeyOf("s1"), pending]);
        Assert.That((await target.GetLineageAsync()).Single().ReceivedFrom, Is.Null);
    }

    [Test]
    public async Task DeleteSnapshot_received_removesSnapshotAndRecord()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 1 << 20);
        await volume.CreateSnapshotAsync("s1", new SnapshotCreateOptions { ReceivedFrom = new SnapshotIdentity("rbd", "x.1@5") });
        await volume.DeleteSnapshotAsync("s1");
        var metadata = System.Text.Encoding.UTF8.GetString(await CephCluster.RbdAsync(["image-meta", "list", volume.Name]));
        Assert.Multiple(async () =>
        {
            Assert.That(await volume.GetLineageAsync(), Is.Empty);
            Assert.That(metadata, Does.Not.Contain("deltasnap.received"));
        });
    }

    [Test]
    public async Task Rollback_toSnapshot_restoresContent()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 4 << 20);
        var first = CephCluster.RandomBytes(4 << 20, 11);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(0, first);
        }
        await volume.CreateSnapshotAsync("s1");
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(0, CephCluster.RandomBytes(4 << 20, 12));
        }
        await volume.RollbackAsync("s1");
        Assert.That(CephCluster.Hash(await CephCluster.ExportAsync(volume.Name)), Is.EqualTo(CephCluster.Hash(first)));
    }

    [Test]
    public async Task SnapshotCalls_missingSnapshot_throwVolumeNotFound()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 1 << 20);
        Assert.Multiple(() =>
        {
            Assert.ThrowsAsync<VolumeNotFoundException>(() => volume.DeleteSnapshotAsync("nope"));
            Assert.ThrowsAsync<VolumeNotFoundException>(() => volume.RollbackAsync("nope"));
            Assert.ThrowsAsync<VolumeNotFoundException>(() => volume.OpenDeviceAsync("nope"));
            Assert.ThrowsAsync<VolumeNotFoundException>(() => volume.GetChangedRangesAsync("nope", "nope"));
        });
    }
}
