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
    public const ushort FormatVersion = 2;

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

    /// <summary>
    /// Applies a block stream to <paramref name="target"/> so that a stream rejected at any point leaves the target
    /// as it was: before anything is written the header's volume size is checked against the target; what each record
    /// overwrites is kept in an undo journal; when a record, the trailer, the end of the stream or
    /// <see cref="DeltaStreamApplyOptions.Verify"/> fails — or the operation is cancelled — the target is put back
    /// and flushed before the exception surfaces. On success the target is flushed and the journal discarded.
    /// </summary>
    /// <param name="reader">The stream to apply; its header may already have been read.</param>
    /// <param name="target">The device to write; the same size as the stream's volume.</param>
    /// <param name="options">The final check and where the journal goes; null for none and the temporary directory.</param>
    /// <param name="cancellationToken">Cancels the reading and writing (the target is rolled back).</param>
    /// <returns>What was applied, with the trailer.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="InvalidOperationException">The stream carries a native stream, not blocks; or the reader was already read past its records.</exception>
    /// <exception cref="DeltaStreamException">The stream is corrupt, truncated, of an unknown version, or for a volume of another size. The target is unchanged.</exception>
    /// <exception cref="DeltaSnapException">Rolling the target back failed after the stream was rejected: the target may be partly written.</exception>
    /// <exception cref="IOException">Reading the stream or writing the target failed (the target is rolled back).</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (the target is rolled back).</exception>
    public static async Task<DeltaStreamApplyResult> ApplyOrRollBackAsync(DeltaStreamReader reader, Devices.BlockDevice target, DeltaStreamApplyOptions? options,
        CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(reader);
        ThrowHelper.ThrowIfNull(target);
        options ??= new DeltaStreamApplyOptions();
        var header = await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        if (header.VolumeSize != target.Length)
        {
            throw new DeltaStreamException(
                $"The delta stream is for a volume of {header.VolumeSize} bytes, but the target device holds {target.Length} bytes: nothing was written.",
                reader.BytesRead, null);
        }
        var journal = new DeltaStreamUndoJournal(target, options.JournalDirectory);
        await using (journal.ConfigureAwait(false))
        {
            try
            {
                var result = await ApplyAsync(reader, journal, cancellationToken).ConfigureAwait(false);
                if (options.Verify is { } verify)
                {
                    await verify(result.Trailer, cancellationToken).ConfigureAwait(false);
                }
                await target.FlushAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch (Exception e) when (e is not InvalidOperationException || reader.RecordCount > 0)
            {
                try
                {
                    await journal.RollBackAsync().ConfigureAwait(false);
                }
                catch (Exception rollback) when (rollback is IOException or DeltaSnapException or ObjectDisposedException)
                {
                    throw new DeltaSnapException(
                        $"Applying the delta stream failed ({e.Message}) and putting the target back failed too ({rollback.Message}): the target may be partly written.",
                        new AggregateException(e, rollback));
                }
                throw;
            }
        }
    }
}
