using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using DeltaSnap.Checksums;

namespace DeltaSnap.Delta;

/// <summary>
/// Reads and verifies a delta stream from a <see cref="PipeReader"/> or a <see cref="Stream"/>:
/// <see cref="ReadHeaderAsync"/>, then <see cref="ReadRecordAsync"/> until it returns null, after which
/// <see cref="Trailer"/> holds the verified trailer.
/// </summary>
/// <remarks>
/// <para>Nothing unverified comes out: the header's and every record's CRC-32C, the magic and version, the
/// record index sequence, the kinds of record the payload kind allows, the order and bounds of block
/// records, the lengths, the trailer's totals, and (unless <see cref="DeltaStreamReaderOptions.AllowDataAfterTrailer"/>)
/// the end of input right after the trailer. Any fault, truncation included, throws a
/// <see cref="DeltaStreamException"/> that says what and where; after any failure or cancellation the reader is unusable.</para>
/// <para>A record's payload points into the pipe's buffers, so the reader holds at most about one record
/// (<see cref="DeltaStreamHeader.MaxRecordPayload"/>) beyond what the pipe itself buffers. A reader is not
/// thread-safe.</para>
/// </remarks>
public sealed class DeltaStreamReader : IAsyncDisposable, IDisposable
{
    private readonly PipeReader _source;
    private readonly bool _completeSource;
    private readonly bool _allowDataAfterTrailer;
    private ReadOnlySequence<byte> _buffer;
    private bool _holdingBuffer;
    private long _position;
    private long _blockEnd;
    private uint _frameSeed;
    private long _dataBytes;
    private long _unmappedBytes;
    private Exception? _fault;
    private bool _disposed;

    /// <summary>Creates a reader of <paramref name="source"/>.</summary>
    /// <param name="source">The stream's bytes.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    public DeltaStreamReader(PipeReader source, DeltaStreamReaderOptions? options = null)
    {
        ThrowHelper.ThrowIfNull(source);
        options ??= new DeltaStreamReaderOptions();
        _source = source;
        _completeSource = !options.LeaveOpen;
        _allowDataAfterTrailer = options.AllowDataAfterTrailer;
    }

