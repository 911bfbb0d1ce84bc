using DeltaSnap.Btrfs;
using DeltaSnap.Ceph;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Testing;
using DeltaSnap.Zfs;

namespace DeltaSnap.Remote.Tests;

/// <summary>
/// The driver contract with the target driver on the other end of an in-memory session (push): every operation of the
/// fixture on the target crosses the protocol. File system volumes are written and digested through the same volume
/// opened locally (paths are not available remotely); everything else goes through the session.
/// </summary>
public abstract class RemoteTargetContractTests : DriverContractTests
{
    private Loopback? _loop;
    private VolumeDriver? _localTarget;

    /// <summary>The server's resolver (the backends it offers).</summary>
    protected abstract VolumeResolver ServerResolver();

    /// <summary>The scheme and location of the target driver on the server.</summary>
    protected abstract (string Scheme, string Location) TargetLocation();

    /// <summary>The target's driver opened locally (for paths of file system volumes).</summary>
    protected abstract Task<VolumeDriver> CreateLocalTargetDriverAsync();

    protected override async Task<VolumeDriver> CreateTargetDriverAsync()
    {
        _loop = await Loopback.StartAsync(ServerResolver());
        var (scheme, location) = TargetLocation();
        return await _loop.Session.OpenDriverAsync(scheme, location);
    }

    [OneTimeTearDown]
    public async Task CloseSessionAsync()
    {
        if (TargetDriver is not null)
        {
            await TargetDriver.DisposeAsync();
        }
        if (_loop is not null)
        {
            await _loop.DisposeAsync();
        }
        if (_localTarget is not null)
        {
            await _localTarget.DisposeAsync();
        }
    }

    [Test]
    public void Target_isRemote() => Assert.That(TargetDriver, Is.TypeOf<RemoteVolumeDriver>());

    protected override async Task WriteAsync(Volume volume, int seed, int amount) => await base.WriteAsync(await LocalAsync(volume), seed, amount);

    protected override async Task<string> DigestAsync(Volume volume, string? snapshot) => await base.DigestAsync(await LocalAsync(volume), snapshot);

    private async Task<Volume> LocalAsync(Volume volume)
    {
        if (volume is not RemoteVolume || volume.Kind == VolumeKind.Block)
        {
            return volume;
        }
        _localTarget ??= await CreateLocalTargetDriverAsync();
        return await _localTarget.OpenVolumeAsync(volume.Name);
    }
}

/// <summary>lvol to lvol through a session (native lvol stream).</summary>
public sealed class RemoteLvolContractTests : RemoteTargetContractTests
{
    private readonly TempDirectory _directory = new();

    protected override VolumeKind Kind => VolumeKind.Block;

    protected override async Task<VolumeDriver> CreateSourceDriverAsync()
    {
        await (await LvolDriver.CreateStoreAsync(_directory.File("target.lvs"))).DisposeAsync();
        return await LvolDriver.CreateStoreAsync(_directory.File("source.lvs"));
    }

    protected override VolumeResolver ServerResolver() => new VolumeResolver().AddLvol();

    protected override (string Scheme, string Location) TargetLocation() => ("lvol", _directory.File("target.lvs"));

    protected override Task<VolumeDriver> CreateLocalTargetDriverAsync() => throw new NotSupportedException("lvol volumes are block volumes.");

    [OneTimeTearDown]
    public void RemoveDirectory() => _directory.Dispose();
}

/// <summary>RBD pool A to pool B through a session (native RBD diffs).</summary>
public sealed class RemoteRbdContractTests : RemoteTargetContractTests
{
    protected override VolumeKind Kind => VolumeKind.Block;

    protected override async Task<VolumeDriver> CreateSourceDriverAsync() =>
        await RbdDriver.ConnectAsync(new RbdDriverOptions { DefaultPool = BackendRequirement.RequireEnvironment("DELTASNAP_CEPH_POOL_A", "Ceph pool A") });

    protected override VolumeResolver ServerResolver() =>
        new VolumeResolver().AddRbd(new RbdDriverOptions { DefaultPool = BackendRequirement.RequireEnvironment("DELTASNAP_CEPH_POOL_B", "Ceph pool B") });

    protected override (string Scheme, string Location) TargetLocation() => ("rbd", BackendRequirement.RequireEnvironment("DELTASNAP_CEPH_POOL_B", "Ceph pool B"));

    protected override Task<VolumeDriver> CreateLocalTargetDriverAsync() => throw new NotSupportedException("RBD images are block volumes.");
}

/// <summary>ZFS pool A to pool B through a session (native zfs send).</summary>
public sealed class RemoteZfsContractTests : RemoteTargetContractTests
{
    protected override VolumeKind Kind => VolumeKind.Filesystem;

    protected override async Task<VolumeDriver> CreateSourceDriverAsync() =>
        await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_A", "ZFS pool A (zfs-fuse)") });

    protected override VolumeResolver ServerResolver() =>
        new VolumeResolver().AddZfs(new ZfsDriverOptions { Root = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_B", "ZFS pool B (zfs-fuse)") });

    protected override (string Scheme, string Location) TargetLocation() => ("zfs", BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_B", "ZFS pool B (zfs-fuse)"));

    protected override async Task<VolumeDriver> CreateLocalTargetDriverAsync() =>
        await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_B", "ZFS pool B (zfs-fuse)") });
}

/// <summary>Btrfs mount A to mount B through a session (native btrfs send).</summary>
public sealed class RemoteBtrfsContractTests : RemoteTargetContractTests
{
    protected override VolumeKind Kind => VolumeKind.Filesystem;

    protected override Task<VolumeDriver> CreateSourceDriverAsync() =>
        Task.FromResult<VolumeDriver>(new BtrfsDriver(BackendRequirement.RequireEnvironment("DELTASNAP_BTRFS_MOUNT_A", "Btrfs mount A")));

    protected override VolumeResolver ServerResolver() => new VolumeResolver().AddBtrfs();

    protected override (string Scheme, string Location) TargetLocation() => ("btrfs", BackendRequirement.RequireEnvironment("DELTASNAP_BTRFS_MOUNT_B", "Btrfs mount B"));

    protected override Task<VolumeDriver> CreateLocalTargetDriverAsync() =>
        Task.FromResult<VolumeDriver>(new BtrfsDriver(BackendRequirement.RequireEnvironment("DELTASNAP_BTRFS_MOUNT_B", "Btrfs mount B")));
}
