using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Cli.Commands;

/// <summary>Opens a volume named by URI (<c>lvol:STORE#VOL</c>, <c>zfs:POOL/DS</c>, <c>btrfs:/PATH</c>, <c>rbd:POOL/IMAGE</c>) with its backend's driver.</summary>
internal static class VolumeResolver
{
    /// <summary>The schemes this tool can open.</summary>
    public static IReadOnlyList<string> Schemes { get; } = ["lvol", "zfs", "btrfs", "rbd", "dir", "file"];

    /// <summary>
    /// Opens the volume at <paramref name="address"/>. The caller disposes <c>volume.Driver</c> when done.
    /// </summary>
    /// <exception cref="UsageException">The address is malformed, names a backend this tool cannot open, or a volume name the backend refuses.</exception>
    public static async Task<Volume> OpenAsync(string address, ILoggerFactory? loggerFactory, CancellationToken cancellationToken)
    {
        VolumeAddress parsed;
        try
        {
            parsed = VolumeAddress.Parse(address);
        }
        catch (FormatException e)
        {
            throw new UsageException(e.Message);
        }
        try
        {
            return parsed.Scheme switch
            {
                "lvol" => await DeltaSnap.Lvol.LvolDriver.OpenAddressAsync(parsed, loggerFactory, cancellationToken).ConfigureAwait(false),
                "rbd" => await DeltaSnap.Ceph.RbdDriver.OpenAddressAsync(parsed, loggerFactory, cancellationToken).ConfigureAwait(false),
                "zfs" => await DeltaSnap.Zfs.ZfsDriver.OpenAddressAsync(parsed, loggerFactory, cancellationToken).ConfigureAwait(false),
                "btrfs" => await DeltaSnap.Btrfs.BtrfsDriver.OpenAddressAsync(parsed, loggerFactory, cancellationToken).ConfigureAwait(false),
                "dir" => await DeltaSnap.Rsync.DirDriver.OpenAddressAsync(parsed, loggerFactory, cancellationToken).ConfigureAwait(false),
                "file" => await DeltaSnap.Rsync.FileDriver.OpenAddressAsync(parsed, loggerFactory, cancellationToken).ConfigureAwait(false),
                _ => throw new UsageException($"'{address}': the {parsed.Scheme} backend cannot be opened by this tool; it opens {string.Join(", ", Schemes)}."),
            };
        }
        catch (ArgumentException e)
        {
            // The backend refused the volume's name (a leading '-', a '..' component, a forbidden character).
            throw UsageException.FromArgument(e);
        }
    }
}
