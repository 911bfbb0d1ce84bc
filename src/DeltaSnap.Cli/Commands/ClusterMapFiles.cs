using DeltaSnap.Checksums;
using DeltaSnap.Devices;

namespace DeltaSnap.Cli.Commands;

/// <summary>The two things a command can be given for a volume: an image to checksum, or a saved checksum map.</summary>
internal static class ClusterMapFiles
{
    private static readonly byte[] MapMagic = "DSNAPCKS"u8.ToArray();

    /// <summary>Whether <paramref name="path"/> starts with the magic bytes of a saved <see cref="ClusterChecksums"/> map.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The path is a directory or cannot be read.</exception>
    public static async Task<bool> IsSavedMapAsync(string path, CancellationToken cancellationToken)
    {
        var stream = InputFiles.OpenRead(path, sequential: false);
        await using (stream.ConfigureAwait(false))
        {
            var start = new byte[MapMagic.Length];
            var read = await stream.ReadAtLeastAsync(start, start.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return read == start.Length && start.AsSpan().SequenceEqual(MapMagic);
        }
    }

    /// <summary>Loads a saved map; a damaged one is reported with its path.</summary>
    /// <exception cref="CorruptDataException">The map is truncated, corrupt or of an unknown version.</exception>
    public static async Task<ClusterChecksums> LoadAsync(string path, CancellationToken cancellationToken)
    {
        InputFiles.CheckIsFile(path);
        try
        {
            return await ClusterChecksums.LoadAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (CorruptDataException e)
        {
            throw new CorruptDataException($"{path} is not a usable checksum map: {e.Message}", e);
        }
    }

    /// <summary>Reads the image (or block device) at <paramref name="path"/> once, read-only, and computes its map.</summary>
    public static async Task<ClusterChecksums> ComputeAsync(string path, ClusterChecksumOptions options, CancellationToken cancellationToken)
    {
        InputFiles.CheckIsFile(path);
        using var device = FileBlockDevice.Open(path, readOnly: true);
        return await ClusterChecksums.ComputeAsync(device, options, progress: null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Bytes read to compute <paramref name="map"/>: the allocated clusters.</summary>
    public static long AllocatedBytes(ClusterChecksums map)
    {
        ArgumentNullException.ThrowIfNull(map);
        long bytes = 0;
        for (long i = 0; i < map.Layout.ClusterCount; i++)
        {
            if (map.GetState(i) != ClusterState.Unallocated)
            {
                bytes += map.Layout.LengthOf(i);
            }
        }
        return bytes;
    }
}
