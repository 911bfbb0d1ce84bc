using System.Runtime.InteropServices;

namespace DeltaSnap.Rsync;

/// <summary>
/// Trees whose files are hard links into another tree (a <c>dir:</c> volume's live tree made from a snapshot): telling
/// whether one still is such a copy of the other, and swapping a finished tree into place.
/// </summary>
internal static class LinkedTrees
{
    private const ushort TypeMask = 0xF000;
    private const ushort DirectoryType = 0x4000;

    /// <summary>
    /// Whether <paramref name="tree"/> holds exactly <paramref name="original"/>'s entries, every one that is not a
    /// directory the very same inode (a hard link, so the same data and metadata), every directory with the same mode,
    /// owner and modification time. False at the first difference; false when either cannot be read.
    /// </summary>
    public static bool IsLinkedCopy(string tree, string original, CancellationToken cancellationToken) =>
        FalseWhenUnreadable(() => Compare(tree, original, cancellationToken));

    private static bool FalseWhenUnreadable(Func<bool> walk)
    {
        try
        {
            return walk();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool Compare(string tree, string original, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!TryStat(tree, out var a) || !TryStat(original, out var b) || !SameDirectory(a, b))
        {
            return false;
        }
        var names = Names(tree);
        var originalNames = Names(original);
        if (!names.SetEquals(originalNames))
        {
            return false;
        }
        foreach (var name in names)
        {
            var path = Path.Combine(tree, name);
            var originalPath = Path.Combine(original, name);
            if (!TryStat(path, out var entry) || !TryStat(originalPath, out var originalEntry))
            {
                return false;
            }
            if ((entry.Mode & TypeMask) == DirectoryType)
            {
                if (!Compare(path, originalPath, cancellationToken))
                {
                    return false;
                }
            }
            else if (entry.Inode != originalEntry.Inode || entry.DeviceMajor != originalEntry.DeviceMajor || entry.DeviceMinor != originalEntry.DeviceMinor)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Whether no entry of <paramref name="tree"/> (the tree itself included) changed at or after <paramref name="clock"/>
    /// (nanoseconds since the epoch): every change to an entry (data, metadata, a name added, removed or renamed in a
    /// directory) sets its change time to the file system's clock. False at the first newer entry or unreadable one.
    /// </summary>
    public static bool IsUnchangedSince(string tree, long clock, CancellationToken cancellationToken) =>
        FalseWhenUnreadable(() => UnchangedSince(tree, clock, cancellationToken));

    private static bool UnchangedSince(string directory, long clock, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!TryStat(directory, out var self) || ChangeTime(self) >= clock)
        {
            return false;
        }
        foreach (var name in Names(directory))
        {
            var path = Path.Combine(directory, name);
            if (!TryStat(path, out var entry))
            {
                return false;
            }
            if ((entry.Mode & TypeMask) == DirectoryType ? !UnchangedSince(path, clock, cancellationToken) : ChangeTime(entry) >= clock)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The file system's clock now: the change time it gives <paramref name="probe"/> (created or rewritten).</summary>
    public static long ReadClock(string probe)
    {
        File.Delete(probe); // a new inode: its change time is now
        File.WriteAllBytes(probe, []);
        if (!TryStat(probe, out var buffer))
        {
            throw new IOException($"Cannot read the change time of {probe} (errno {Marshal.GetLastPInvokeError()}).");
        }
        return ChangeTime(buffer);
    }

    private static long ChangeTime(NativeMethods.StatxBuffer buffer) => buffer.ChangedSeconds * 1_000_000_000 + buffer.ChangedNanoseconds;

    private static bool SameDirectory(NativeMethods.StatxBuffer a, NativeMethods.StatxBuffer b) =>
        (a.Mode & TypeMask) == DirectoryType && a.Mode == b.Mode && a.Uid == b.Uid && a.Gid == b.Gid
        && a.ModifiedSeconds == b.ModifiedSeconds && a.ModifiedNanoseconds == b.ModifiedNanoseconds;

    private static HashSet<string> Names(string directory) =>
        new(new DirectoryInfo(directory).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = false }).Select(e => e.Name),
            StringComparer.Ordinal);

    private static bool TryStat(string path, out NativeMethods.StatxBuffer buffer) =>
        NativeMethods.Statx(NativeMethods.AtCurrentDirectory, path, NativeMethods.AtSymlinkNoFollow, NativeMethods.StatxBasicStats, out buffer) == 0;

    /// <summary>Swaps two directories atomically (<c>renameat2</c> with <c>RENAME_EXCHANGE</c>); false when the file system or the kernel cannot.</summary>
    /// <exception cref="IOException">The swap failed for another reason.</exception>
    public static bool TryExchange(string a, string b)
    {
        if (NativeMethods.RenameAt2(NativeMethods.AtCurrentDirectory, a, NativeMethods.AtCurrentDirectory, b, NativeMethods.RenameExchange) == 0)
        {
            return true;
        }
        var errno = Marshal.GetLastPInvokeError();
        // EINVAL (no RENAME_EXCHANGE here), EXDEV (two file systems), EBUSY (a mount point), ENOSYS: the caller copies instead.
        if (errno is 22 or 18 or 16 or 38)
        {
            return false;
        }
        throw new IOException($"Exchanging {a} and {b} failed (errno {errno}).");
    }
}
