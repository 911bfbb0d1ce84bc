using DeltaSnap.RefreshBenchmarks;

namespace DeltaSnap.Bench;

/// <summary>
/// The change patterns of a case, applied to the source's <see cref="VolumeData"/>; each returns the bytes whose
/// content changed (the yardstick bytes on the wire are held against).
/// </summary>
internal static class ChangePatterns
{
    /// <summary>Random 4 KiB blocks rewritten with new content.</summary>
    public const string Scattered = "scattered-4k";

    /// <summary>Runs of 256 KiB at random places rewritten with new content.</summary>
    public const string Sequential = "sequential";

    /// <summary>Every byte rewritten, with the rate's share of 4 KiB blocks different (an application saving a whole file or image).</summary>
    public const string Rewrite = "rewrite";

    /// <summary>New data after the end of the data (files grow; on a block volume, the space after the data).</summary>
    public const string Append = "append";

    /// <summary>The block of the scattered and rewrite patterns.</summary>
    public const int BlockSize = 4096;

    /// <summary>The run of the sequential pattern.</summary>
    public const int RunSize = 256 << 10;

    /// <summary>Every pattern.</summary>
    public static IReadOnlyList<string> Names { get; } = [Scattered, Sequential, Rewrite, Append];

    /// <summary>Applies <paramref name="pattern"/> at <paramref name="rate"/> percent of the data; returns the bytes whose content changed.</summary>
    public static async Task<long> ApplyAsync(string pattern, double rate, VolumeData data, Random random, CancellationToken cancellationToken)
    {
        switch (pattern)
        {
            case Scattered:
                return await data.ChangeAsync(VolumeData.PickPieces(data.Size / BlockSize, rate, random), BlockSize, random, cancellationToken).ConfigureAwait(false);
            case Sequential:
                return await data.ChangeAsync(VolumeData.PickPieces(data.Size / RunSize, rate, random), RunSize, random, cancellationToken).ConfigureAwait(false);
            case Rewrite:
                var blocks = VolumeData.PickPieces(data.Size / BlockSize, rate, random).ToHashSet();
                await data.RewriteAsync(1 << 20, (offset, chunk) =>
                {
                    for (var at = 0; at < chunk.Length; at += BlockSize)
                    {
                        if (blocks.Contains((offset + at) / BlockSize))
                        {
                            random.NextBytes(chunk.Span.Slice(at, Math.Min(BlockSize, chunk.Length - at)));
                        }
                    }
                }, cancellationToken).ConfigureAwait(false);
                return (long)blocks.Count * BlockSize;
            case Append:
                var bytes = AppendBytes(data.Size, rate);
                await data.AppendAsync(bytes, random, cancellationToken).ConfigureAwait(false);
                return bytes;
            default:
                throw new ArgumentException($"Unknown pattern '{pattern}'.", nameof(pattern));
        }
    }

    /// <summary>The bytes the append pattern adds to <paramref name="size"/> bytes at <paramref name="rate"/> percent (whole 4 KiB blocks).</summary>
    public static long AppendBytes(long size, double rate) => Math.Max(1, (long)Math.Round(size / BlockSize * rate / 100)) * BlockSize;
}
