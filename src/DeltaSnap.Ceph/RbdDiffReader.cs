using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace DeltaSnap.Ceph;

/// <summary>
/// Reads an <c>rbd diff v1</c> or <c>v2</c> stream (what <c>rbd export-diff</c> writes): the header with
/// <see cref="ReadHeaderAsync"/>, then the data and zero records with <see cref="ReadRecordsAsync"/>. Everything is
/// checked as it is read: a wrong banner, an unknown record (v1), a record whose length field disagrees with its
/// content (v2), an extent outside the image, or a stream that ends before its end record throws
/// <see cref="CorruptDataException"/> naming the byte offset. Unknown v2 records are skipped, as Ceph does.
/// </summary>
public sealed class RbdDiffReader : IDisposable
{
    /// <summary>The v1 banner, <c>"rbd diff v1\n"</c>.</summary>
    public static ReadOnlySpan<byte> BannerV1 => "rbd diff v1\n"u8;

    /// <summary>The v2 banner, <c>"rbd diff v2\n"</c>.</summary>
    public static ReadOnlySpan<byte> BannerV2 => "rbd diff v2\n"u8;

    private const int BannerLength = 12;
    private const int MaxSnapshotNameLength = 4096; // rbd import-diff's own limit
    private const byte TagFrom = (byte)'f';
    private const byte TagTo = (byte)'t';
    private const byte TagSize = (byte)'s';
    private const byte TagProtection = (byte)'p';
    private const byte TagWrite = (byte)'w';
    private const byte TagZero = (byte)'z';
    private const byte TagEnd = (byte)'e';

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly int _maxBufferedRecordLength;
    private readonly byte[] _buffer = new byte[64 << 10];
    private int _start;
    private int _end;
    private long _position;
    private bool _headerRead;
    private bool _finished;
    private byte? _pendingTag;
    private ulong _pendingLength;

    private const int MaxKeptExtraRecordLength = 64 << 10;
    private const long MaxKeptExtraBytes = 8L << 20;
    private long _keptExtraBytes;

    // A data record longer than the buffer limit is delivered in pieces; these hold what is left of it.
    private long _pieceOffset;
    private long _pieceRemaining;

