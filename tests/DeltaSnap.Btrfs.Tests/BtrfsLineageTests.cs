using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Testing;

namespace DeltaSnap.Btrfs.Tests;

public sealed class BtrfsLineageTests : BtrfsTestBase
{
    [Test]
    public async Task GetLineage_threeSnapshots_returnsThemOldestFirstWithTheirSubvolumeUuids()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        var before = DateTimeOffset.UtcNow.AddSeconds(-2);
        foreach (var name in new[] { "zeta", "alpha", "mid" })
        {
            File.WriteAllText(Path.Combine(volume.LivePath, name + ".txt"), name);
            await volume.CreateSnapshotAsync(name);
        }

        var lineage = await volume.GetLineageAsync();

        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "zeta", "alpha", "mid" }), "ordered by creation generation, not by name");
        foreach (var snapshot in lineage)
        {
            var shown = Show(Path.Combine(Source.SnapshotRoot, "vm1", snapshot.Name));
            Assert.That(snapshot.Identity, Is.EqualTo(new SnapshotIdentity("btrfs-uuid", shown["UUID"])));
            Assert.That(shown["Flags"], Does.Contain("readonly"));
            Assert.That(snapshot.ReceivedFrom, Is.Null);
            Assert.That(snapshot.CreatedUtc, Is.InRange(before, DateTimeOffset.UtcNow.AddSeconds(2)));
            Assert.That(snapshot.CreatedUtc.Offset, Is.EqualTo(TimeSpan.Zero));
        }
        Assert.That(lineage.Select(s => s.Identity).Distinct().Count(), Is.EqualTo(3));
    }

    [Test]
    public async Task CreateSnapshot_defaultLayout_putsItUnderDotDeltasnapSnapshots()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");

        await volume.CreateSnapshotAsync("s1");

        var expected = Path.Combine(Path.GetDirectoryName(volume.LivePath)!, ".deltasnap-snapshots", "vm1", "s1");
        Assert.That(await volume.GetPathAsync("s1"), Is.EqualTo(expected));
        Assert.That(Show(expected)["Flags"], Does.Contain("readonly"));
        Assert.That(volume.Address, Is.EqualTo("btrfs:" + volume.LivePath));
    }

    [Test]
    public async Task CreateSnapshot_customSnapshotDirectory_usesIt()
    {
        var root = NewRoot(MountA);
        var driver = new BtrfsDriver(root, new BtrfsDriverOptions { SnapshotDirectory = "snaps/by-volume" });
        var volume = await CreateVolumeAsync(driver, "data");

        await volume.CreateSnapshotAsync("s1");

        Assert.That(Directory.Exists(Path.Combine(root, "snaps", "by-volume", "data", "s1")), Is.True);
        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(await driver.ListVolumesAsync(), Is.EqualTo(new[] { "data" }));
    }

    [Test]
    public async Task Receive_onOtherFileSystem_targetSnapshotsCarrySourceUuidAsReceivedUuidAndMatchByIdentity()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 1);
        var s1 = await source.CreateSnapshotAsync("s1");
        TestData.Change(source.LivePath, seed: 2);
        var s2 = await source.CreateSnapshotAsync("s2");

        var (r1, _) = await NativeTransfer.TransferAsync(source, target, null, null, s1);
        var (r2, _) = await NativeTransfer.TransferAsync(source, target, s1, r1, s2);

        var lineage = await target.GetLineageAsync();
        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(lineage[0].ReceivedFrom, Is.EqualTo(s1.Identity));
        Assert.That(lineage[1].ReceivedFrom, Is.EqualTo(s2.Identity));
        Assert.That(lineage[0].Identity, Is.Not.EqualTo(s1.Identity), "a received subvolume has its own UUID");
        Assert.That(r2, Is.EqualTo(lineage[1]));
        var shown = Show(await target.GetPathAsync("s2"));
        Assert.That(shown["Received UUID"], Is.EqualTo(s2.Identity.Value));
        Assert.That(lineage[1].IsSameAs(s2), Is.True);
        Assert.That(lineage[1].IsSameAs(s1), Is.False);
        var common = SnapshotLineage.FindCommonBase(await source.GetLineageAsync(), lineage);
        Assert.That(common?.Source.Name, Is.EqualTo("s2"));
        Assert.That(common?.Target.Identity, Is.EqualTo(lineage[1].Identity));
    }

    [Test]
    public async Task Receive_sameNameOtherIdentity_isNotTakenAsCommonBase()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        await source.CreateSnapshotAsync("s1");
        await target.CreateSnapshotAsync("s1");

        Assert.That(SnapshotLineage.FindCommonBase(await source.GetLineageAsync(), await target.GetLineageAsync()), Is.Null);
        Assert.That(() => RefreshPlanner.Plan(source.GetLineageAsync().Result, target.GetLineageAsync().Result), Throws.TypeOf<NoCommonBaseException>());
    }

    [Test]
    public async Task Receive_chainedThroughASecondTarget_keepsTheOriginalUuidAsReceivedFrom()
    {
        var a = await CreateVolumeAsync(Source, "vm1");
        var b = await CreateVolumeAsync(Target, "vm1");
        var c = await CreateVolumeAsync(new BtrfsDriver(NewRoot(MountA)), "vm1");
        TestData.Populate(a.LivePath, seed: 3);
        var s1 = await a.CreateSnapshotAsync("s1");
        TestData.Change(a.LivePath, seed: 4);
        var s2 = await a.CreateSnapshotAsync("s2");

        var (b1, _) = await NativeTransfer.TransferAsync(a, b, null, null, s1);
        var (b2, _) = await NativeTransfer.TransferAsync(a, b, s1, b1, s2);
        var (c1, _) = await NativeTransfer.TransferAsync(b, c, null, null, b1);
        var (c2, _) = await NativeTransfer.TransferAsync(b, c, b1, c1, b2);

        Assert.That(c1.ReceivedFrom, Is.EqualTo(s1.Identity), "btrfs send carries the received UUID of a received snapshot");
        Assert.That(c2.ReceivedFrom, Is.EqualTo(s2.Identity));
        Assert.That(c2.IsSameAs(b2), Is.True);
        Assert.That(c2.IsSameAs(s2), Is.True);
        Assert.That(TreeDigest.Compute(await c.GetPathAsync("s2")), Is.EqualTo(TreeDigest.Compute(await a.GetPathAsync("s2"))));
    }

    [Test]
    public async Task GetLineage_writableSubvolumeAndPlainDirectoryInSnapshotDirectory_areNotSnapshots()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        await volume.CreateSnapshotAsync("s1");
        Directory.CreateDirectory(Path.Combine(volume.SnapshotDirectory, "plain"));
        BackendRequirement.Run("btrfs", "-q", "subvolume", "create", Path.Combine(volume.SnapshotDirectory, "writable"));

        var lineage = await volume.GetLineageAsync();

        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task CreateSnapshot_withRecordedOrigin_lineageReportsItsTimeAndOrigin()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        var origin = new SnapshotIdentity("zfs-guid", "1234567890");
        var created = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);

        var info = await volume.CreateSnapshotAsync("s1", new SnapshotCreateOptions { CreatedUtc = created, ReceivedFrom = origin });

        var lineage = await volume.GetLineageAsync();
        Assert.That(info.ReceivedFrom, Is.EqualTo(origin));
        Assert.That(lineage[0].ReceivedFrom, Is.EqualTo(origin));
        Assert.That(lineage[0].CreatedUtc, Is.EqualTo(created));
        Assert.That(lineage[0].IsSameAs(new SnapshotInfo("s1", origin, created)), Is.True);

        await volume.DeleteSnapshotAsync("s1");
        var again = await volume.CreateSnapshotAsync("s1");
        Assert.That(again.ReceivedFrom, Is.Null, "a new snapshot of the same name does not inherit the old record");
    }

    [Test]
    public async Task CreateSnapshot_withRecordedOrigin_killedBeforeRename_leftoverHiddenAndRemovedNextTime()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        var origin = new SnapshotIdentity("zfs-guid", "42");
        // What a kill after `btrfs subvolume snapshot`, before the metadata and the rename, leaves behind.
        var leftover = Path.Combine(volume.SnapshotDirectory, ".s1.deltasnap-creating");
        Directory.CreateDirectory(volume.SnapshotDirectory);
        BackendRequirement.Run("btrfs", "-q", "subvolume", "snapshot", "-r", volume.LivePath, leftover);
        Assert.That(await volume.GetLineageAsync(), Is.Empty, "a snapshot without its metadata is not listed");

        var info = await volume.CreateSnapshotAsync("s1", new SnapshotCreateOptions { ReceivedFrom = origin });

        Assert.Multiple(async () =>
        {
            Assert.That(Directory.Exists(leftover), Is.False);
            Assert.That(info.ReceivedFrom, Is.EqualTo(origin));
            Assert.That((await volume.GetLineageAsync()).Single().ReceivedFrom, Is.EqualTo(origin));
            Assert.That(Directory.EnumerateFileSystemEntries(volume.SnapshotDirectory).Select(Path.GetFileName),
                Is.EquivalentTo(new[] { "s1", ".s1.deltasnap-meta" }));
        });
    }

    [Test]
    public async Task SubvolumeInfo_ioctlAndCommand_agreeOnEveryKindOfEntry()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 5, files: 2);
        var s1 = await source.CreateSnapshotAsync("s1");
        await NativeTransfer.TransferAsync(source, target, null, null, s1);
        await target.PromoteAsync("s1");
        Directory.CreateDirectory(Path.Combine(target.LivePath, "plain"));
        var byCommand = new BtrfsDriver(Target.RootDirectory, new BtrfsDriverOptions { ReadSubvolumeInfoDirectly = false });
        Assume.That(SubvolumeInfoIoctl.IsSupported, Is.True, "the ioctl path exists on Linux x64/Arm64");

        foreach (var path in new[] { target.LivePath, await target.GetPathAsync("s1"), await source.GetPathAsync("s1"), source.LivePath })
        {
            var direct = await Target.TryShowAsync(path, default);
            var shown = await byCommand.TryShowAsync(path, default);
            Assert.That(direct, Is.Not.Null, path);
            Assert.That(direct, Is.EqualTo(shown), path);
        }
        var started = byCommand.Commands.StartedCount;
        Assert.That(await Target.TryShowAsync(Path.Combine(target.LivePath, "plain"), default), Is.Null, "a directory inside a subvolume");
        Assert.That(await byCommand.TryShowAsync(Path.Combine(target.LivePath, "plain"), default), Is.Null);
        Assert.That(await Target.TryShowAsync(Path.Combine(target.LivePath, "missing"), default), Is.Null);
        var received = await Target.TryShowAsync(await target.GetPathAsync("s1"), default);
        Assert.That(received!.ReceivedUuid, Is.EqualTo(s1.Identity.Value));
        Assert.That(received.ReadOnly, Is.True);
        Assert.That(byCommand.Commands.StartedCount, Is.GreaterThan(started));
    }

    [Test]
    public async Task ListVolumes_subvolumesAndOtherEntries_listsOnlyTheSubvolumes()
    {
        await CreateVolumeAsync(Source, "b");
        await CreateVolumeAsync(Source, "a");
        var a = await Source.OpenVolumeAsync("a");
        await a.CreateSnapshotAsync("s1");
        Directory.CreateDirectory(Path.Combine(Source.RootDirectory, "plain-dir"));

        Assert.That(await Source.ListVolumesAsync(), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(await Source.VolumeExistsAsync("a"), Is.True);
        Assert.That(await Source.VolumeExistsAsync("plain-dir"), Is.False);
        Assert.That(() => Source.OpenVolumeAsync("plain-dir"), Throws.TypeOf<VolumeNotFoundException>());
    }

    [Test]
    public async Task DeleteVolume_withSnapshots_removesSubvolumeAndSnapshots()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        await volume.CreateSnapshotAsync("s1");
        await volume.CreateSnapshotAsync("s2");

        await Source.DeleteVolumeAsync("vm1");

        Assert.That(Directory.Exists(volume.LivePath), Is.False);
        Assert.That(Directory.Exists(volume.SnapshotDirectory), Is.False);
        Assert.That(await Source.ListVolumesAsync(), Is.Empty);
        Assert.That(() => Source.DeleteVolumeAsync("vm1"), Throws.TypeOf<VolumeNotFoundException>());
    }

    [Test]
    public async Task RenameSnapshot_existing_keepsItsIdentity()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        var s1 = await volume.CreateSnapshotAsync("s1");

        await volume.RenameSnapshotAsync("s1", "renamed");

        var lineage = await volume.GetLineageAsync();
        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "renamed" }));
        Assert.That(lineage[0].Identity, Is.EqualTo(s1.Identity));
    }
}
