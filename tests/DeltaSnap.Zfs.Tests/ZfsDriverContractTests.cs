using DeltaSnap.Drivers;
using DeltaSnap.Testing;

namespace DeltaSnap.Zfs.Tests;

/// <summary>The driver contract, between the two real zfs-fuse pools (source on pool A, target on pool B).</summary>
[TestFixture]
public class ZfsDriverContractTests : DriverContractTests
{
    protected override VolumeKind Kind => VolumeKind.Filesystem;

    protected override async Task<VolumeDriver> CreateSourceDriverAsync() =>
        await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_A", "ZFS pool A (zfs-fuse)") });

    protected override async Task<VolumeDriver> CreateTargetDriverAsync() =>
        await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_B", "ZFS pool B (zfs-fuse)") });
}

/// <summary>The public surface of DeltaSnap.Zfs against its PublicAPI.Shipped.txt.</summary>
[TestFixture]
public class ZfsPublicApiTests
{
    [Test]
    public void PublicApi_matchesShippedFile() => PublicApiSurface.AssertMatchesShipped(typeof(ZfsDriver).Assembly, "DeltaSnap.Zfs");
}
