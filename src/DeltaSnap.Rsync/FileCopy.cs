using System.Buffers;
using System.Runtime.InteropServices;
using DeltaSnap.Devices;

namespace DeltaSnap.Rsync;

/// <summary>How a snapshot copy of a file or tree was made.</summary>
public enum SnapshotCopyMethod
{
    /// <summary>Reflinks (FICLONE): the copy shares every block with its origin until one side changes.</summary>
    Reflink,

    /// <summary>A full copy of the allocated ranges only (SEEK_DATA/SEEK_HOLE), holes kept as holes.</summary>
    SparseCopy,

    /// <summary>Hard links to the previous snapshot's unchanged files (<c>rsync --link-dest</c>), copies of changed ones.</summary>
    HardLinkTree,
}

/// <summary>Whole-file copies: a reflink where the file system can, a sparse copy otherwise.</summary>
internal static class FileCopy
{
    /// <summary>Whether the file system holding <paramref name="directory"/> can reflink (tries it on two scratch files).</summary>
    public static bool CanReflink(string directory)
    {
        var a = Path.Combine(directory, ".deltasnap-reflink-probe-" + Guid.NewGuid().ToString("N")[..8]);
        var b = a + ".clone";
        try
        {
            File.WriteAllBytes(a, [1, 2, 3, 4]);
            return TryReflink(a, b);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
        finally
        {
            File.Delete(a);
            File.Delete(b);
        }
    }

    /// <summary>Makes <paramref name="destination"/> (which must not exist) a reflink of <paramref name="source"/>; false (and no destination) when the file system cannot.</summary>
    public static bool TryReflink(string source, string destination)
    {
        using (var from = File.OpenHandle(source, FileMode.Open, FileAccess.Read))
        using (var to = File.OpenHandle(destination, FileMode.CreateNew, FileAccess.Write))
        {
            if (NativeMethods.IoctlClone(to, NativeMethods.FiClone, from) == 0)
            {
                CopyMode(source, destination);
                return true;
            }
        }
        var errno = Marshal.GetLastPInvokeError();
        File.Delete(destination);
        // EOPNOTSUPP, EXDEV, EINVAL, ENOTTY: this file system (pair) cannot clone; anything else is a real error.
        if (errno is 95 or 18 or 22 or 25)
        {
            return false;
        }
        throw new IOException($"Reflinking {source} to {destination} failed (errno {errno}).");
    }

    /// <summary>Copies the allocated ranges of <paramref name="source"/> into a new sparse file <paramref name="destination"/>.</summary>
    public static async Task SparseCopyAsync(string source, string destination, CancellationToken cancellationToken)
    {
        var from = FileBlockDevice.Open(source, readOnly: true);
        await using (from.ConfigureAwait(false))
        {
            var to = FileBlockDevice.Create(destination, from.Length);
            await using (to.ConfigureAwait(false))
            {
                const int Chunk = 1 << 20;
                var buffer = ArrayPool<byte>.Shared.Rent(Chunk);
                try
                {
                    await foreach (var range in from.GetAllocatedRangesAsync(new ByteRange(0, from.Length), cancellationToken).ConfigureAwait(false))
                    {
                        for (var offset = range.Offset; offset < range.End; offset += Chunk)
                        {
                            var n = (int)Math.Min(Chunk, range.End - offset);
                            await from.ReadAsync(offset, buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                            if (buffer.AsSpan(0, n).ContainsAnyExcept((byte)0))
                            {
                                await to.WriteAsync(offset, buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                            }
                        }
                    }
                    await to.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        CopyMode(source, destination);
    }

    private static void CopyMode(string source, string destination)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(destination, File.GetUnixFileMode(source));
        }
    }

    /// <summary>A reflink where possible, a sparse copy otherwise; says which.</summary>
    public static async Task<SnapshotCopyMethod> CopyAsync(string source, string destination, bool tryReflink, CancellationToken cancellationToken)
    {
        if (tryReflink && TryReflink(source, destination))
        {
            return SnapshotCopyMethod.Reflink;
        }
        await SparseCopyAsync(source, destination, cancellationToken).ConfigureAwait(false);
        return SnapshotCopyMethod.SparseCopy;
    }
}
