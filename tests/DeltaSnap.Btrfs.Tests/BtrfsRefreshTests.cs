using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Btrfs.Tests;

public sealed class BtrfsRefreshTests : BtrfsTestBase
{
    [Test]
    public async Task Refresh_repeatedCycles_targetLiveEqualsSourceLiveAndOnlyChangesMove()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 20, files: 8, fileSize: 1024 * 1024);
        await source.CreateSnapshotAsync("s1");
        TestData.Change(source.LivePath, seed: 21);

        var replicator = new Replicator(Logs);
        var first = await replicator.RefreshAsync(source, target);

        Assert.That(first.Kind, Is.EqualTo(RefreshKind.Full));
        Assert.That(first.Route, Is.EqualTo(RefreshRoute.NativeStream));
        Assert.That(first.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        await AssertNoTemporarySnapshotsAsync(source, target);

        // Cycle 2: a new snapshot and more live changes: incremental from s1, then from s2.
        TestData.Change(source.LivePath, seed: 22);
        await source.CreateSnapshotAsync("s2");
        TestData.Change(source.LivePath, seed: 23);
        var second = await replicator.RefreshAsync(source, target);

        Assert.That(second.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(second.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That(second.LiveStateSent, Is.True);
        Assert.That(second.BytesSent, Is.LessThan(first.BytesSent / 4), "incrementals carry only what changed");
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        Assert.That(TreeDigest.Compute(await target.GetPathAsync("s2")), Is.EqualTo(TreeDigest.Compute(await source.GetPathAsync("s2"))));

        // Cycle 3: live changes only: incremental from s2, the promoted live state in between did not get in the way.
        TestData.Change(source.LivePath, seed: 24);
        var third = await replicator.RefreshAsync(source, target);

        Assert.That(third.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(third.SnapshotsSent, Is.Empty);
        Assert.That(third.BytesSent, Is.LessThan(first.BytesSent / 4));
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        await AssertNoTemporarySnapshotsAsync(source, target);
        var lineage = await target.GetLineageAsync();
        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(lineage.Select(s => s.ReceivedFrom), Is.EqualTo((await source.GetLineageAsync()).Select(s => (SnapshotIdentity?)s.Identity)));
    }

    [Test]
    public async Task Promote_receivedSnapshot_staysReadOnlyWithItsReceivedUuidAndLiveIsWritable()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 25, files: 2);
        var s1 = await source.CreateSnapshotAsync("s1");
        await NativeTransfer.TransferAsync(source, target, null, null, s1);

        await target.PromoteAsync("s1");

        var received = Show(await target.GetPathAsync("s1"));
        Assert.That(received["Received UUID"], Is.EqualTo(s1.Identity.Value));
        Assert.That(received["Flags"], Does.Contain("readonly"));
        var live = Show(target.LivePath);
        Assert.That(live["Flags"], Is.EqualTo("-"));
        Assert.That(live["Parent UUID"], Is.EqualTo(received["UUID"]), "the live subvolume is a writable snapshot of the received one");
        Assert.That(TreeDigest.Compute(target.LivePath), Is.EqualTo(TreeDigest.Compute(await source.GetPathAsync("s1"))));
        File.WriteAllText(Path.Combine(target.LivePath, "written-after-promote"), "ok");
        Assert.That(Entries(Target.RootDirectory).Where(e => e.StartsWith(".deltasnap-staging", StringComparison.Ordinal) || e.StartsWith(".deltasnap-replaced", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public async Task Promote_thenNextIncremental_usesTheReceivedSnapshotAsParent()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 26, files: 2);
        var s1 = await source.CreateSnapshotAsync("s1");
        var (r1, _) = await NativeTransfer.TransferAsync(source, target, null, null, s1);
        await target.PromoteAsync("s1");
        File.WriteAllText(Path.Combine(target.LivePath, "target-only"), "diverges the live state, not the snapshot");
        TestData.Change(source.LivePath, seed: 27);
        var s2 = await source.CreateSnapshotAsync("s2");

        var (r2, _) = await NativeTransfer.TransferAsync(source, target, s1, r1, s2);
        await target.PromoteAsync("s2");

        Assert.That(r2.ReceivedFrom, Is.EqualTo(s2.Identity));
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(await source.GetPathAsync("s2"))));
    }

    [Test]
    public async Task Refresh_divergedTarget_targetOnlySnapshotDeletedAndLiveRolledBack()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 28, files: 2);
        await source.CreateSnapshotAsync("s1");
        await new Replicator().RefreshAsync(source, target);
        File.WriteAllText(Path.Combine(target.LivePath, "target-only"), "x");
        await target.CreateSnapshotAsync("t1");
        File.WriteAllText(Path.Combine(target.LivePath, "target-only-2"), "y");
        TestData.Change(source.LivePath, seed: 29);

        var (plan, _) = await new Replicator().PlanAsync(source, target);
        var result = await new Replicator().RefreshAsync(source, target);

        Assert.That(plan.TargetSnapshotsToDelete.Select(s => s.Name), Is.EqualTo(new[] { "t1" }));
        Assert.That(result.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
    }

    [Test]
    public async Task Refresh_unrelatedTarget_isRefusedThenForcedWithFullResend()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 30, files: 2);
        await source.CreateSnapshotAsync("s1");
        File.WriteAllText(Path.Combine(target.LivePath, "unrelated"), "keep me unless forced");
        await target.CreateSnapshotAsync("s1");
        var targetBefore = TreeDigest.Compute(target.LivePath);

        Assert.That(() => new Replicator().RefreshAsync(source, target), Throws.TypeOf<NoCommonBaseException>());
        Assert.That(TreeDigest.Compute(target.LivePath), Is.EqualTo(targetBefore));
        Assert.That((await target.GetLineageAsync()).Single().ReceivedFrom, Is.Null);

        var forced = await new Replicator().RefreshAsync(source, target, new RefreshOptions { Plan = new RefreshPlanOptions { AllowFullResend = true } });

        Assert.That(forced.Kind, Is.EqualTo(RefreshKind.Full));
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        var s1 = (await source.GetLineageAsync()).Single();
        Assert.That((await target.GetLineageAsync()).Single().ReceivedFrom, Is.EqualTo(s1.Identity));
    }

    [Test]
    public async Task Rollback_afterChanges_liveEqualsTheSnapshotAndSnapshotsRemain()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        TestData.Populate(volume.LivePath, seed: 31, files: 2);
        await volume.CreateSnapshotAsync("s1");
        TestData.Change(volume.LivePath, seed: 32);
        await volume.CreateSnapshotAsync("s2");
        TestData.Change(volume.LivePath, seed: 33);

        await volume.RollbackAsync("s1");

        Assert.That(TreeDigest.Describe(volume.LivePath), Is.EqualTo(TreeDigest.Describe(await volume.GetPathAsync("s1"))));
        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(Show(volume.LivePath)["Flags"], Is.EqualTo("-"));
        Assert.That(Entries(Source.RootDirectory), Is.EqualTo(new[] { ".deltasnap-snapshots", "vm1" }));
    }

    [Test]
    public async Task Rollback_toWritableLeftover_isRefusedAndLiveKept()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        File.WriteAllText(Path.Combine(volume.LivePath, "live"), "keep");
        await volume.CreateSnapshotAsync("s1");
        Testing.BackendRequirement.Run("btrfs", "-q", "subvolume", "create", Path.Combine(volume.SnapshotDirectory, "half"));
        var before = TreeDigest.Compute(volume.LivePath);

        Assert.That(() => volume.RollbackAsync("half"), Throws.TypeOf<DeltaSnapException>().With.Message.Contains("writable"));
        Assert.That(() => volume.RollbackAsync("missing"), Throws.TypeOf<DeltaSnap.Drivers.VolumeNotFoundException>());

        Assert.That(TreeDigest.Compute(volume.LivePath), Is.EqualTo(before));
    }

    private static async Task AssertNoTemporarySnapshotsAsync(BtrfsVolume source, BtrfsVolume target)
    {
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
        Assert.That((await target.GetLineageAsync()).Temporary, Is.Empty);
        Assert.That(Entries(source.SnapshotDirectory).Where(TemporarySnapshot.IsTemporary), Is.Empty);
        Assert.That(Entries(target.SnapshotDirectory).Where(TemporarySnapshot.IsTemporary), Is.Empty);
    }
}
