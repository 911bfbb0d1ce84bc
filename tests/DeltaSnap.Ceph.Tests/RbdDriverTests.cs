using DeltaSnap.Testing;
using DeltaSnap.Drivers;

namespace DeltaSnap.Ceph.Tests;

public class RbdDriverTests
{
    [Test]
    public async Task CreateOpenDelete_image_lifecycle()
    {
        await using var scope = await CephScope.CreateAsync();
        var name = $"{CephCluster.PoolA}/{CephCluster.UniqueName("life")}";
        scope.Track(name);
        var created = await scope.Driver.CreateVolumeAsync(name, new VolumeCreateOptions { Size = 3 << 20 });
        await created.CreateSnapshotAsync("s1");
        var opened = await scope.Driver.OpenVolumeAsync(name);
        Assert.Multiple(async () =>
        {
            Assert.That(opened, Is.InstanceOf<RbdVolume>());
            Assert.That(opened.Address, Is.EqualTo($"rbd:{name}"));
            Assert.That(await opened.GetSizeAsync(), Is.EqualTo(3 << 20));
            Assert.That(await scope.Driver.VolumeExistsAsync(name), Is.True);
            Assert.That(await scope.Driver.ListVolumesAsync(), Does.Contain(name));
        });
        await scope.Driver.DeleteVolumeAsync(name);
        Assert.Multiple(async () =>
        {
            Assert.That(await scope.Driver.VolumeExistsAsync(name), Is.False);
            Assert.ThrowsAsync<VolumeNotFoundException>(() => scope.Driver.OpenVolumeAsync(name));
            Assert.ThrowsAsync<VolumeNotFoundException>(() => scope.Driver.OpenVolumeAsync($"no-such-pool-x/{CephCluster.UniqueName("x")}"));
        });
    }

