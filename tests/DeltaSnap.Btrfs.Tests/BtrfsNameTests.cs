using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Btrfs.Tests;

public sealed class BtrfsNameTests : BtrfsTestBase
{
    private static readonly string[] HostileVolumeNames = ["../x", "..", ".", "a/b", "/etc", "-rf", "x;rm -rf", "a b", "x\ny", "x\0y", ".hidden", ".deltasnap-snapshots", "$(id)", "`id`", ""];

    private static readonly string[] HostileSnapshotNames = ["../x", "..", "a/b", "-p", "--help", ".hidden", "x\ny", "s@1", "s;1", "s|1", "s 1", "$(id)", ""];

    [TestCaseSource(nameof(HostileVolumeNames))]
    public void VolumeOperations_hostileName_areRejectedBeforeAnyProcessStarts(string name)
    {
        var started = Source.Commands.StartedCount;

        Assert.That(() => Source.CreateVolumeAsync(name, new VolumeCreateOptions { Kind = VolumeKind.Filesystem }), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => Source.OpenVolumeAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => Source.VolumeExistsAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => Source.DeleteVolumeAsync(name), Throws.InstanceOf<ArgumentException>());

        Assert.That(Source.Commands.StartedCount, Is.EqualTo(started));
        Assert.That(Entries(Source.RootDirectory), Is.Empty);
    }

    [TestCaseSource(nameof(HostileSnapshotNames))]
    public async Task SnapshotOperations_hostileName_areRejectedBeforeAnyProcessStarts(string name)
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        var good = await volume.CreateSnapshotAsync("good");
        var started = Source.Commands.StartedCount;
        var hostile = new SnapshotInfo(string.IsNullOrEmpty(name) ? "x" : name, good.Identity, good.CreatedUtc);

        Assert.That(() => volume.CreateSnapshotAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.DeleteSnapshotAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.RollbackAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.PromoteAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.GetPathAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.RenameSnapshotAsync("good", name), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.SendAsync(null, name, Stream.Null), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.SendAsync(name, "good", Stream.Null), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.GetSnapshotPath(name), Throws.InstanceOf<ArgumentException>());
        if (name.Length > 0)
        {
            Assert.That(() => volume.ReceiveAsync(new MemoryStream(), new NativeReceiveRequest { Snapshot = hostile }), Throws.InstanceOf<ArgumentException>());
            Assert.That(() => volume.ReceiveAsync(new MemoryStream(), new NativeReceiveRequest { Snapshot = good, TargetBase = hostile }), Throws.InstanceOf<ArgumentException>());
        }

        Assert.That(Source.Commands.StartedCount, Is.EqualTo(started));
        Assert.That(Entries(volume.SnapshotDirectory), Is.EqualTo(new[] { "good" }));
    }

    [Test]
    public async Task SnapshotOperations_symbolicLinkInSnapshotDirectory_isNotFollowed()
    {
        var volume = await CreateVolumeAsync(Source, "vm1");
        await volume.CreateSnapshotAsync("good");
        var outside = Path.Combine(Source.RootDirectory, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "precious"), "do not touch");
        Directory.CreateSymbolicLink(Path.Combine(volume.SnapshotDirectory, "evil"), outside);
        var started = Source.Commands.StartedCount;

        Assert.That(() => volume.GetPathAsync("evil"), Throws.InstanceOf<ArgumentException>().With.Message.Contains("symbolic link"));
        Assert.That(() => volume.DeleteSnapshotAsync("evil"), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.RollbackAsync("evil"), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => volume.SendAsync(null, "evil", Stream.Null), Throws.InstanceOf<ArgumentException>());

        Assert.That(Source.Commands.StartedCount, Is.EqualTo(started));
        Assert.That(File.ReadAllText(Path.Combine(outside, "precious")), Is.EqualTo("do not touch"));
        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "good" }));
    }

    [Test]
    public async Task Resolver_existingSubvolume_opensItAndAddressRoundTrips()
    {
        var created = await CreateVolumeAsync(Source, "vm1");
        await created.CreateSnapshotAsync("s1");
        var resolver = new VolumeResolver().AddBtrfs();
        var address = resolver.ParseAddress("btrfs:" + created.LivePath);

        var volume = await resolver.OpenVolumeAsync(address);

        Assert.That(volume, Is.InstanceOf<BtrfsVolume>());
        Assert.That(volume.Address, Is.EqualTo(address.ToString()));
        Assert.That(volume.Name, Is.EqualTo("vm1"));
        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(address, Is.EqualTo(new VolumeAddress("btrfs", Source.RootDirectory, "vm1")));
        Assert.That(((BtrfsDriver)volume.Driver).RootDirectory, Is.EqualTo(Source.RootDirectory));
    }

    [Test]
    public void Resolver_missingOrForeignOrTraversing_isRejected()
    {
        var resolver = new VolumeResolver().AddBtrfs();

        Assert.That(() => resolver.OpenVolumeAsync("btrfs:" + Path.Combine(Source.RootDirectory, "missing")), Throws.TypeOf<VolumeNotFoundException>());
        Assert.That(() => resolver.OpenVolumeAsync("zfs:tank/vm1"), Throws.TypeOf<FormatException>().With.Message.Contain("registered: btrfs"));
        Assert.That(() => resolver.Backends[0].OpenVolumeAsync(new VolumeAddress("zfs", "tank", "tank/vm1")), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => resolver.OpenVolumeAsync("btrfs:" + Source.RootDirectory + "/../x"), Throws.TypeOf<FormatException>());
        Assert.That(() => resolver.OpenVolumeAsync("btrfs:/"), Throws.TypeOf<FormatException>());
        Assert.That(() => resolver.OpenVolumeAsync("btrfs:relative/vm1"), Throws.TypeOf<FormatException>());
    }

    [Test]
    public async Task Resolver_createVolumeAtAddress_makesTheSubvolume()
    {
        var resolver = new VolumeResolver().AddBtrfs();

        var volume = await resolver.CreateVolumeAsync("btrfs:" + Path.Combine(Source.RootDirectory, "made"), new VolumeCreateOptions { Kind = VolumeKind.Filesystem });

        Assert.That(volume.Name, Is.EqualTo("made"));
        Assert.That(await Source.ListVolumesAsync(), Does.Contain("made"));
    }

    [Test]
    public void CreateVolume_blockKind_isRejected()
    {
        Assert.That(() => Source.CreateVolumeAsync("vm1", new VolumeCreateOptions { Kind = VolumeKind.Block, Size = 1 << 20 }), Throws.InstanceOf<ArgumentException>());
        Assert.That(Source.Commands.StartedCount, Is.Zero);
    }
}
