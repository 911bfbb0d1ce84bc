namespace DeltaSnap.Rsync;

/// <summary>
/// The block size of an in-place update (<see cref="RsyncTreeSynchronizerOptions.InPlaceBlockSize"/>): rsync's receiver
/// splits each file it already has into blocks of this size, keeps a checksum of each in memory and rewrites only the
/// blocks whose data changed. Which side's files count: the receiver's, whose old files are split.
/// </summary>
internal static class RsyncBlockSize
{
    /// <summary>rsync's largest block size (MAX_BLOCK_SIZE, protocol 30 and later).</summary>
    public const int Maximum = 128 << 10;

    /// <summary>The most blocks one file may have before the block size is raised (about 40 MiB of rsync's memory).</summary>
    public const long MaximumBlocksPerFile = 1 << 20;

    /// <summary>
    /// The block size for a tree whose largest regular file has <paramref name="largestFile"/> bytes: the configured
    /// one, raised (in 4 KiB steps) until that file has at most <see cref="MaximumBlocksPerFile"/> blocks, at most
    /// <see cref="Maximum"/>. 0 when <paramref name="configured"/> is 0 (rsync chooses).
    /// </summary>
    public static int For(long largestFile, int configured)
    {
        if (configured <= 0)
        {
            return 0;
        }
        var needed = (largestFile + MaximumBlocksPerFile - 1) / MaximumBlocksPerFile;
        if (needed <= configured)
        {
            return configured;
        }
        var rounded = (needed + 4095) / 4096 * 4096;
        return (int)Math.Min(rounded, Maximum);
    }

    /// <summary>
    /// The apparent size of the largest regular file beneath <paramref name="directory"/> (0 when it has none or does
    /// not exist), not following symbolic links; entries that cannot be read are skipped.
    /// </summary>
    public static long LargestFile(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return 0;
        }
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            IgnoreInaccessible = true,
            AttributesToSkip = FileAttributes.ReparsePoint,
            ReturnSpecialDirectories = false,
        };
        var sizes = new System.IO.Enumeration.FileSystemEnumerable<long>(directory, (ref System.IO.Enumeration.FileSystemEntry entry) => entry.Length, options)
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry entry) => !entry.IsDirectory,
        };
        long largest = 0;
        foreach (var size in sizes)
        {
            largest = Math.Max(largest, size);
        }
        return largest;
    }
}
