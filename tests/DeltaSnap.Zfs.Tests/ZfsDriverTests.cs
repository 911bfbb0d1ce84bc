using DeltaSnap.Drivers;

namespace DeltaSnap.Zfs.Tests;

/// <summary>Volumes of the driver on a real zfs-fuse pool: create, list, open, delete, addresses, capabilities.</summary>
[TestFixture]
public class ZfsDriverTests
{
    [Test]
    public async Task CreateListOpenDelete_filesystemVolume_roundTrips()
    {
        await using var bed = await ZfsTestBed.OpenAsync();
        var name = bed.Track(bed.A, ZfsTestBed.UniqueName("vol"));

        var created = await bed.A.CreateVolumeAsync(name, new VolumeCreateOptions { Kind = VolumeKind.Filesystem });

        Assert.That(created.Name, Is.EqualTo(name));
        Assert.That(created.Kind, Is.EqualTo(VolumeKind.Filesystem));
        Assert.That(created.Address, Is.EqualTo($"zfs:{bed.PoolA}/{name}"));
        Assert.That(await bed.A.VolumeExistsAsync(name), Is.True);
        Assert.That(await bed.A.ListVolumesAsync(), Does.Contain(name));
        var opened = (ZfsVolume)await bed.A.OpenVolumeAsync(name);
        Assert.That(opened.Dataset, Is.EqualTo($"{bed.PoolA}/{name}"));

        await opened.CreateSnapshotAsync("s1");
        await bed.A.DeleteVolumeAsync(name);

        Assert.That(await bed.A.VolumeExistsAsync(name), Is.False);
        Assert.That(ZfsTestBed.Zfs("list", "-H", "-o", "name", "-r", bed.PoolA), Does.Not.Contain(name));
        Assert.ThrowsAsync<VolumeNotFoundException>(() => bed.A.OpenVolumeAsync(name));
    }

    [Test]
    public async Task CreateVolume_existingName_throwsCommandError()
    {
        await using var bed = await ZfsTestBed.OpenAsync();
        var volume = await bed.CreateAsync(bed.A, "vol");
        var error = Assert.ThrowsAsync<BackendCommandException>(() => bed.A.CreateVolumeAsync(volume.Name, new VolumeCreateOptions { Kind = VolumeKind.Filesystem }));
        Assert.That(error!.StandardError, Does.Contain("exists"));
    }

    [Test]
    public async Task DeleteVolume_withSnapshotViewsAndHeldBase_removesEverything()
    {
        await using var bed = await ZfsTestBed.OpenAsync();
        var volume = await bed.CreateAsync(bed.A, "vol");
        await File.WriteAllTextAsync(Path.Combine(await volume.GetPathAsync(null), "x"), "x");
        await volume.CreateSnapshotAsync("s1");
        var view = await volume.GetPathAsync("s1");
        Assert.That(File.ReadAllText(Path.Combine(view, "x")), Is.EqualTo("x"));
        if (bed.A.Has(DriverCapabilities.ProtectBase))
        {
            await volume.ProtectBaseAsync("s1");
        }

        await bed.A.DeleteVolumeAsync(volume.Name);

        Assert.That(await bed.A.VolumeExistsAsync(volume.Name), Is.False);
        Assert.That(Directory.Exists(view), Is.False);
    }

    [Test]
    public async Task Resolver_zfsAddress_opensTheDatasetCreatingNothing()
    {
        await using var bed = await ZfsTestBed.OpenAsync();
        var volume = await bed.CreateAsync(bed.A, "addr");
        var resolver = new VolumeResolver().AddZfs();

        var opened = await resolver.OpenVolumeAsync($"zfs:{volume.Dataset}");

        Assert.That(opened, Is.InstanceOf<ZfsVolume>());
        Assert.That(opened.Address, Is.EqualTo(volume.Address));
        Assert.That(opened.Name, Is.EqualTo(volume.Dataset));
        Assert.That(opened.Driver.NativePayloadKind, Is.EqualTo(DeltaSnap.Delta.DeltaStreamPayloadKind.ZfsSend));
        var missing = resolver.ParseAddress($"zfs:{bed.PoolA}/{ZfsTestBed.UniqueName("missing")}");
        Assert.ThrowsAsync<VolumeNotFoundException>(() => resolver.OpenVolumeAsync(missing));
        Assert.That(ZfsTestBed.Zfs("list", "-H", "-o", "name", "-r", bed.PoolA), Does.Not.Contain(missing.Name));
        Assert.That(() => resolver.ParseAddress("rbd:pool/img"), Throws.TypeOf<FormatException>().With.Message.Contain("registered: zfs"));
        Assert.That(() => resolver.ParseAddress("zfs:poolonly"), Throws.TypeOf<FormatException>().With.Message.Contain("zfs:POOL/DATASET"));
        Assert.That(() => new VolumeResolver().AddZfs(new ZfsDriverOptions { Root = bed.PoolA }), Throws.InstanceOf<ArgumentException>());
    }

    [Test]
    public async Task Capabilities_zfsFuse_filesystemNativeRenameAndOnlyDetectedExtras()
    {
        await using var bed = await ZfsTestBed.OpenAsync();
        var driver = bed.A;
        Assert.That(driver.Has(DriverCapabilities.FilesystemVolumes | DriverCapabilities.NativeStream | DriverCapabilities.RenameSnapshots), Is.True);
        Assert.That(driver.Has(DriverCapabilities.KeepSnapshotsAfterBase), Is.False, "ZFS must roll back to receive");
        Assert.That(driver.Has(DriverCapabilities.NativeReceiveRestoresBase), Is.False, "zfs-fuse's receive -F -u leaves live writes visible");
        Assert.That(driver.Has(DriverCapabilities.BlockVolumes), Is.EqualTo(driver.Features.Zvols));
        Assert.That(driver.Has(DriverCapabilities.ResumableStream), Is.EqualTo(driver.Features.ResumableStreams));
        Assert.That(driver.Has(DriverCapabilities.ProtectBase), Is.EqualTo(driver.Features.Holds));
    }

    [Test]
    public async Task CreateVolume_blockWithoutZvols_refusedBeforeAnyCommand()
    {
        await using var bed = await ZfsTestBed.OpenAsync();
        if (bed.A.Features.Zvols)
        {
            Assert.Ignore("This ZFS has zvols; ZfsZvolTests cover block volumes.");
        }
        var name = bed.Track(bed.A, ZfsTestBed.UniqueName("zvol"));
        Assert.CatchAsync<ArgumentException>(() => bed.A.CreateVolumeAsync(name, new VolumeCreateOptions { Kind = VolumeKind.Block, Size = 64 << 20 }));
        Assert.That(await bed.A.VolumeExistsAsync(name), Is.False);
    }
}