    [Test]
    public async Task CreateVolume_existingName_throwsRbdExceptionEexist()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 1 << 20);
        var e = Assert.ThrowsAsync<RbdException>(() => scope.Driver.CreateVolumeAsync(volume.Name, new VolumeCreateOptions { Size = 1 << 20 }));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Errno, Is.EqualTo(17));
            Assert.That(e.Call, Does.Contain(volume.Name));
        });
    }

    [Test]
    public async Task CreateVolume_creationInterruptedBefore_removesTheLeftoverAndCreates()
    {
        await using var scope = await CephScope.CreateAsync();
        var name = CephCluster.UniqueName("half");
        var spec = scope.Track($"{CephCluster.PoolB}/{name}");
        await CephCluster.MakeHalfCreatedImageAsync(CephCluster.PoolB, name);
        var listed = System.Text.Encoding.UTF8.GetString(await CephCluster.RbdAsync(["ls", CephCluster.PoolB]));
        Assert.That(listed, Does.Contain(name), "librbd lists the half-created image");
        Assert.That(await scope.Driver.VolumeExistsAsync(spec), Is.False, "it cannot be opened");

        var volume = await scope.Driver.CreateVolumeAsync(spec, new VolumeCreateOptions { Size = 1 << 20 });
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(0, new byte[] { 1, 2, 3 });
        }

        Assert.Multiple(async () =>
        {
            Assert.That(await scope.Driver.VolumeExistsAsync(spec), Is.True);
            Assert.That((await volume.GetLineageAsync()).Count, Is.Zero);
        });
    }

    [Test]
    public async Task DeleteVolume_halfCreatedImage_removesIt()
    {
        await using var scope = await CephScope.CreateAsync();
        var name = CephCluster.UniqueName("half");
        await CephCluster.MakeHalfCreatedImageAsync(CephCluster.PoolB, name);

        await scope.Driver.DeleteVolumeAsync($"{CephCluster.PoolB}/{name}");

        var listed = System.Text.Encoding.UTF8.GetString(await CephCluster.RbdAsync(["ls", CephCluster.PoolB]));
        Assert.That(listed, Does.Not.Contain(name));
    }

    [TestCase("-rf")]
    [TestCase("rbd/../etc")]
    [TestCase("rbd/img@snap")]
    [TestCase("rbd/a b")]
    [TestCase("rbd//img")]
    [TestCase("rbd/img\n")]
    [TestCase("a/b/c/d")]
    public async Task Names_hostile_rejectedBeforeAnyCall(string name)
    {
        await using var scope = await CephScope.CreateAsync();
        Assert.CatchAsync<ArgumentException>(() => scope.Driver.CreateVolumeAsync(name, new VolumeCreateOptions { Size = 1 << 20 }));
        Assert.That(await scope.Driver.ListVolumesAsync(), Has.None.Contains("etc").And.None.EqualTo(name));
    }

    [Test]
    public async Task SnapshotNames_hostile_rejected()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 1 << 20);
        Assert.Multiple(() =>
        {
            Assert.CatchAsync<ArgumentException>(() => volume.CreateSnapshotAsync("-x"));
            Assert.CatchAsync<ArgumentException>(() => volume.CreateSnapshotAsync("a@b"));
            Assert.CatchAsync<ArgumentException>(() => volume.OpenDeviceAsync("../x"));
        });
        Assert.That(await volume.GetLineageAsync(), Is.Empty);
    }

    [Test]
    public async Task VolumeName_withoutPool_usesDefaultPool()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolB, 1 << 20);
        await using var driver = await CephCluster.ConnectAsync(CephCluster.PoolB);
        var opened = (RbdVolume)await driver.OpenVolumeAsync(volume.ImageName);
        Assert.Multiple(() =>
        {
            Assert.That(opened.Pool, Is.EqualTo(CephCluster.PoolB));
            Assert.That(opened.ImageName, Is.EqualTo(volume.ImageName));
        });
        Assert.CatchAsync<ArgumentException>(() => scope.Driver.OpenVolumeAsync(volume.ImageName), "no default pool on this driver");
    }

    [Test]
    public async Task Resolver_rbdUri_opensTheImageWithEnvironmentSettings()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 1 << 20);
        var resolver = new VolumeResolver().AddRbd();
        var address = resolver.ParseAddress($"rbd:{volume.Name}");
        var opened = await resolver.OpenVolumeAsync(address);
        await using (opened.Driver)
        {
            Assert.Multiple(async () =>
            {
                Assert.That(opened, Is.InstanceOf<RbdVolume>());
                Assert.That(opened.Address, Is.EqualTo(address.ToString()));
                Assert.That(opened.Driver.NativePayloadKind, Is.EqualTo(DeltaSnap.Delta.DeltaStreamPayloadKind.RbdDiff));
                Assert.That(await opened.GetSizeAsync(), Is.EqualTo(1 << 20));
            });
        }
        Assert.Multiple(() =>
        {
            Assert.That(() => resolver.OpenVolumeAsync("zfs:tank/x"), Throws.TypeOf<FormatException>().With.Message.Contain("registered: rbd"));
            Assert.That(() => resolver.ParseAddress("rbd:pool-only"), Throws.TypeOf<FormatException>().With.Message.Contain("rbd:POOL/IMAGE"));
            Assert.ThrowsAsync<VolumeNotFoundException>(() => resolver.OpenVolumeAsync($"rbd:{CephCluster.PoolA}/missing-image"));
        });
    }

    [Test]
    public async Task Resolver_driversOfTwoPools_shareOneConnectionUntilTheLastIsDisposed()
    {
        await using var scope = await CephScope.CreateAsync();
        var a = await scope.CreateAsync(CephCluster.PoolA, 1 << 20);
        var b = await scope.CreateAsync(CephCluster.PoolB, 2 << 20);
        using var logs = new CapturingLoggerFactory();
        var resolver = new VolumeResolver(logs).AddRbd();
        int Connects() => logs.Entries.Count(e => e.Id.Id == 5001); // "Connected to the Ceph cluster", after rados_connect

        // Opened at once, as a refresh opens its two sides: one connect.
        var opened = await Task.WhenAll(resolver.OpenVolumeAsync($"rbd:{a.Name}"), resolver.OpenVolumeAsync($"rbd:{b.Name}"));
        Assert.That(Connects(), Is.EqualTo(1));
        await opened[0].Driver.DisposeAsync();
        await opened[0].Driver.DisposeAsync(); // twice: gives back one reference, not two
        Assert.That(await opened[1].GetSizeAsync(), Is.EqualTo(2 << 20), "the other driver's connection stays up");
        await using (var third = await resolver.OpenDriverAsync("rbd", CephCluster.PoolA))
        {
            Assert.That(await third.ListVolumesAsync(), Does.Contain(a.Name));
        }
        Assert.That(Connects(), Is.EqualTo(1));
        Assert.That(await opened[1].GetSizeAsync(), Is.EqualTo(2 << 20));
        await opened[1].Driver.DisposeAsync();

        // The last one gone, the connection was shut down: the next open connects again.
        await using var again = await resolver.OpenDriverAsync("rbd", CephCluster.PoolB);
        Assert.That(await again.ListVolumesAsync(), Does.Contain(b.Name));
        Assert.That(Connects(), Is.EqualTo(2));
    }

    [Test]
    public async Task Capabilities_default_blockVolumesWithChangedRangesAndNativeStream()
    {
        await using var scope = await CephScope.CreateAsync();
        await using var blockOnly = await CephScope.CreateAsync(new RbdDriverOptions { NativeStream = false });
        Assert.Multiple(() =>
        {
            Assert.That(scope.Driver.Scheme, Is.EqualTo("rbd"));
            Assert.That(scope.Driver.Has(DriverCapabilities.BlockVolumes | DriverCapabilities.ChangedRanges | DriverCapabilities.Resize | DriverCapabilities.RenameSnapshots), Is.True);
            Assert.That(scope.Driver.Has(DriverCapabilities.NativeStream), Is.True);
            Assert.That(scope.Driver.Has(DriverCapabilities.FilesystemVolumes), Is.False);
            Assert.That(blockOnly.Driver.Has(DriverCapabilities.NativeStream), Is.False);
            Assert.That(blockOnly.Driver.Has(DriverCapabilities.BlockVolumes | DriverCapabilities.ChangedRanges), Is.True);
        });
        Assert.CatchAsync<ArgumentException>(() => scope.Driver.CreateVolumeAsync($"{CephCluster.PoolA}/x", new VolumeCreateOptions { Kind = VolumeKind.Filesystem }));
    }
}
