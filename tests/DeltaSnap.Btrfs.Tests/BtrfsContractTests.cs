using DeltaSnap.Drivers;
using DeltaSnap.Testing;

namespace DeltaSnap.Btrfs.Tests;

/// <summary>The driver contract, run against the two real loop-mounted Btrfs file systems (source on A, target on B).</summary>
public abstract class BtrfsContractFixture : DriverContractTests
{
    private readonly List<string> _roots = [];

    protected override VolumeKind Kind => VolumeKind.Filesystem;

    /// <summary>The drivers' options.</summary>
    protected abstract BtrfsDriverOptions DriverOptions { get; }

    protected override Task<VolumeDriver> CreateSourceDriverAsync() => Task.FromResult<VolumeDriver>(new BtrfsDriver(NewRoot("DELTASNAP_BTRFS_MOUNT_A"), DriverOptions));

    protected override Task<VolumeDriver> CreateTargetDriverAsync() => Task.FromResult<VolumeDriver>(new BtrfsDriver(NewRoot("DELTASNAP_BTRFS_MOUNT_B"), DriverOptions));

    [OneTimeTearDown]
    public void RemoveRoots()
    {
        foreach (var root in _roots)
        {
            try
            {
                // The fixture deleted its volumes; what is left are the empty root and snapshot directories.
                Directory.Delete(root, recursive: true);
            }
            catch (IOException e)
            {
                TestContext.Out.WriteLine($"Could not remove {root}: {e.Message}");
            }
        }
    }

    private string NewRoot(string variable)
    {
        var mount = BackendRequirement.RequireEnvironment(variable, "A loop-mounted Btrfs file system");
        BackendRequirement.Require(Directory.Exists(mount), $"The Btrfs mount {mount} ({variable})");
        BackendRequirement.RequireProgram("btrfs", "btrfs-progs");
        var root = Path.Combine(mount, "contract-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(root);
        _roots.Add(root);
        return root;
    }
}

/// <summary>The driver contract with the default options (subvolume information read by the ioctl).</summary>
public sealed class BtrfsContractTests : BtrfsContractFixture
{
    protected override BtrfsDriverOptions DriverOptions => new();
}

/// <summary>The driver contract again, with subvolume information read by <c>btrfs subvolume show</c> instead of the ioctl.</summary>
public sealed class BtrfsCommandOnlyContractTests : BtrfsContractFixture
{
    protected override BtrfsDriverOptions DriverOptions => new() { ReadSubvolumeInfoDirectly = false };
}
