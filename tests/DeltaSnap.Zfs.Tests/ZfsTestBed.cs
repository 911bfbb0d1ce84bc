using System.Security.Cryptography;
using System.Text;
using DeltaSnap.Drivers;
using DeltaSnap.Testing;

namespace DeltaSnap.Zfs.Tests;

/// <summary>
/// The two real zfs-fuse pools of <c>scripts/backends/up.sh</c> (<c>DELTASNAP_ZFS_POOL_A</c>/<c>_B</c>): a driver
/// rooted at each, unique dataset names per test, and everything a test made destroyed afterwards.
/// </summary>
internal sealed class ZfsTestBed : IAsyncDisposable
{
    private readonly List<(ZfsDriver Driver, string Name)> _made = [];

    private ZfsTestBed(ZfsDriver a, ZfsDriver b, string poolA, string poolB)
    {
        A = a;
        B = b;
        PoolA = poolA;
        PoolB = poolB;
    }

    public ZfsDriver A { get; }

    public ZfsDriver B { get; }

    public string PoolA { get; }

    public string PoolB { get; }

    /// <summary>Fails or ignores the test (BackendRequirement) unless both pools are up; opens a driver on each.</summary>
    public static async Task<ZfsTestBed> OpenAsync(ZfsDriverOptions? options = null)
    {
        var poolA = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_A", "ZFS pool A (zfs-fuse)");
        var poolB = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_B", "ZFS pool B (zfs-fuse)");
        BackendRequirement.RequireProgram("zfs", "zfs-fuse");
        options ??= new ZfsDriverOptions();
        var a = await ZfsDriver.OpenAsync(options with { Root = poolA });
        var b = await ZfsDriver.OpenAsync(options with { Root = poolB });
        return new ZfsTestBed(a, b, poolA, poolB);
    }

    /// <summary>A dataset name no other test uses.</summary>
    public static string UniqueName(string stem) => $"{stem}-{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>Remembers a volume name to destroy at the end (whether or not the test made it).</summary>
    public string Track(ZfsDriver driver, string name)
    {
        _made.Add((driver, name));
        return name;
    }

    /// <summary>Creates a file system volume on <paramref name="driver"/> and tracks it.</summary>
    public async Task<ZfsVolume> CreateAsync(ZfsDriver driver, string stem)
    {
        var name = Track(driver, UniqueName(stem));
        return (ZfsVolume)await driver.CreateVolumeAsync(name, new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (driver, name) in Enumerable.Reverse(_made))
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
                await TestContext.Progress.WriteLineAsync($"cleanup of {name} failed: {e.Message}");
            }
        }
    }

    /// <summary>Runs <c>zfs</c> directly (to inspect or to act as another tool would).</summary>
    public static string Zfs(params string[] arguments) => BackendRequirement.Run("zfs", arguments);

    /// <summary>The exact GUID of a snapshot as <c>zfs get -Hp</c> reports it.</summary>
    public static string GuidOf(string fullSnapshotName) => Zfs("get", "-H", "-p", "-o", "value", "guid", fullSnapshotName).Trim();
}

/// <summary>Writes file trees and digests them (paths, sizes, modes and contents, in a stable order).</summary>
internal static class Trees
{
    /// <summary>Writes <paramref name="files"/> files of random content (sizes vary around <paramref name="averageSize"/>) under <paramref name="root"/>/<paramref name="directory"/>.</summary>
    public static void WriteRandom(string root, string directory, int files, int averageSize, int seed)
    {
        var random = new Random(seed);
        var dir = Path.Combine(root, directory);
        Directory.CreateDirectory(dir);
        for (var i = 0; i < files; i++)
        {
            var data = new byte[random.Next(averageSize / 2, averageSize * 3 / 2 + 1)];
            random.NextBytes(data);
            File.WriteAllBytes(Path.Combine(dir, $"f{i:D4}.bin"), data);
        }
    }

    /// <summary>Overwrites <paramref name="length"/> bytes in the middle of a file with random bytes.</summary>
    public static void Modify(string file, int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Write);
        stream.Position = Math.Max(0, stream.Length / 2 - length / 2);
        stream.Write(data);
    }

    /// <summary>A SHA-256 over the tree: every entry's relative path, type, size and content, sorted ordinally.</summary>
    public static string Digest(string root)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var entries = Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(p => Path.GetRelativePath(root, p))
            .Where(p => !p.StartsWith(".zfs", StringComparison.Ordinal))
            .OrderBy(p => p, StringComparer.Ordinal);
        foreach (var relative in entries)
        {
            var full = Path.Combine(root, relative);
            hash.AppendData(Encoding.UTF8.GetBytes(relative + "\0"));
            if (Directory.Exists(full))
            {
                hash.AppendData("d\0"u8);
            }
            else
            {
                var bytes = File.ReadAllBytes(full);
                hash.AppendData(Encoding.UTF8.GetBytes($"f{bytes.Length}\0"));
                hash.AppendData(bytes);
            }
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
