namespace DeltaSnap.Cli.Commands;

/// <summary>Checks on the files a command is given, so failures name the path as the user typed it.</summary>
internal static class InputFiles
{
    /// <summary>Throws unless <paramref name="path"/> exists and is not a directory.</summary>
    /// <exception cref="FileNotFoundException">Nothing is at the path.</exception>
    /// <exception cref="IOException">The path is a directory.</exception>
    public static void CheckIsFile(string path)
    {
        if (Directory.Exists(path))
        {
            throw new IOException($"{path}: is a directory.");
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }
    }

    /// <summary>Opens <paramref name="path"/> for sequential reading, unbuffered (callers read in large blocks).</summary>
    public static FileStream OpenRead(string path, bool sequential = true)
    {
        CheckIsFile(path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0,
            FileOptions.Asynchronous | (sequential ? FileOptions.SequentialScan : FileOptions.None));
    }
}
