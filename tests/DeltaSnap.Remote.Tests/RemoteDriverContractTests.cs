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

    protected override VolumeResolver ServerResolver() => new VolumeResolver().Add(new RootedZfsBackend());

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

/// <summary>
/// A ZFS backend whose drivers are rooted at their location (the registered one names whole datasets and takes no root),
/// so that the contract fixture's relative volume names work on the server as they do locally.
/// </summary>
internal sealed class RootedZfsBackend() : VolumeBackend("zfs")
{
    public override string AddressSyntax => "zfs:ROOT (drivers only)";

    protected override VolumeAddress ParseAddressCore(string path) => throw new FormatException("This test backend opens drivers only.");

    protected override async Task<VolumeDriver> OpenDriverCoreAsync(string location, Microsoft.Extensions.Logging.ILoggerFactory loggerFactory, CancellationToken cancellationToken) =>
        await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = location }, loggerFactory, cancellationToken);
}

/// <summary>lvol to lvol with the source driver on the other end of a session (pull): sends and source snapshots cross the protocol.</summary>
public sealed class RemotePullLvolContractTests : DriverContractTests
{
    private readonly TempDirectory _directory = new();
    private Loopback? _loop;

    protected override VolumeKind Kind => VolumeKind.Block;

    protected override async Task<VolumeDriver> CreateSourceDriverAsync()
    {
        await (await LvolDriver.CreateStoreAsync(_directory.File("source.lvs"))).DisposeAsync();
        _loop = await Loopback.StartAsync(new VolumeResolver().AddLvol());
        return await _loop.Session.OpenDriverAsync("lvol", _directory.File("source.lvs"));
    }

    protected override async Task<VolumeDriver> CreateTargetDriverAsync() => await LvolDriver.CreateStoreAsync(_directory.File("target.lvs"));

    [Test]
    public void Source_isRemote() => Assert.That(SourceDriver, Is.TypeOf<RemoteVolumeDriver>());

    [OneTimeTearDown]
    public async Task CloseSessionAsync()
    {
        if (SourceDriver is not null)
        {
            await SourceDriver.DisposeAsync();
        }
        if (_loop is not null)
        {
            await _loop.DisposeAsync();
        }
        _directory.Dispose();
    }
}
