using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace DeltaSnap.Delta;

/// <summary>
/// The delta stream: a versioned, self-describing, checksummed framing of a delta (block records) or of a
/// backend's native stream, written by <see cref="DeltaStreamWriter"/> and read by <see cref="DeltaStreamReader"/>.
/// <c>docs/delta-stream.md</c> describes the format byte by byte.
/// </summary>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix",
    Justification = "\"Delta stream\" is the format's name in the design; this static class is its entry point, not a System.IO.Stream.")]
public static class DeltaStream
{
    /// <summary>The format version this library writes, and the only one it reads.</summary>
    public const ushort FormatVersion = 1;

    /// <summary>The default largest payload of one record: 1 MiB.</summary>
    public const int DefaultMaxRecordPayload = 1024 * 1024;

    /// <summary>The smallest value of <see cref="DeltaStreamHeader.MaxRecordPayload"/>: 4 KiB.</summary>
    public const int SmallestMaxRecordPayload = 4 * 1024;

    /// <summary>The largest value of <see cref="DeltaStreamHeader.MaxRecordPayload"/>: 16 MiB.</summary>
    public const int LargestMaxRecordPayload = 16 * 1024 * 1024;

    /// <summary>
    /// Reads the rest of a block stream from <paramref name="reader"/> and applies it to
    /// <paramref name="target"/>: data records are written, zero and unmap records are unmapped (the target
    /// reads zeros there afterwards). Every record is verified before it is applied, and the trailer is
    /// verified before this returns; the caller verifies the target against the trailer's whole-volume
    /// checksum before treating it as complete.
    /// </summary>
    /// <param name="reader">The stream to apply; its header may already have been read.</param>
    /// <param name="target">Where the records go (a <see cref="BlockDeviceSink"/>, or a writer relaying the stream).</param>
    /// <param name="cancellationToken">Cancels the reading and writing.</param>
    /// <returns>What was applied, with the trailer.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="InvalidOperationException">The stream carries a native stream, not blocks; or the reader was already read past its records.</exception>
    /// <exception cref="DeltaStreamException">The stream is corrupt, truncated or of an unknown version. Records before the fault may have been applied.</exception>
    /// <exception cref="IOException">Reading the stream or writing the target failed.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static async Task<DeltaStreamApplyResult> ApplyAsync(DeltaStreamReader reader, DeltaSink target, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(reader);
        ThrowHelper.ThrowIfNull(target);
        var header = await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        if (header.PayloadKind != DeltaStreamPayloadKind.Blocks)
        {
            ThrowHelper.ThrowInvalidOperation($"The delta stream carries a {header.PayloadKind} stream, not blocks: read it through DeltaStreamReader.AsNativeStream.");
        }
        if (reader.Trailer is not null)
        {
            ThrowHelper.ThrowInvalidOperation("The delta stream has already been read to its trailer.");
        }

        long records = 0, written = 0, zeroed = 0, unmapped = 0;
        byte[]? gather = null;
        try
        {
            while (await reader.ReadRecordAsync(cancellationToken).ConfigureAwait(false) is { } record)
            {
                switch (record.Kind)
                {
                    case DeltaRecordKind.Data:
                        var payload = record.Payload;
                        ReadOnlyMemory<byte> data;
                        if (payload.IsSingleSegment)
                        {
                            data = payload.First;
                        }
                        else
                        {
                            gather ??= ArrayPool<byte>.Shared.Rent(header.MaxRecordPayload);
                            payload.CopyTo(gather);
                            data = gather.AsMemory(0, (int)payload.Length);
                        }
                        await target.WriteAsync(record.Offset, data, cancellationToken).ConfigureAwait(false);
                        written += record.Length;
                        break;
                    case DeltaRecordKind.Zero:
                        await target.UnmapAsync(record.Range, cancellationToken).ConfigureAwait(false);
                        zeroed += record.Length;
                        break;
                    default:
                        await target.UnmapAsync(record.Range, cancellationToken).ConfigureAwait(false);
                        unmapped += record.Length;
                        break;
                }
                records++;
            }
        }
        finally
        {
            if (gather is not null)
            {
                ArrayPool<byte>.Shared.Return(gather);
            }
        }
        return new DeltaStreamApplyResult(records, written, zeroed, unmapped, reader.Trailer!);
    }
}
