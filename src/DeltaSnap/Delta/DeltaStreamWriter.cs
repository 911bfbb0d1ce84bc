using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using DeltaSnap.Checksums;

namespace DeltaSnap.Delta;

/// <summary>
/// Writes a delta stream to a <see cref="PipeWriter"/> or a <see cref="Stream"/>. As a <see cref="DeltaSink"/> it
/// takes a delta (a shallow copy writes into it): writes become data records, unmaps become unmap records.
/// <see cref="WriteZeroAsync"/> and <see cref="WriteNativeAsync"/> add the other kinds, and
/// <see cref="CompleteAsync"/> ends the stream with its trailer.
/// </summary>
/// <remarks>
/// <para>The header goes out before the first record (or with the trailer of an empty stream). Data is cut
/// into records of at most <see cref="DeltaStreamHeader.MaxRecordPayload"/> bytes, and the writer awaits
/// <see cref="PipeWriter.FlushAsync"/> every 64 KiB, so a slow reader slows the writer down instead of
/// letting buffers grow: memory stays at about one record plus what the pipe may hold.</para>
/// <para>Block records must come in ascending, non-overlapping order inside the volume; the writer refuses
/// anything else, so it never produces a stream its reader would reject. A writer is not thread-safe.</para>
/// </remarks>
public sealed class DeltaStreamWriter : DeltaSink, IAsyncDisposable
{
    private const int FlushThreshold = 64 * 1024;
    private const int CopyPieceSize = 32 * 1024;

    private readonly PipeWriter _destination;
    private readonly bool _completeDestination;
    private bool _headerWritten;
    private uint _frameSeed;
    private bool _completed;
    private bool _disposed;
    private long _blockEnd;
    private long _dataBytes;
    private long _unmappedBytes;
    private long _unflushedBytes;
    private byte[]? _pendingNative;
    private int _pendingNativeLength;

    /// <summary>Creates a writer that writes to <paramref name="destination"/>.</summary>
    /// <param name="destination">Where the stream goes.</param>
    /// <param name="header">The stream's header.</param>
    /// <param name="leaveOpen">Whether to leave <paramref name="destination"/> uncompleted when the writer completes or is disposed.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public DeltaStreamWriter(PipeWriter destination, DeltaStreamHeader header, bool leaveOpen = false)
    {
        ThrowHelper.ThrowIfNull(destination);
        ThrowHelper.ThrowIfNull(header);
        _destination = destination;
        _completeDestination = !leaveOpen;
        Header = header;
    }

