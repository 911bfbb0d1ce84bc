using System.Buffers;
using System.CommandLine;
using System.Text;
using DeltaSnap.Checksums;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// <c>deltasnap hash [--algorithm ALG] FILE...</c>: each file's digest in lowercase hex, two spaces and the name, in the
/// format and byte order of <c>sha256sum</c> and <c>xxhsum</c>. Files are streamed through a 1 MiB buffer. A file that
/// cannot be read is reported on standard error and the others are still hashed; the exit code is then 1.
/// </summary>
internal static class HashCommand
{
    private const int BufferSize = 1024 * 1024;

    public static Command Create()
    {
        var algorithm = CommonOptions.Algorithm($"The checksum algorithm (default {AlgorithmNames.Format(AlgorithmNames.Default)}).");
        var files = new Argument<string[]>("FILE")
        {
            Description = "The files to hash (regular files or block devices).",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("hash", "Print the digest of each file, as sha256sum and xxhsum print it.")
        {
            algorithm,
            files,
        };
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) => RunAsync(
            parseResult.GetRequiredValue(files),
            parseResult.GetValue(algorithm) ?? AlgorithmNames.Default,
            output,
            cancellationToken));
        return command;
    }

    /// <summary>Hashes every file in turn; returns 0, or 1 when any file could not be read.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> files, ChecksumAlgorithm algorithm, CommandOutput output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(output);
        var hasher = ChecksumHasher.Create(algorithm);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        var exitCode = ExitCodes.Success;
        try
        {
            foreach (var file in files)
            {
                byte[] digest;
                try
                {
                    digest = await HashFileAsync(file, hasher, buffer, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (CommandRunner.IsInputFailure(e))
                {
                    CommandRunner.ReportError(output, e);
                    exitCode = ExitCodes.Failure;
                    continue;
                }
                await output.Out.WriteLineAsync(FormatLine(digest, file)).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return exitCode;
    }

    /// <summary>
    /// One output line: <c>HEX  NAME</c>. As GNU <c>sha256sum</c> does, a name holding a backslash, newline or carriage
    /// return is escaped (<c>\\</c>, <c>\n</c>, <c>\r</c>) and the line starts with a backslash.
    /// </summary>
    public static string FormatLine(ReadOnlySpan<byte> digest, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var hex = Convert.ToHexStringLower(digest);
        if (name.AsSpan().IndexOfAny('\\', '\n', '\r') < 0)
        {
            return hex + "  " + name;
        }
        var line = new StringBuilder(hex.Length + name.Length + 8).Append('\\').Append(hex).Append("  ");
        foreach (var c in name)
        {
            _ = c switch
            {
                '\\' => line.Append(@"\\"),
                '\n' => line.Append(@"\n"),
                '\r' => line.Append(@"\r"),
                _ => line.Append(c),
            };
        }
        return line.ToString();
    }

    private static async Task<byte[]> HashFileAsync(string path, ChecksumHasher hasher, byte[] buffer, CancellationToken cancellationToken)
    {
        hasher.Reset();
        var stream = InputFiles.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hasher.Append(buffer.AsSpan(0, read));
            }
        }
        return hasher.GetCurrentHash();
    }
}
