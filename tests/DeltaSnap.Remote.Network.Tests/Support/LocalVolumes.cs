using System.IO.Hashing;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;

namespace DeltaSnap.Remote.Network.Tests.Support;

/// <summary>Volumes set up and read in this process through the library (never while a tool process uses the same store).</summary>
internal static class LocalVolumes
{
    /// <summary>A resolver with the tool's backends (lvol creating missing stores; dir: for the rsync route).</summary>
    public static VolumeResolver Resolver() =>
        new VolumeResolver().AddLvol(new LvolBackendOptions { CreateMissingStores = true, StoreClusterSize = 64 << 10 }).AddZfs().AddBtrfs().AddRbd().AddDir();

    /// <summary>Creates a block volume of <paramref name="size"/> bytes with random data at <paramref name="writes"/> (offset, length) and takes snapshot <paramref name="snapshot"/>.</summary>
    public static async Task CreateBlockAsync(string address, long size, IEnumerable<(long Offset, int Length)> writes, int seed, string? snapshot)
    {
        var volume = await Resolver().CreateVolumeAsync(address, new VolumeCreateOptions { Kind = VolumeKind.Block, Size = size });
        await using var driver = volume.Driver;
        await WriteAsync(volume, writes, seed);
        if (snapshot is not null)
        {
            await volume.CreateSnapshotAsync(snapshot);
        }
    }

    /// <summary>Writes random data into an existing volume's live state, then optionally snapshots it.</summary>
    public static async Task ChangeAsync(string address, IEnumerable<(long Offset, int Length)> writes, int seed, string? snapshot)
    {
        var volume = await Resolver().OpenVolumeAsync(address);
        await using var driver = volume.Driver;
        await WriteAsync(volume, writes, seed);
        if (snapshot is not null)
        {
            await volume.CreateSnapshotAsync(snapshot);
        }
    }

    /// <summary>XXH128 of the whole live state (or a snapshot).</summary>
    public static async Task<string> HashAsync(string address, string? snapshot = null)
    {
        var volume = await Resolver().OpenVolumeAsync(address);
        await using var driver = volume.Driver;
        await using var device = await volume.OpenDeviceAsync(snapshot);
        var hash = new XxHash128();
        var buffer = new byte[1 << 20];
        for (long offset = 0; offset < device.Length; offset += buffer.Length)
        {
            var n = (int)Math.Min(buffer.Length, device.Length - offset);
            await device.ReadAsync(offset, buffer.AsMemory(0, n));
            hash.Append(buffer.AsSpan(0, n));
        }
        return Convert.ToHexStringLower(hash.GetCurrentHash());
    }

    /// <summary>The names of the volume's snapshots, oldest first.</summary>
    public static async Task<string[]> SnapshotsAsync(string address)
    {
        var volume = await Resolver().OpenVolumeAsync(address);
        await using var driver = volume.Driver;
        return [.. (await volume.GetLineageAsync()).Select(s => s.Name)];
    }

    /// <summary>Random writes: <paramref name="count"/> blocks of <paramref name="length"/> bytes at random aligned offsets below <paramref name="size"/>.</summary>
    public static IEnumerable<(long Offset, int Length)> Scattered(long size, int count, int length, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            yield return (random.NextInt64(size / length) * length, length);
        }
    }

    private static async Task WriteAsync(Volume volume, IEnumerable<(long Offset, int Length)> writes, int seed)
    {
        var random = new Random(seed);
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        foreach (var (offset, length) in writes)
        {
            var data = new byte[length];
            random.NextBytes(data);
            await device.WriteAsync(offset, data);
        }
        await device.FlushAsync();
    }

    /// <summary>Creates a file system volume, lets <paramref name="write"/> fill its live tree, and takes snapshot <paramref name="snapshot"/>.</summary>
    public static async Task CreateFilesystemAsync(string address, string snapshot, Func<string, Task> write)
    {
        var volume = await Resolver().CreateVolumeAsync(address, new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        await using var driver = volume.Driver;
        await write(await volume.GetPathAsync(null));
        await volume.CreateSnapshotAsync(snapshot);
    }

    /// <summary>Lets <paramref name="change"/> change an existing file system volume's live tree, then takes snapshot <paramref name="snapshot"/>.</summary>
    public static async Task ChangeFilesystemAsync(string address, string snapshot, Func<string, Task> change)
    {
        var volume = await Resolver().OpenVolumeAsync(address);
        await using var driver = volume.Driver;
        await change(await volume.GetPathAsync(null));
        await volume.CreateSnapshotAsync(snapshot);
    }

    /// <summary>The digest of a file system volume's live tree (<see cref="DeltaSnap.Testing.TreeDigestOptions.Full"/>).</summary>
    public static async Task<string> TreeAsync(string address)
    {
        var volume = await Resolver().OpenVolumeAsync(address);
        await using var driver = volume.Driver;
        return DeltaSnap.Testing.TreeDigest.Compute(await volume.GetPathAsync(null), DeltaSnap.Testing.TreeDigestOptions.Full);
    }

    /// <summary>Deletes a volume if it exists; a failure is only written to the test's output (cleanup).</summary>
    public static async Task DeleteAsync(string address)
    {
        try
        {
            var resolver = Resolver();
            var parsed = resolver.ParseAddress(address);
            await using var driver = await resolver.OpenDriverAsync(parsed.Scheme, parsed.Location);
            if (await driver.VolumeExistsAsync(parsed.Name))
            {
                await driver.DeleteVolumeAsync(parsed.Name);
            }
        }
        catch (Exception e) when (e is DeltaSnapException or IOException)
        {
            NUnit.Framework.TestContext.Out.WriteLine($"Cleaning up {address}: {e.Message}");
        }
    }
}