    /// <summary>Creates a writer that writes to <paramref name="destination"/> through a <see cref="PipeWriter"/>.</summary>
    /// <param name="destination">Where the stream goes.</param>
    /// <param name="header">The stream's header.</param>
    /// <param name="leaveOpen">Whether to leave <paramref name="destination"/> open when the writer completes or is disposed.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not writable.</exception>
    public DeltaStreamWriter(Stream destination, DeltaStreamHeader header, bool leaveOpen = false)
    {
        ThrowHelper.ThrowIfNull(destination);
        ThrowHelper.ThrowIfNull(header);
        if (!destination.CanWrite)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "The stream is not writable.");
        }
        _destination = PipeWriter.Create(destination, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: leaveOpen));
        _completeDestination = true;
        Header = header;
    }

    /// <summary>The stream's header.</summary>
    public DeltaStreamHeader Header { get; }

    /// <summary>The records written so far.</summary>
    public long RecordCount { get; private set; }

    /// <summary>The bytes of zero records written so far.</summary>
    public long BytesZeroed { get; private set; }

    /// <summary>The bytes of native stream written so far (some may wait in the writer for a full record until the next flush).</summary>
    public long NativeBytesWritten { get; private set; }

    /// <summary>Whether <see cref="CompleteAsync"/> has written the trailer.</summary>
    public bool IsCompleted => _completed;

    /// <summary>
    /// Writes a zero record: <paramref name="range"/> holds only zeros. The receiver applies it as an unmap
    /// (<see cref="DeltaStream.ApplyAsync"/>); use it for ranges the sender read as zeros, and
    /// <see cref="DeltaSink.UnmapAsync"/> for ranges the sender does not hold.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the volume, or starts before the end of the previous block record.</exception>
    /// <exception cref="InvalidOperationException">The stream carries a native stream, or is completed.</exception>
    /// <exception cref="IOException">The destination failed, or its reader stopped reading.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public ValueTask WriteZeroAsync(ByteRange range, CancellationToken cancellationToken = default)
    {
        if (range.IsEmpty)
        {
            CheckWritable(DeltaRecordKind.Zero);
            return ValueTask.CompletedTask;
        }
        WriteRangeRecord(DeltaRecordKind.Zero, range);
        BytesZeroed += range.Length;
        return FlushIfDueAsync(cancellationToken);
    }

    /// <summary>
    /// Appends <paramref name="data"/> to the native stream this delta stream carries. Bytes are gathered into
    /// records of <see cref="DeltaStreamHeader.MaxRecordPayload"/> bytes; <see cref="FlushAsync"/> and
    /// <see cref="CompleteAsync"/> send a partly filled one.
    /// </summary>
    /// <exception cref="InvalidOperationException">The stream carries blocks, or is completed.</exception>
    /// <exception cref="IOException">The destination failed, or its reader stopped reading.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public async ValueTask WriteNativeAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckWritable(DeltaRecordKind.Native);
        var max = Header.MaxRecordPayload;
        NativeBytesWritten += data.Length;
        while (!data.IsEmpty)
        {
            if (_pendingNativeLength == 0 && data.Length >= max)
            {
                WriteFrame(DeltaRecordKind.Native, 0, data.Span[..max]);
                data = data[max..];
            }
            else
            {
                _pendingNative ??= ArrayPool<byte>.Shared.Rent(max);
                var n = Math.Min(max - _pendingNativeLength, data.Length);
                data.Span[..n].CopyTo(_pendingNative.AsSpan(_pendingNativeLength));
                _pendingNativeLength += n;
                data = data[n..];
                if (_pendingNativeLength < max)
                {
                    continue;
                }
                WritePendingNative();
            }
            await FlushIfDueAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A write-only <see cref="Stream"/> whose bytes become the native stream this delta stream carries (copy
    /// <c>zfs send</c>'s output into it). Disposing it does not complete the writer: call
    /// <see cref="CompleteAsync"/> afterwards.
    /// </summary>
    /// <exception cref="InvalidOperationException">The stream carries blocks.</exception>
    public Stream AsNativeStream()
    {
        if (Header.PayloadKind == DeltaStreamPayloadKind.Blocks)
        {
            ThrowHelper.ThrowInvalidOperation("The delta stream carries blocks, not a native stream.");
        }
        return new NativeStreamWriterStream(this);
    }

    /// <summary>Sends everything written so far (a partly filled native record too) and waits until the destination takes it.</summary>
    /// <exception cref="InvalidOperationException">The writer is completed.</exception>
    /// <exception cref="IOException">The destination failed, or its reader stopped reading.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        CheckNotCompleted();
        WriteHeaderOnce();
        WritePendingNative();
        await FlushCoreAsync(isLast: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends the stream: sends any pending native bytes, the trailer with the totals and
    /// <paramref name="volumeChecksum"/>, flushes, and completes the destination (unless left open).
    /// </summary>
    /// <param name="volumeChecksum">The whole-volume checksum of the target snapshot in the header's algorithm, or empty when there is none.</param>
    /// <param name="cancellationToken">Cancels the flush.</param>
    /// <exception cref="ArgumentException">The checksum is neither empty nor as long as the algorithm's digest.</exception>
    /// <exception cref="InvalidOperationException">The writer is already completed.</exception>
    /// <exception cref="IOException">The destination failed.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public async Task CompleteAsync(ReadOnlyMemory<byte> volumeChecksum, CancellationToken cancellationToken = default)
    {
        CheckNotCompleted();
        var hashLength = ChecksumHasher.GetHashLength(Header.Algorithm);
        if (!volumeChecksum.IsEmpty && volumeChecksum.Length != hashLength)
        {
            ThrowHelper.ThrowArgument(nameof(volumeChecksum),
                $"The volume checksum is {volumeChecksum.Length} bytes; {Header.Algorithm} digests are {hashLength} bytes (or pass none).");
        }
        WriteHeaderOnce();
        WritePendingNative();
        Span<byte> frameHeader = stackalloc byte[DeltaStreamFormat.FrameHeaderSize];
        DeltaStreamFormat.WriteFrameHeader(frameHeader, DeltaStreamFormat.TrailerKind, volumeChecksum.Length, RecordCount, _dataBytes, _unmappedBytes);
        var crc = Crc32C.Append(Crc32C.Append(_frameSeed, frameHeader), volumeChecksum.Span);
        _destination.Write(frameHeader);
        _destination.Write(volumeChecksum.Span);
        WriteCrc(crc);
        _completed = true;
        ReturnPendingNative();
        await FlushCoreAsync(isLast: true, cancellationToken).ConfigureAwait(false);
        if (_completeDestination)
        {
            await _destination.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Releases the writer. A writer disposed before <see cref="CompleteAsync"/> completes its destination
    /// (unless left open) without a trailer, so the reader reports the stream as truncated.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        ReturnPendingNative();
        if (!_completed)
        {
            _completed = true;
            if (_completeDestination)
            {
                await _destination.CompleteAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes data records, cut to the largest record payload.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The data is outside the volume, or starts before the end of the previous block record.</exception>
    /// <exception cref="InvalidOperationException">The stream carries a native stream, or is completed.</exception>
    protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        CheckBlockRange(DeltaRecordKind.Data, offset, data.Length);
        var max = Header.MaxRecordPayload;
        while (!data.IsEmpty)
        {
            var n = Math.Min(max, data.Length);
            WriteFrame(DeltaRecordKind.Data, offset, data.Span[..n]);
            offset += n;
            data = data[n..];
            await FlushIfDueAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes an unmap record.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the volume, or starts before the end of the previous block record.</exception>
    /// <exception cref="InvalidOperationException">The stream carries a native stream, or is completed.</exception>
    protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken)
    {
        WriteRangeRecord(DeltaRecordKind.Unmap, range);
        return FlushIfDueAsync(cancellationToken);
    }

    private void CheckWritable(DeltaRecordKind kind)
    {
        CheckNotCompleted();
        var native = Header.PayloadKind != DeltaStreamPayloadKind.Blocks;
        if (native != (kind == DeltaRecordKind.Native))
        {
            ThrowHelper.ThrowInvalidOperation(native
                ? $"The delta stream carries a {Header.PayloadKind} stream: it takes only native bytes, not {kind} records."
                : "The delta stream carries blocks: it takes no native bytes.");
        }
    }

    private void CheckNotCompleted()
    {
        if (_disposed)
        {
            ThrowHelper.ThrowObjectDisposed(this);
        }
        if (_completed)
        {
            ThrowHelper.ThrowInvalidOperation("The delta stream is completed: nothing can be written after its trailer.");
        }
    }

    private void CheckBlockRange(DeltaRecordKind kind, long offset, long length)
    {
        CheckWritable(kind);
        if (offset < _blockEnd)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(offset), offset,
                $"A {kind} record at {offset} would start before the end of the previous block record ({_blockEnd}): block records must be ascending and must not overlap.");
        }
        if (offset > Header.VolumeSize - length)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(offset), offset,
                $"A {kind} record of [{offset}, +{length}) does not fit in the volume of {Header.VolumeSize} bytes.");
        }
    }

    private void WriteRangeRecord(DeltaRecordKind kind, ByteRange range)
    {
        CheckBlockRange(kind, range.Offset, range.Length);
        WriteHeaderOnce();
        Span<byte> frameHeader = stackalloc byte[DeltaStreamFormat.FrameHeaderSize];
        DeltaStreamFormat.WriteFrameHeader(frameHeader, (byte)kind, 0, RecordCount, range.Offset, range.Length);
        _destination.Write(frameHeader);
        WriteCrc(Crc32C.Append(_frameSeed, frameHeader));
        RecordCount++;
        _unflushedBytes += DeltaStreamFormat.FrameHeaderSize + DeltaStreamFormat.CrcSize;
        _blockEnd = range.End;
        _unmappedBytes += range.Length;
    }

    private void WriteFrame(DeltaRecordKind kind, long offset, ReadOnlySpan<byte> payload)
    {
        WriteHeaderOnce();
        var length = payload.Length;
        Span<byte> frameHeader = stackalloc byte[DeltaStreamFormat.FrameHeaderSize];
        DeltaStreamFormat.WriteFrameHeader(frameHeader, (byte)kind, length, RecordCount, offset, length);
        var crc = Crc32C.Append(_frameSeed, frameHeader);
        _destination.Write(frameHeader);
        while (!payload.IsEmpty)
        {
            // Ask for the rest at once so a record's payload lands in one buffer segment where the pipe can,
            // then copy and checksum it a cache-sized piece at a time, so each byte is read from memory once.
            var span = _destination.GetSpan(payload.Length);
            var n = Math.Min(span.Length, payload.Length);
            for (var done = 0; done < n; done += CopyPieceSize)
            {
                var piece = payload.Slice(done, Math.Min(CopyPieceSize, n - done));
                piece.CopyTo(span[done..]);
                crc = Crc32C.Append(crc, piece);
            }
            _destination.Advance(n);
            payload = payload[n..];
        }
        WriteCrc(crc);
        RecordCount++;
        _unflushedBytes += DeltaStreamFormat.FrameHeaderSize + length + DeltaStreamFormat.CrcSize;
        _dataBytes += length;
        if (kind == DeltaRecordKind.Data)
        {
            _blockEnd = offset + length;
        }
    }

    private void WritePendingNative()
    {
        if (_pendingNativeLength > 0)
        {
            WriteFrame(DeltaRecordKind.Native, 0, _pendingNative.AsSpan(0, _pendingNativeLength));
            _pendingNativeLength = 0;
        }
    }

    private void ReturnPendingNative()
    {
        if (_pendingNative is not null)
        {
            ArrayPool<byte>.Shared.Return(_pendingNative);
            _pendingNative = null;
            _pendingNativeLength = 0;
        }
    }

    private void WriteHeaderOnce()
    {
        if (!_headerWritten)
        {
            var header = DeltaStreamFormat.EncodeHeader(Header);
            _frameSeed = DeltaStreamFormat.FrameSeed(header);
            _destination.Write(header);
            _unflushedBytes += header.Length;
            _headerWritten = true;
        }
    }

    private void WriteCrc(uint crc)
    {
        var span = _destination.GetSpan(DeltaStreamFormat.CrcSize);
        BinaryPrimitives.WriteUInt32LittleEndian(span, crc);
        _destination.Advance(DeltaStreamFormat.CrcSize);
    }

    private ValueTask FlushIfDueAsync(CancellationToken cancellationToken) =>
        _unflushedBytes >= FlushThreshold ? FlushCoreAsync(isLast: false, cancellationToken) : ValueTask.CompletedTask;

    private async ValueTask FlushCoreAsync(bool isLast, CancellationToken cancellationToken)
    {
        var result = await _destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        _unflushedBytes = 0;
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The flush of the delta stream was cancelled.");
        }
        if (result.IsCompleted && !isLast)
        {
            throw new IOException($"The reader of the delta stream stopped reading before the stream ended (after record {RecordCount - 1}).");
        }
    }
}
