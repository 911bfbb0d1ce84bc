namespace DeltaSnap.Btrfs.Tests;

/// <summary>Writes and changes test trees: random files of several sizes, a sub-directory, permissions, a symbolic link, an empty file.</summary>
public static class TestData
{
    /// <summary>Fills <paramref name="root"/> with <paramref name="files"/> random files of <paramref name="fileSize"/> bytes and a few special entries.</summary>
    public static void Populate(string root, int seed, int files = 8, int fileSize = 256 * 1024)
    {
        var random = new Random(seed);
        Directory.CreateDirectory(Path.Combine(root, "sub", "deeper"));
        for (var i = 0; i < files; i++)
        {
            var bytes = new byte[fileSize + random.Next(0, 4096)];
            random.NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(root, i % 2 == 0 ? "" : "sub", $"file{i}.bin"), bytes);
        }
        File.WriteAllText(Path.Combine(root, "sub", "deeper", "notes.txt"), $"seed {seed}\n");
        File.WriteAllBytes(Path.Combine(root, "empty"), []);
        var secret = Path.Combine(root, "secret.txt");
        File.WriteAllText(secret, "only the owner reads this\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var script = Path.Combine(root, "sub", "run.sh");
        File.WriteAllText(script, "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        File.CreateSymbolicLink(Path.Combine(root, "link-to-notes"), "sub/deeper/notes.txt");
    }

    /// <summary>Changes the tree: overwrites a block in place in some files, appends to one, deletes one, renames one, adds one, changes a mode.</summary>
    public static void Change(string root, int seed)
    {
        var random = new Random(seed);
        var files = Directory.EnumerateFiles(root, "file*.bin", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        for (var i = 0; i < files.Count; i += 2)
        {
            using var stream = new FileStream(files[i], FileMode.Open, FileAccess.Write);
            var block = new byte[4096];
            random.NextBytes(block);
            stream.Position = random.Next(0, (int)(stream.Length - block.Length));
            stream.Write(block);
        }
        File.AppendAllText(Path.Combine(root, "sub", "deeper", "notes.txt"), $"changed with seed {seed}\n");
        if (files.Count > 1)
        {
            File.Delete(files[1]);
        }
        if (files.Count > 2)
        {
            File.Move(files[2], files[2] + $".renamed{seed}");
        }
        var added = new byte[100_000];
        random.NextBytes(added);
        File.WriteAllBytes(Path.Combine(root, $"added{seed}.bin"), added);
        File.SetUnixFileMode(Path.Combine(root, "secret.txt"), UnixFileMode.UserRead);
    }

    /// <summary>Writes one file of <paramref name="size"/> random bytes.</summary>
    public static void WriteFile(string path, long size, int seed)
    {
        var random = new Random(seed);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        var buffer = new byte[1024 * 1024];
        for (long written = 0; written < size; written += buffer.Length)
        {
            random.NextBytes(buffer);
            stream.Write(buffer, 0, (int)Math.Min(buffer.Length, size - written));
        }
    }
}
