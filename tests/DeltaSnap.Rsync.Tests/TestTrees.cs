using System.Security.Cryptography;

namespace DeltaSnap.Rsync.Tests;

/// <summary>Trees with everything rsync can get wrong, and the changes made between snapshots.</summary>
internal static class TestTrees
{
    public const int LargeFileSize = 16 << 20;
    private const long BaseTime = 1_700_000_000;

    /// <summary>
    /// Regular files with modes (set-id bits included), numeric owners and nanosecond mtimes; hard links; absolute,
    /// relative and dangling symbolic links; a FIFO and a character device; a sparse file; a 16 MiB file; and, when
    /// <paramref name="xattrs"/>, extended attributes and a POSIX ACL with named entries.
    /// </summary>
    public static void Build(string root, bool xattrs, int seed = 1)
    {
        Directory.CreateDirectory(Path.Combine(root, "a", "b"));
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        Write(Path.Combine(root, "plain.txt"), Random(3000, seed));
        Write(Path.Combine(root, "a", "data.bin"), Random(70_000, seed + 1));
        Write(Path.Combine(root, "a", "b", "deep.txt"), Random(10, seed + 2));
        Write(Path.Combine(root, "to-delete.txt"), Random(500, seed + 3));
        Write(Path.Combine(root, "to-rename.txt"), Random(600, seed + 4));
        File.SetUnixFileMode(Path.Combine(root, "plain.txt"), (UnixFileMode)Convert.ToInt32("640", 8));
        Write(Path.Combine(root, "setuid-tool"), Random(100, seed + 5));
        File.SetUnixFileMode(Path.Combine(root, "setuid-tool"), (UnixFileMode)Convert.ToInt32("4755", 8));
        NativeCalls.LChown(Path.Combine(root, "plain.txt"), 1001, 1002);
        NativeCalls.LChown(Path.Combine(root, "a", "data.bin"), 4242, 4343);

        NativeCalls.HardLink(Path.Combine(root, "plain.txt"), Path.Combine(root, "a", "hard-link-to-plain"));
        File.CreateSymbolicLink(Path.Combine(root, "absolute-link"), "/etc/hostname");
        File.CreateSymbolicLink(Path.Combine(root, "a", "relative-link"), "../plain.txt");
        File.CreateSymbolicLink(Path.Combine(root, "dangling-link"), "no/such/target");
        NativeCalls.LChown(Path.Combine(root, "dangling-link"), 777, 778);
        NativeCalls.MakeFifo(Path.Combine(root, "fifo"));
        NativeCalls.MakeCharDevice(Path.Combine(root, "a", "null-device"), 1, 3);

        // 8 MiB with data at 0, 3 MiB and 6 MiB: holes in between.
        var sparse = Path.Combine(root, "sparse.img");
        using (var stream = new FileStream(sparse, FileMode.CreateNew))
        {
            stream.SetLength(8 << 20);
            foreach (var at in new[] { 0, 3 << 20, 6 << 20 })
            {
                stream.Position = at;
                stream.Write(Random(1 << 20, seed + at));
            }
        }
        Write(Path.Combine(root, "large.bin"), Random(LargeFileSize, seed + 6));
        if (xattrs)
        {
            NativeCalls.SetXattr(Path.Combine(root, "plain.txt"), "user.origin", "DeltaSnap test"u8.ToArray());
            NativeCalls.SetXattr(Path.Combine(root, "a"), "user.dir-attribute", [0, 1, 2, 255]);
            NativeCalls.SetXattr(Path.Combine(root, "a", "data.bin"), "trusted.root-only", "t"u8.ToArray());
            NativeCalls.SetAccessAcl(Path.Combine(root, "a", "b", "deep.txt"), 6, 4, 0, [(1234, 6)], [(2345, 4)]);
        }
        FixTimes(root);
    }

    /// <summary>
    /// Deletes a file, renames one, rewrites 1 % of the large file's 4 KiB blocks, zeroes a data region of the sparse
    /// file, changes a mode and an owner, adds a file and (with <paramref name="xattrs"/>) changes an attribute.
    /// </summary>
    public static void Change(string root, bool xattrs, int round)
    {
        var delete = Path.Combine(root, "to-delete.txt");
        if (File.Exists(delete))
        {
            File.Delete(delete);
        }
        var rename = Path.Combine(root, "to-rename.txt");
        if (File.Exists(rename))
        {
            File.Move(rename, Path.Combine(root, "a", "renamed.txt"));
        }
        using (var stream = new FileStream(Path.Combine(root, "large.bin"), FileMode.Open))
        {
            var blocks = LargeFileSize / 4096;
            var rng = new Random(round);
            for (var i = 0; i < blocks / 100; i++)
            {
                stream.Position = (long)rng.Next(blocks) * 4096;
                stream.Write(Random(4096, (round * 1000) + i));
            }
        }
        using (var stream = new FileStream(Path.Combine(root, "sparse.img"), FileMode.Open))
        {
            stream.Position = round % 2 == 1 ? 3 << 20 : 0;
            stream.Write(new byte[1 << 20]);
        }
        File.SetUnixFileMode(Path.Combine(root, "a", "data.bin"), (UnixFileMode)Convert.ToInt32("600", 8));
        NativeCalls.LChown(Path.Combine(root, "a", "b", "deep.txt"), 5000 + (uint)round, 6000);
        Write(Path.Combine(root, "a", $"new-{round}.txt"), Random(1234, 100 + round));
        if (xattrs)
        {
            NativeCalls.SetXattr(Path.Combine(root, "plain.txt"), "user.origin", System.Text.Encoding.UTF8.GetBytes($"round {round}"));
        }
        FixTimes(root, round);
    }

    /// <summary>Gives every file, link and directory a distinct time with a nanosecond part (directories last, deepest first).</summary>
    public static void FixTimes(string root, int round = 0)
    {
        var entries = Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .OrderByDescending(p => p.Length).ThenBy(p => p, StringComparer.Ordinal).ToList();
        var i = 0;
        foreach (var path in entries.Where(p => !Directory.Exists(p) || new FileInfo(p).LinkTarget is not null).Concat(entries.Where(p => Directory.Exists(p) && new FileInfo(p).LinkTarget is null)).Append(root))
        {
            i++;
            NativeCalls.SetMtime(path, BaseTime + (round * 10_000) + i, (123_456_789 + (i * 1_000_001)) % 1_000_000_000);
        }
    }

    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static void Write(string path, byte[] data) => File.WriteAllBytes(path, data);

    /// <summary>SHA-256 of a file's bytes.</summary>
    public static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
