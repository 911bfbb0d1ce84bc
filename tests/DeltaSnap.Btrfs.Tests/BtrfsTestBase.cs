using DeltaSnap.Drivers;
using DeltaSnap.Testing;

namespace DeltaSnap.Btrfs.Tests;

/// <summary>
/// Gives each test two fresh driver roots, one on each real loop-mounted Btrfs file system
/// (<c>DELTASNAP_BTRFS_MOUNT_A</c> and <c>_B</c> from <c>scripts/backends/up.sh</c>), and removes every
/// subvolume below them afterwards.
/// </summary>
public abstract class BtrfsTestBase
{
    private readonly List<string> _roots = [];

    protected string MountA { get; private set; } = "";
    protected string MountB { get; private set; } = "";

    /// <summary>Every message the two drivers logged.</summary>
    protected CapturingLoggerFactory Logs { get; private set; } = null!;

    /// <summary>The driver on file system A (the source side).</summary>
    protected BtrfsDriver Source { get; private set; } = null!;

    /// <summary>The driver on file system B (the target side).</summary>
    protected BtrfsDriver Target { get; private set; } = null!;

    [SetUp]
    public void CreateRoots()
    {
        MountA = RequireMount("DELTASNAP_BTRFS_MOUNT_A");
        MountB = RequireMount("DELTASNAP_BTRFS_MOUNT_B");
        BackendRequirement.RequireProgram("btrfs", "btrfs-progs");
        Logs = new CapturingLoggerFactory();
        Source = new BtrfsDriver(NewRoot(MountA), loggerFactory: Logs);
        Target = new BtrfsDriver(NewRoot(MountB), loggerFactory: Logs);
    }

    [TearDown]
    public async Task RemoveRoots()
    {
        if (Source is not null)
        {
            await Source.DisposeAsync();
        }
        if (Target is not null)
        {
            await Target.DisposeAsync();
        }
        foreach (var root in _roots)
        {
            RemoveTree(root);
        }
        _roots.Clear();
        Logs?.Dispose();
    }

    /// <summary>A fresh empty directory below <paramref name="mount"/>, removed after the test.</summary>
    protected string NewRoot(string mount)
    {
        var root = Path.Combine(mount, "t-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        _roots.Add(root);
        return root;
    }

    /// <summary>Creates a filesystem volume.</summary>
    protected static async Task<BtrfsVolume> CreateVolumeAsync(BtrfsDriver driver, string name) =>
        (BtrfsVolume)await driver.CreateVolumeAsync(name, new VolumeCreateOptions { Kind = VolumeKind.Filesystem });

    /// <summary>What <c>btrfs subvolume show</c> says, read independently of the driver.</summary>
    protected static Dictionary<string, string> Show(string path)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in BackendRequirement.Run("btrfs", "subvolume", "show", path).Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
            }
        }
        return fields;
    }

    /// <summary>Names of the entries in a directory, sorted; empty when it does not exist.</summary>
    protected static string[] Entries(string directory) =>
        Directory.Exists(directory)
            ? Directory.EnumerateFileSystemEntries(directory).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray()
            : [];

    private static string RequireMount(string variable)
    {
        var mount = BackendRequirement.RequireEnvironment(variable, "A loop-mounted Btrfs file system");
        BackendRequirement.Require(Directory.Exists(mount), $"The Btrfs mount {mount} ({variable})");
        return mount;
    }

    /// <summary>Deletes every subvolume below <paramref name="root"/> (deepest first), then the directory.</summary>
    private static void RemoveTree(string root)
    {
        if (!Directory.Exists(root))
        {
            return;
        }
        // Subvolume roots have inode 256 on Btrfs; `stat` tells without a btrfs call per directory.
        var directories = Directory.EnumerateDirectories(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .OrderByDescending(d => d.Length)
            .ToList();
        foreach (var directory in directories)
        {
            if (!Directory.Exists(directory))
            {
                continue;
            }
            var inode = BackendRequirement.Run("stat", "-c", "%i", directory).Trim();
            if (inode == "256")
            {
                try
                {
                    BackendRequirement.Run("btrfs", "-q", "subvolume", "delete", directory);
                }
                catch (InvalidOperationException)
                {
                    // Best effort; the file system is thrown away after the run.
                }
            }
        }
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
