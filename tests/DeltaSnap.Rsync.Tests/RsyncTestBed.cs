using DeltaSnap.Btrfs;
using DeltaSnap.Drivers;
using DeltaSnap.Zfs;

namespace DeltaSnap.Rsync.Tests;

/// <summary>
/// Volumes on the real backends for one test: ZFS datasets on the zfs-fuse pools (<c>DELTASNAP_ZFS_POOL_A/B</c>),
/// Btrfs subvolumes below <c>DELTASNAP_BTRFS_MOUNT_A/B</c>, and <c>dir:</c>/<c>file:</c> volumes in a temporary
/// directory (ext4 here: no reflinks) or on a Btrfs mount (reflinks). Everything made is removed afterwards.
/// </summary>
internal sealed class RsyncTestBed : IAsyncDisposable
{
    private readonly List<(VolumeDriver Driver, string Name)> _volumes = [];
    private readonly List<string> _directories = [];
    private readonly List<VolumeDriver> _drivers = [];

    public static string Unique(string stem) => $"{stem}-{Guid.NewGuid().ToString("N")[..10]}";

    public async Task<Volume> ZfsAsync(char pool)
    {
        var name = BackendRequirement.RequireEnvironment(pool == 'a' ? "DELTASNAP_ZFS_POOL_A" : "DELTASNAP_ZFS_POOL_B", "ZFS pool (zfs-fuse)");
        BackendRequirement.RequireProgram("zfs", "zfs-fuse");
        var driver = await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = name });
        _drivers.Add(driver);
        var volume = Unique("rs");
        _volumes.Add((driver, volume));
        return await driver.CreateVolumeAsync(volume, new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
    }

    public async Task<Volume> BtrfsAsync(char mount)
    {
        var root = NewDirectory(BtrfsMount(mount));
        BackendRequirement.RequireProgram("btrfs", "btrfs-progs");
        var driver = new BtrfsDriver(root);
        _drivers.Add(driver);
        _volumes.Add((driver, "vol"));
        return await driver.CreateVolumeAsync("vol", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
    }

    public static string BtrfsMount(char mount) =>
        BackendRequirement.RequireEnvironment(mount == 'a' ? "DELTASNAP_BTRFS_MOUNT_A" : "DELTASNAP_BTRFS_MOUNT_B", "Btrfs mount");

    /// <summary>A dir: volume in a fresh directory below <paramref name="parent"/> (default: the temporary directory).</summary>
    public async Task<DirVolume> DirAsync(string? parent = null)
    {
        var driver = new DirDriver(NewDirectory(parent ?? Path.GetTempPath()));
        _drivers.Add(driver);
        return (DirVolume)await driver.CreateVolumeAsync("vol", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
    }

    /// <summary>A file: volume of <paramref name="size"/> bytes in a fresh directory below <paramref name="parent"/>.</summary>
    public async Task<FileVolume> FileAsync(long size, string? parent = null)
    {
        var driver = new FileDriver(NewDirectory(parent ?? Path.GetTempPath()));
        _drivers.Add(driver);
        return (FileVolume)await driver.CreateVolumeAsync("disk.img", new VolumeCreateOptions { Kind = VolumeKind.Block, Size = size });
    }

    public string NewDirectory(string parent)
    {
        var path = Path.Combine(parent, Unique("rsync-test"));
        Directory.CreateDirectory(path);
        _directories.Add(path);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (driver, name) in Enumerable.Reverse(_volumes))
        {
            try
            {
                if (await driver.VolumeExistsAsync(name))
                {
                    await driver.DeleteVolumeAsync(name);
                }
            }
            catch (Exception e)
            {
                await TestContext.Progress.WriteLineAsync($"cleanup of {driver.Scheme}:{name} failed: {e.Message}");
            }
        }
        foreach (var driver in _drivers)
        {
            await driver.DisposeAsync();
        }
        foreach (var directory in _directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await TestContext.Progress.WriteLineAsync($"cleanup of {directory} failed: {e.Message}");
            }
        }
    }
}