    /// <summary>Creates a reader of <paramref name="source"/> through a <see cref="PipeReader"/>.</summary>
    /// <param name="source">The stream's bytes.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="source"/> is not readable.</exception>
    public DeltaStreamReader(Stream source, DeltaStreamReaderOptions? options = null)
    {
        ThrowHelper.ThrowIfNull(source);
        if (!source.CanRead)
        {
            ThrowHelper.ThrowArgument(nameof(source), "The stream is not readable.");
        }
        options ??= new DeltaStreamReaderOptions();
        _source = PipeReader.Create(source, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: options.LeaveOpen));
        _completeSource = true;
        _allowDataAfterTrailer = options.AllowDataAfterTrailer;
    }

    /// <summary>The header, once <see cref="ReadHeaderAsync"/> (or the first <see cref="ReadRecordAsync"/>) has read it.</summary>
    public DeltaStreamHeader? Header { get; private set; }

    /// <summary>The verified trailer, once <see cref="ReadRecordAsync"/> has returned null.</summary>
    public DeltaStreamTrailer? Trailer { get; private set; }

    /// <summary>The records read so far.</summary>
    public long RecordCount { get; private set; }

    /// <summary>The bytes of the stream read and verified so far.</summary>
    public long BytesRead => _position;

    /// <summary>Reads and verifies the header; later calls return the same header.</summary>
    /// <exception cref="DeltaStreamException">The input is not a delta stream, is of an unknown version, or its header is corrupt or truncated.</exception>
    /// <exception cref="InvalidOperationException">An earlier call failed.</exception>
    /// <exception cref="ObjectDisposedException">The reader is disposed.</exception>
    /// <exception cref="IOException">The source failed.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public async Task<DeltaStreamHeader> ReadHeaderAsync(CancellationToken cancellationToken = default)
    {
        CheckUsable();
        if (Header is not null)
        {
            return Header;
        }
        try
        {
            Header = await ReadHeaderCoreAsync(cancellationToken).ConfigureAwait(false);
            return Header;
        }
        catch (Exception e)
        {
            _fault = e;
            throw;
        }
    }

    /// <summary>
    /// Reads and verifies the next record, reading the header first if need be. Returns null at the trailer,
    /// once the trailer and the end of input are verified (<see cref="Trailer"/> then holds it). The record's
    /// payload is valid until the next call on this reader.
    /// </summary>
    /// <exception cref="DeltaStreamException">The stream is corrupt, truncated, reordered, out of bounds or of an unknown version.</exception>
    /// <exception cref="InvalidOperationException">An earlier call failed or was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The reader is disposed.</exception>
    /// <exception cref="IOException">The source failed.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public async ValueTask<DeltaRecord?> ReadRecordAsync(CancellationToken cancellationToken = default)
    {
        var header = Header ?? await ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        CheckUsable();
        if (Trailer is not null)
        {
            return null;
        }
        try
        {
            return await ReadFrameAsync(header, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _fault = e;
            throw;
        }
    }

    /// <summary>
    /// A read-only <see cref="Stream"/> of the native stream this delta stream carries: the payloads of its
    /// native records, in order (give it to <c>zfs receive</c>). It ends, returning 0, once the trailer is
    /// verified; a fault surfaces from its reads as a <see cref="DeltaStreamException"/>. Disposing it does
    /// not dispose the reader.
    /// </summary>
    /// <exception cref="InvalidOperationException">The header is read and says the stream carries blocks (if it is not read yet, the first read of the stream checks).</exception>
    public Stream AsNativeStream()
    {
        if (Header is not null)
        {
            CheckNative(Header);
        }
        return new NativeStreamReaderStream(this);
    }

    /// <summary>Releases the reader, and completes its source unless told to leave it open.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Release();
            if (_completeSource)
            {
                _source.Complete();
            }
        }
    }

    /// <summary>Releases the reader, and completes its source unless told to leave it open.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            Release();
            if (_completeSource)
            {
                await _source.CompleteAsync().ConfigureAwait(false);
            }
        }
    }

    internal static void CheckNative(DeltaStreamHeader header)
    {
        if (header.PayloadKind == DeltaStreamPayloadKind.Blocks)
        {
            ThrowHelper.ThrowInvalidOperation("The delta stream carries blocks, not a native stream: apply it with DeltaStream.ApplyAsync.");
        }
    }

    private async Task<DeltaStreamHeader> ReadHeaderCoreAsync(CancellationToken cancellationToken)
    {
        await FillAsync(DeltaStreamFormat.HeaderPrefixSize, null, "the header", cancellationToken).ConfigureAwait(false);
        Span<byte> prefix = stackalloc byte[DeltaStreamFormat.HeaderPrefixSize];
        _buffer.Slice(0, prefix.Length).CopyTo(prefix);
        if (!prefix[..8].SequenceEqual(DeltaStreamFormat.Magic))
        {
            throw DeltaStreamFormat.Corrupt(0, null,
                $"this is not a delta stream: it starts with 0x{Convert.ToHexStringLower(prefix[..8])} instead of the magic \"DSNAPDLT\".");
        }
        var version = BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]);
        if (version == 1)
        {
            throw DeltaStreamFormat.Corrupt(8, null,
                $"the stream has format version 1, which this DeltaSnap no longer reads: version 1 does not bind its records to its header, "
                + $"so a spliced stream can pass every check. Send it again from a DeltaSnap that writes version {DeltaStream.FormatVersion}.");
        }
        if (version != DeltaStream.FormatVersion)
        {
            throw DeltaStreamFormat.Corrupt(8, null,
                $"the stream has format version {version}, and this DeltaSnap reads only version {DeltaStream.FormatVersion}. "
                + $"Read it with the DeltaSnap version that wrote it, or send it again from a sender that writes version {DeltaStream.FormatVersion}.");
        }
        int length = BinaryPrimitives.ReadUInt16LittleEndian(prefix[10..]);
        if (length < DeltaStreamFormat.MinHeaderSize)
        {
            throw DeltaStreamFormat.Corrupt(10, null, $"the header length is {length} bytes, less than the smallest header ({DeltaStreamFormat.MinHeaderSize}).");
        }
        await FillAsync(length, null, "the header", cancellationToken).ConfigureAwait(false);
        var bytes = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var header = bytes.AsSpan(0, length);
            _buffer.Slice(0, length).CopyTo(header);
            var expected = BinaryPrimitives.ReadUInt32LittleEndian(header[^DeltaStreamFormat.CrcSize..]);
            var actual = Crc32C.Compute(header[..^DeltaStreamFormat.CrcSize]);
            if (actual != expected)
            {
                throw DeltaStreamFormat.Corrupt(length - DeltaStreamFormat.CrcSize, null,
                    $"the header's CRC-32C is 0x{actual:x8} but the stream says 0x{expected:x8}: the header is corrupt.");
            }
            var result = DeltaStreamFormat.DecodeHeader(header);
            _frameSeed = DeltaStreamFormat.FrameSeed(header);
            Consume(length);
            return result;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private async ValueTask<DeltaRecord?> ReadFrameAsync(DeltaStreamHeader header, CancellationToken cancellationToken)
    {
        Release(); // the previous record's payload is no longer needed: give its buffers back to the pipe
        var index = RecordCount;
        var start = _position;
        await FillAsync(DeltaStreamFormat.FrameHeaderSize, index, "the next record or the trailer", cancellationToken).ConfigureAwait(false);
        var (kind, reserved, payloadLength, frameIndex, offset, length) = ParseFrameHeader(_buffer);
        if (payloadLength > (uint)header.MaxRecordPayload)
        {
            throw DeltaStreamFormat.Corrupt(start + 4, index,
                $"the payload length is {payloadLength} bytes, more than the header's largest record payload ({header.MaxRecordPayload}).");
        }
        var frameLength = DeltaStreamFormat.FrameHeaderSize + (int)payloadLength + DeltaStreamFormat.CrcSize;
        await FillAsync(frameLength, index, kind == DeltaStreamFormat.TrailerKind ? "the trailer" : "the record", cancellationToken).ConfigureAwait(false);
        var frame = _buffer.Slice(0, frameLength);
        var payload = frame.Slice(DeltaStreamFormat.FrameHeaderSize, payloadLength);
        VerifyCrc(frame, start, index);

        if (reserved != 0)
        {
            throw DeltaStreamFormat.Corrupt(start + 1, index, "the reserved bytes of the frame header are not zero.");
        }
        if (kind == DeltaStreamFormat.TrailerKind)
        {
            await ReadTrailerAsync(header, frameIndex, offset, length, payload, start, cancellationToken).ConfigureAwait(false);
            return null;
        }
        if (frameIndex != (ulong)index)
        {
            throw DeltaStreamFormat.Corrupt(start + 8, index,
                $"the record index is {frameIndex} where {index} was expected: records are reordered, duplicated or missing.");
        }
        var recordKind = (DeltaRecordKind)kind;
        if (!Enum.IsDefined(recordKind))
        {
            throw DeltaStreamFormat.Corrupt(start, index, $"the record kind is {kind}, which this version does not know.");
        }
        if ((recordKind == DeltaRecordKind.Native) != (header.PayloadKind != DeltaStreamPayloadKind.Blocks))
        {
            throw DeltaStreamFormat.Corrupt(start, index, $"a {recordKind} record does not belong in a stream that carries {header.PayloadKind}.");
        }
        CheckLengths(recordKind, payloadLength, offset, length, start, index);
        if (recordKind != DeltaRecordKind.Native)
        {
            CheckBlockRange(header, recordKind, (long)offset, (long)length, start, index);
            _blockEnd = (long)(offset + length);
        }
        if (recordKind is DeltaRecordKind.Data or DeltaRecordKind.Native)
        {
            _dataBytes += payloadLength;
        }
        else
        {
            _unmappedBytes += (long)length;
        }
        Consume(frameLength);
        RecordCount++;
        return new DeltaRecord(recordKind, index, (long)offset, (long)length, payload, start);
    }

    private static (byte Kind, int Reserved, uint PayloadLength, ulong Index, ulong Offset, ulong Length) ParseFrameHeader(ReadOnlySequence<byte> buffer)
    {
        Span<byte> bytes = stackalloc byte[DeltaStreamFormat.FrameHeaderSize];
        buffer.Slice(0, bytes.Length).CopyTo(bytes);
        return (bytes[0], bytes[1] | bytes[2] | bytes[3],
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]));
    }

    private static void CheckLengths(DeltaRecordKind kind, uint payloadLength, ulong offset, ulong length, long start, long index)
    {
        switch (kind)
        {
            case DeltaRecordKind.Data or DeltaRecordKind.Native when payloadLength == 0:
                throw DeltaStreamFormat.Corrupt(start + 4, index, $"the {kind} record has no payload.");
            case DeltaRecordKind.Data or DeltaRecordKind.Native when length != payloadLength:
                throw DeltaStreamFormat.Corrupt(start + 24, index, $"the {kind} record's length is {length} but its payload is {payloadLength} bytes.");
            case DeltaRecordKind.Native when offset != 0:
                throw DeltaStreamFormat.Corrupt(start + 16, index, $"the Native record's offset is {offset}, not 0.");
            case DeltaRecordKind.Zero or DeltaRecordKind.Unmap when payloadLength != 0:
                throw DeltaStreamFormat.Corrupt(start + 4, index, $"the {kind} record carries a payload of {payloadLength} bytes; it must carry none.");
            case DeltaRecordKind.Zero or DeltaRecordKind.Unmap when length == 0:
                throw DeltaStreamFormat.Corrupt(start + 24, index, $"the {kind} record covers no bytes.");
            default:
                break;
        }
    }

    private void CheckBlockRange(DeltaStreamHeader header, DeltaRecordKind kind, long offset, long length, long start, long index)
    {
        // offset and length come from u64 fields: negative means ≥ 2^63.
        if (offset < 0 || length < 0 || offset > header.VolumeSize - length)
        {
            throw DeltaStreamFormat.Corrupt(start + 16, index,
                $"the {kind} record [{(ulong)offset}, +{(ulong)length}) does not lie inside the volume of {header.VolumeSize} bytes.");
        }
        if (offset < _blockEnd)
        {
            throw DeltaStreamFormat.Corrupt(start + 16, index,
                $"the {kind} record starts at {offset}, before the end of the previous block record ({_blockEnd}): block records must be ascending and must not overlap.");
        }
    }

    private async ValueTask ReadTrailerAsync(DeltaStreamHeader header, ulong recordCount, ulong dataBytes, ulong unmappedBytes,
        ReadOnlySequence<byte> checksum, long start, CancellationToken cancellationToken)
    {
        var hashLength = ChecksumHasher.GetHashLength(header.Algorithm);
        if (checksum.Length != 0 && checksum.Length != hashLength)
        {
            throw DeltaStreamFormat.Corrupt(start + 4, null,
                $"the trailer's volume checksum is {checksum.Length} bytes; {header.Algorithm} digests are {hashLength} bytes (or none).");
        }
        if (recordCount != (ulong)RecordCount)
        {
            throw DeltaStreamFormat.Corrupt(start + 8, null,
                $"the trailer counts {recordCount} records but the stream holds {RecordCount}: records are missing or extra.");
        }
        if (dataBytes != (ulong)_dataBytes)
        {
            throw DeltaStreamFormat.Corrupt(start + 16, null, $"the trailer counts {dataBytes} data bytes but the records hold {_dataBytes}.");
        }
        if (unmappedBytes != (ulong)_unmappedBytes)
        {
            throw DeltaStreamFormat.Corrupt(start + 24, null, $"the trailer counts {unmappedBytes} zeroed and unmapped bytes but the records cover {_unmappedBytes}.");
        }
        var trailer = new DeltaStreamTrailer(RecordCount, _dataBytes, _unmappedBytes, checksum.ToArray());
        Consume(DeltaStreamFormat.FrameHeaderSize + checksum.Length + DeltaStreamFormat.CrcSize);
        if (!_allowDataAfterTrailer)
        {
            await CheckEndOfInputAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            Release();
        }
        Trailer = trailer;
    }

    private async ValueTask CheckEndOfInputAsync(CancellationToken cancellationToken)
    {
        Release();
        while (true)
        {
            var result = await _source.ReadAsync(cancellationToken).ConfigureAwait(false);
            _buffer = result.Buffer;
            _holdingBuffer = true;
            if (!_buffer.IsEmpty)
            {
                throw DeltaStreamFormat.Corrupt(_position, null,
                    $"data follows the trailer ({_buffer.Length} bytes{(result.IsCompleted ? "" : " at least")}), but the trailer must end the stream.");
            }
            if (result.IsCompleted)
            {
                return;
            }
            if (result.IsCanceled)
            {
                throw new OperationCanceledException("The read of the delta stream was cancelled.");
            }
            Release();
        }
    }

    private void VerifyCrc(ReadOnlySequence<byte> frame, long start, long index)
    {
        var covered = frame.Slice(0, frame.Length - DeltaStreamFormat.CrcSize);
        var actual = _frameSeed;
        foreach (var segment in covered)
        {
            actual = Crc32C.Append(actual, segment.Span);
        }
        Span<byte> stored = stackalloc byte[DeltaStreamFormat.CrcSize];
        frame.Slice(covered.Length).CopyTo(stored);
        var expected = BinaryPrimitives.ReadUInt32LittleEndian(stored);
        if (actual != expected)
        {
            throw DeltaStreamFormat.Corrupt(start, index,
                $"the frame's CRC-32C is 0x{actual:x8} but the stream says 0x{expected:x8} (at byte {start + covered.Length}): the record or trailer is corrupt.");
        }
    }

    /// <summary>Makes <c>_buffer</c> hold at least <paramref name="count"/> bytes from <c>_position</c>, or throws that the stream is truncated.</summary>
    private async ValueTask FillAsync(int count, long? index, string what, CancellationToken cancellationToken)
    {
        if (_holdingBuffer && _buffer.Length >= count)
        {
            return;
        }
        Release();
        var result = await _source.ReadAtLeastAsync(count, cancellationToken).ConfigureAwait(false);
        _buffer = result.Buffer;
        _holdingBuffer = true;
        if (_buffer.Length >= count)
        {
            return;
        }
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The read of the delta stream was cancelled.");
        }
        throw DeltaStreamFormat.Corrupt(_position + _buffer.Length, index,
            $"the stream is truncated: it ends {_buffer.Length} bytes into {what} (at byte {_position}), which needs {count} bytes.");
    }

    /// <summary>Marks <paramref name="count"/> bytes at the start of <c>_buffer</c> as read; they stay valid until <see cref="Release"/>.</summary>
    private void Consume(long count)
    {
        _buffer = _buffer.Slice(count);
        _position += count;
    }

    /// <summary>Hands the consumed bytes back to the pipe (invalidating payloads handed out).</summary>
    private void Release()
    {
        if (_holdingBuffer)
        {
            _source.AdvanceTo(_buffer.Start);
            _holdingBuffer = false;
        }
    }

    private void CheckUsable()
    {
        if (_disposed)
        {
            ThrowHelper.ThrowObjectDisposed(this);
        }
        if (_fault is not null)
        {
            throw new InvalidOperationException($"The delta stream reader failed earlier and cannot go on: {_fault.Message}", _fault);
        }
    }
}