    /// <summary>Creates a reader.</summary>
    /// <param name="stream">The stream, positioned at the banner.</param>
    /// <param name="maxBufferedRecordLength">Data records up to this length arrive whole; longer ones in pieces of this size.</param>
    /// <param name="leaveOpen">Leave the stream open when the reader is disposed.</param>
    public RbdDiffReader(Stream stream, int maxBufferedRecordLength = 32 << 20, bool leaveOpen = true)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBufferedRecordLength, 64 << 10);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBufferedRecordLength, 256 << 20);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _maxBufferedRecordLength = maxBufferedRecordLength;
    }

    /// <summary>Records of tags Ceph does not define in a v2 stream (up to 64 KiB each and 8 MiB in all; others are skipped), in stream order: DeltaSnap's own.</summary>
    internal List<(byte Tag, byte[] Payload)> ExtraRecords { get; } = [];

    /// <summary>When set, every data and zero record read is added to it (whole records, whatever the pieces).</summary>
    internal RecordDigest? Digest { get; set; }

    /// <summary>When set, every data and zero record read is listed in it, in stream order.</summary>
    internal List<(RbdDiffRecordKind Kind, ByteRange Range)>? RecordLog { get; set; }

    /// <summary>The header, once <see cref="ReadHeaderAsync"/> has read it.</summary>
    public RbdDiffHeader? Header { get; private set; }

    /// <summary>How many bytes of the stream have been consumed.</summary>
    public long Position => _position;

    /// <summary>Whether the end record has been read.</summary>
    public bool IsFinished => _finished;

    /// <summary>Reads the banner and the metadata records (from and to snapshot, image size, protection).</summary>
    /// <exception cref="CorruptDataException">The stream is not an rbd diff, or its header is corrupt or truncated.</exception>
    /// <exception cref="InvalidOperationException">The header was read already.</exception>
    public async Task<RbdDiffHeader> ReadHeaderAsync(CancellationToken cancellationToken = default)
    {
        if (_headerRead)
        {
            throw new InvalidOperationException("The rbd diff header has been read already.");
        }
        _headerRead = true;
        if (!await TryFillAsync(BannerLength, cancellationToken).ConfigureAwait(false))
        {
            throw Corrupt($"is not an rbd diff: it ends after {Available} bytes, before the {BannerLength}-byte banner");
        }
        var banner = _buffer.AsSpan(_start, BannerLength);
        var format = banner.SequenceEqual(BannerV1) ? RbdDiffFormat.V1
            : banner.SequenceEqual(BannerV2) ? RbdDiffFormat.V2
            : throw Corrupt($"is not an rbd diff: it starts with \"{Printable(banner)}\", not \"rbd diff v1\\n\" or \"rbd diff v2\\n\"");
        Consume(BannerLength);

        var header = new RbdDiffHeader { Format = format };
        bool seenFrom = false, seenTo = false, seenSize = false, seenProtection = false;
        while (true)
        {
            var recordStart = _position;
            var (tag, length) = await ReadTagAsync(format, cancellationToken).ConfigureAwait(false);
            switch (tag)
            {
                case TagFrom or TagTo:
                    var name = await ReadNameAsync(format, length, recordStart, cancellationToken).ConfigureAwait(false);
                    if (tag == TagFrom)
                    {
                        Once(ref seenFrom, "from-snapshot", recordStart);
                        header = header with { FromSnapshot = name };
                    }
                    else
                    {
                        Once(ref seenTo, "to-snapshot", recordStart);
                        header = header with { ToSnapshot = name };
                    }
                    break;
                case TagSize:
                    CheckLength(format, length, 8, "size", recordStart);
                    Once(ref seenSize, "size", recordStart);
                    var size = await ReadUInt64Async(cancellationToken).ConfigureAwait(false);
                    if (size > long.MaxValue)
                    {
                        throw Corrupt($"has an impossible image size {size} in the record at byte {recordStart}");
                    }
                    header = header with { ImageSize = (long)size };
                    break;
                case TagProtection when format == RbdDiffFormat.V2:
                    // Ceph's exporter writes a length of 8 but one byte of status, and its importer reads one byte
                    // whatever the length says; accept both 1 (the documented rule) and 8 (what rbd writes).
                    if (length is not (1 or 8))
                    {
                        CheckLength(format, length, 1, "protection", recordStart);
                    }
                    Once(ref seenProtection, "protection", recordStart);
                    await FillAsync(1, cancellationToken).ConfigureAwait(false);
                    header = header with { IsProtected = _buffer[_start] != 0 };
                    Consume(1);
                    break;
                case TagWrite or TagZero or TagEnd:
                    _pendingTag = tag;
                    _pendingLength = length;
                    Header = header;
                    return header;
                default:
                    if (format == RbdDiffFormat.V1)
                    {
                        throw Corrupt($"has an unknown record tag 0x{tag:x2} ('{Printable([tag])}') at byte {recordStart}");
                    }
                    await SkipOrKeepAsync(tag, length, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>
    /// The data and zero records, in stream order, until the end record. A data record's bytes are valid only
    /// until the next one is requested.
    /// </summary>
    /// <exception cref="CorruptDataException">A record is corrupt, an extent lies outside the image, or the stream ends early.</exception>
    /// <exception cref="InvalidOperationException">The header has not been read.</exception>
    public async IAsyncEnumerable<RbdDiffRecord> ReadRecordsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var record = await ReadNextAsync(cancellationToken).ConfigureAwait(false);
            if (record is not { } r)
            {
                yield break;
            }
            try
            {
                yield return new RbdDiffRecord(r.Kind, r.Offset, r.Length, r.Buffer is null ? default : r.Buffer.AsMemory(0, (int)r.Length));
            }
            finally
            {
                r.Return();
            }
        }
    }

    /// <summary>Reads the rest of the stream, checking every record, without keeping any data.</summary>
    /// <returns>The number of data bytes and zero bytes the stream describes.</returns>
    /// <exception cref="CorruptDataException">The stream is corrupt or truncated.</exception>
    public async Task<(long DataBytes, long ZeroBytes, long Records)> ValidateRestAsync(CancellationToken cancellationToken = default)
    {
        long data = 0, zero = 0, records = 0;
        while (await ReadNextAsync(cancellationToken, skipData: true).ConfigureAwait(false) is { } r)
        {
            if (r.Kind == RbdDiffRecordKind.Data)
            {
                data += r.Length;
            }
            else
            {
                zero += r.Length;
            }
            records++;
        }
        return (data, zero, records);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    /// <summary>A record with its data in a pooled buffer the caller owns (return it with <see cref="OwnedRecord.Return"/>).</summary>
    internal readonly record struct OwnedRecord(RbdDiffRecordKind Kind, long Offset, long Length, byte[]? Buffer)
    {
        public void Return()
        {
            if (Buffer is not null)
            {
                IoBuffers.Pool.Return(Buffer);
            }
        }
    }

    /// <summary>The next record, or null after the end record.</summary>
    internal async ValueTask<OwnedRecord?> ReadNextAsync(CancellationToken cancellationToken, bool skipData = false)
    {
        if (!_headerRead || Header is null)
        {
            throw new InvalidOperationException("Read the rbd diff header first.");
        }
        if (_pieceRemaining > 0)
        {
            return await ReadPieceAsync(skipData, cancellationToken).ConfigureAwait(false);
        }
        if (_finished)
        {
            return null;
        }
        var format = Header.Format;
        while (true)
        {
            var recordStart = _position;
            byte tag;
            ulong length;
            if (_pendingTag is { } pending)
            {
                tag = pending;
                length = _pendingLength;
                recordStart = _position - (format == RbdDiffFormat.V2 && pending != TagEnd ? 9 : 1);
                _pendingTag = null;
            }
            else
            {
                (tag, length) = await ReadTagAsync(format, cancellationToken).ConfigureAwait(false);
            }
            switch (tag)
            {
                case TagEnd:
                    _finished = true;
                    return null;
                case TagWrite or TagZero:
                    var offset = await ReadUInt64Async(cancellationToken).ConfigureAwait(false);
                    var extent = await ReadUInt64Async(cancellationToken).ConfigureAwait(false);
                    var kind = tag == TagWrite ? RbdDiffRecordKind.Data : RbdDiffRecordKind.Zero;
                    if (format == RbdDiffFormat.V2 && length != 16 + (kind == RbdDiffRecordKind.Data ? extent : 0))
                    {
                        throw Corrupt($"has a {(char)tag} record at byte {recordStart} whose length field says {length} bytes but whose extent needs {16 + (kind == RbdDiffRecordKind.Data ? extent : 0)}");
                    }
                    CheckExtent(offset, extent, (char)tag, recordStart);
                    Digest?.AddRecord(kind, (long)offset, (long)extent);
                    RecordLog?.Add((kind, new ByteRange((long)offset, (long)extent)));
                    if (kind == RbdDiffRecordKind.Zero)
                    {
                        return new OwnedRecord(kind, (long)offset, (long)extent, null);
                    }
                    _pieceOffset = (long)offset;
                    _pieceRemaining = (long)extent;
                    if (_pieceRemaining == 0)
                    {
                        continue;
                    }
                    return await ReadPieceAsync(skipData, cancellationToken).ConfigureAwait(false);
                case TagFrom or TagTo or TagSize:
                case TagProtection when format == RbdDiffFormat.V2:
                    throw Corrupt($"has a '{(char)tag}' metadata record at byte {recordStart}, after the data records began");
                default:
                    if (format == RbdDiffFormat.V1)
                    {
                        throw Corrupt($"has an unknown record tag 0x{tag:x2} ('{Printable([tag])}') at byte {recordStart}");
                    }
                    await SkipOrKeepAsync(tag, length, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    private async ValueTask<OwnedRecord?> ReadPieceAsync(bool skipData, CancellationToken cancellationToken)
    {
        var length = (int)Math.Min(_pieceRemaining, _maxBufferedRecordLength);
        var offset = _pieceOffset;
        byte[]? buffer = null;
        if (skipData)
        {
            await SkipAsync((ulong)length, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            buffer = IoBuffers.Pool.Rent(length);
            try
            {
                await ReadExactAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                Digest?.AddData(buffer.AsSpan(0, length));
            }
            catch
            {
                IoBuffers.Pool.Return(buffer);
                throw;
            }
        }
        _pieceOffset += length;
        _pieceRemaining -= length;
        return new OwnedRecord(RbdDiffRecordKind.Data, offset, length, buffer);
    }

    private async ValueTask SkipOrKeepAsync(byte tag, ulong length, CancellationToken cancellationToken)
    {
        // Unknown records are kept for the caller (DeltaSnap's own), up to a bound per record and in all; the rest
        // are skipped, as Ceph skips them.
        if (length > MaxKeptExtraRecordLength || _keptExtraBytes + (long)length > MaxKeptExtraBytes)
        {
            await SkipAsync(length, cancellationToken).ConfigureAwait(false);
            return;
        }
        var payload = new byte[(int)length];
        await FillAsync(payload.Length, cancellationToken).ConfigureAwait(false);
        _buffer.AsSpan(_start, payload.Length).CopyTo(payload);
        Consume(payload.Length);
        _keptExtraBytes += payload.Length;
        ExtraRecords.Add((tag, payload));
    }

    private void CheckExtent(ulong offset, ulong length, char tag, long recordStart)
    {
        if (offset > long.MaxValue || length > long.MaxValue || offset + length < offset || offset + length > long.MaxValue)
        {
            throw Corrupt($"has a '{tag}' record at byte {recordStart} with an impossible extent {offset}+{length}");
        }
        if (Header!.ImageSize is { } size && offset + length > (ulong)size)
        {
            throw Corrupt($"has a '{tag}' record at byte {recordStart} for [{offset}, {offset + length}), beyond the image size {size}");
        }
    }

    private async ValueTask<(byte Tag, ulong Length)> ReadTagAsync(RbdDiffFormat format, CancellationToken cancellationToken)
    {
        if (!await TryFillAsync(1, cancellationToken).ConfigureAwait(false))
        {
            throw Corrupt($"ends at byte {_position} without an end record (truncated)");
        }
        var tag = _buffer[_start];
        Consume(1);
        ulong length = 0;
        if (format == RbdDiffFormat.V2 && tag != TagEnd)
        {
            length = await ReadUInt64Async(cancellationToken).ConfigureAwait(false);
        }
        return (tag, length);
    }

    private async ValueTask<string> ReadNameAsync(RbdDiffFormat format, ulong recordLength, long recordStart, CancellationToken cancellationToken)
    {
        await FillAsync(4, cancellationToken).ConfigureAwait(false);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_start, 4));
        Consume(4);
        if (length > MaxSnapshotNameLength)
        {
            throw Corrupt($"has a snapshot name of {length} bytes at byte {recordStart} (at most {MaxSnapshotNameLength})");
        }
        if (format == RbdDiffFormat.V2 && recordLength != 4 + (ulong)length)
        {
            throw Corrupt($"has a snapshot record at byte {recordStart} whose length field says {recordLength} bytes but whose name needs {4 + length}");
        }
        await FillAsync((int)length, cancellationToken).ConfigureAwait(false);
        string name;
        try
        {
            name = new UTF8Encoding(false, true).GetString(_buffer, _start, (int)length);
        }
        catch (DecoderFallbackException e)
        {
            throw new CorruptDataException($"The rbd diff has a snapshot name at byte {recordStart} that is not UTF-8.", e);
        }
        Consume((int)length);
        return name;
    }

    private async ValueTask<ulong> ReadUInt64Async(CancellationToken cancellationToken)
    {
        await FillAsync(8, cancellationToken).ConfigureAwait(false);
        var value = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(_start, 8));
        Consume(8);
        return value;
    }

    private async ValueTask ReadExactAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var fromBuffer = Math.Min(Available, destination.Length);
        _buffer.AsSpan(_start, fromBuffer).CopyTo(destination.Span);
        Consume(fromBuffer);
        destination = destination[fromBuffer..];
        while (!destination.IsEmpty)
        {
            var n = await _stream.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw Corrupt($"ends at byte {_position} inside a data record (truncated)");
            }
            _position += n;
            destination = destination[n..];
        }
    }

    private async ValueTask SkipAsync(ulong length, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            if (Available == 0 && !await TryFillAsync(1, cancellationToken).ConfigureAwait(false))
            {
                throw Corrupt($"ends at byte {_position} inside a record (truncated)");
            }
            var n = (int)Math.Min((ulong)Available, length);
            Consume(n);
            length -= (ulong)n;
        }
    }

    private int Available => _end - _start;

    private void Consume(int count)
    {
        _start += count;
        _position += count;
    }

    private async ValueTask FillAsync(int count, CancellationToken cancellationToken)
    {
        if (!await TryFillAsync(count, cancellationToken).ConfigureAwait(false))
        {
            throw Corrupt($"ends at byte {_position + Available} inside a record (truncated)");
        }
    }

    private async ValueTask<bool> TryFillAsync(int count, CancellationToken cancellationToken)
    {
        if (Available >= count)
        {
            return true;
        }
        if (_start > 0)
        {
            _buffer.AsSpan(_start, Available).CopyTo(_buffer);
            _end = Available;
            _start = 0;
        }
        while (_end < count)
        {
            var n = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }
            _end += n;
        }
        return true;
    }

    private static void CheckLength(RbdDiffFormat format, ulong length, ulong expected, string what, long recordStart)
    {
        if (format == RbdDiffFormat.V2 && length != expected)
        {
            throw new CorruptDataException($"The rbd diff has a {what} record at byte {recordStart} whose length field says {length} bytes, not {expected}.");
        }
    }

    private static void Once(ref bool seen, string what, long recordStart)
    {
        if (seen)
        {
            throw new CorruptDataException($"The rbd diff has a second {what} record at byte {recordStart}.");
        }
        seen = true;
    }

    private static CorruptDataException Corrupt(string what) => new($"The rbd diff stream {what}.");

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var builder = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            builder.Append(b is >= 0x20 and < 0x7f ? ((char)b).ToString() : b == '\n' ? "\\n" : $"\\x{b:x2}");
        }
        return builder.ToString();
    }
}
