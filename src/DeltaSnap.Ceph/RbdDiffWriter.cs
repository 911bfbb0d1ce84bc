using System.Buffers.Binary;
using System.Text;

namespace DeltaSnap.Ceph;

/// <summary>
/// Writes an <c>rbd diff v1</c> or <c>v2</c> stream: <see cref="WriteHeaderAsync"/> once, then data
/// (<c>w</c>) and zero (<c>z</c>) records, then <see cref="CompleteAsync"/> for the end record. A v1 stream is what
/// <c>rbd import-diff</c> reads. Record headers are gathered in a small buffer; data goes straight to the stream.
/// </summary>
public sealed class RbdDiffWriter : IAsyncDisposable
{
    private const int MaxSnapshotNameLength = 4096;
    private const int SmallPayload = 16 << 10;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _buffer = new byte[64 << 10];
    private int _used;
    private long _length;
    private RbdDiffHeader? _header;
    private bool _completed;

    /// <summary>Creates a writer.</summary>
    /// <param name="stream">Where the diff goes.</param>
    /// <param name="format">The stream version (<c>rbd import-diff</c> reads v1).</param>
    /// <param name="leaveOpen">Leave the stream open when the writer is disposed.</param>
    public RbdDiffWriter(Stream stream, RbdDiffFormat format = RbdDiffFormat.V1, bool leaveOpen = true)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (format is not (RbdDiffFormat.V1 or RbdDiffFormat.V2))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown rbd diff format.");
        }
        _stream = stream;
        Format = format;
        _leaveOpen = leaveOpen;
    }

    /// <summary>When set, every data and zero record written is added to it.</summary>
    internal RecordDigest? Digest { get; set; }

    /// <summary>The stream version being written.</summary>
    public RbdDiffFormat Format { get; }

    /// <summary>Bytes written to the stream so far (including what is still buffered).</summary>
    public long Length => _length + _used;

    /// <summary>Writes the banner and the metadata records. <see cref="RbdDiffHeader.Format"/> is ignored: the writer's format applies.</summary>
    /// <exception cref="InvalidOperationException">The header was written already.</exception>
    /// <exception cref="ArgumentException">A snapshot name is empty, too long or holds a NUL; the size is negative.</exception>
    public async Task WriteHeaderAsync(RbdDiffHeader header, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (_header is not null)
        {
            throw new InvalidOperationException("The rbd diff header has been written already.");
        }
        var from = EncodeName(header.FromSnapshot, nameof(header));
        var to = EncodeName(header.ToSnapshot, nameof(header));
        if (header.ImageSize is < 0)
        {
            throw new ArgumentException("The image size must not be negative.", nameof(header));
        }
        _header = header with { Format = Format };
        Append(Format == RbdDiffFormat.V1 ? RbdDiffReader.BannerV1 : RbdDiffReader.BannerV2);
        if (from is not null)
        {
            AppendName((byte)'f', from);
        }
        if (to is not null)
        {
            AppendName((byte)'t', to);
        }
        if (header.ImageSize is { } size)
        {
            AppendTag((byte)'s', 8);
            AppendUInt64((ulong)size);
        }
        if (Format == RbdDiffFormat.V2 && header.IsProtected is { } isProtected)
        {
            AppendTag((byte)'p', 1);
            Append([isProtected ? (byte)1 : (byte)0]);
        }
        await FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a data record.</summary>
    /// <exception cref="InvalidOperationException">No header yet, or the end record was written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The extent lies outside the image size of the header.</exception>
    public async ValueTask WriteDataAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckExtent(offset, data.Length);
        if (data.IsEmpty)
        {
            return;
        }
        if (_buffer.Length - _used < 25)
        {
            await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
        }
        Digest?.AddRecord(RbdDiffRecordKind.Data, offset, data.Length);
        Digest?.AddData(data.Span);
        AppendTag((byte)'w', 16 + (ulong)data.Length);
        AppendUInt64((ulong)offset);
        AppendUInt64((ulong)data.Length);
        if (data.Length <= SmallPayload && _buffer.Length - _used >= data.Length)
        {
            Append(data.Span);
            await FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
        await _stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        _length += data.Length;
    }

    /// <summary>Writes a zero record: the range reads as zeros after the import.</summary>
    /// <exception cref="InvalidOperationException">No header yet, or the end record was written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The extent lies outside the image size of the header.</exception>
    public async ValueTask WriteZeroAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        CheckExtent(offset, length);
        if (length == 0)
        {
            return;
        }
        if (_buffer.Length - _used < 25)
        {
            await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
        }
        Digest?.AddRecord(RbdDiffRecordKind.Zero, offset, length);
        AppendTag((byte)'z', 16);
        AppendUInt64((ulong)offset);
        AppendUInt64((ulong)length);
        await FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes a record of a tag Ceph does not know (v2 only): Ceph's importer skips it by its length. DeltaSnap's
    /// native RBD stream carries snapshot identities and a digest this way.
    /// </summary>
    internal async ValueTask WriteExtraRecordAsync(byte tag, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        CheckOpen();
        if (Format != RbdDiffFormat.V2 || "fts pwze"u8.Contains(tag) || payload.Length > 60 << 10)
        {
            throw new InvalidOperationException($"An extra record needs a v2 stream, an unknown tag and at most 60 KiB (tag '{(char)tag}').");
        }
        await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
        AppendTag(tag, (ulong)payload.Length);
        Append(payload.Span);
        await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes the end record and flushes the stream.</summary>
    /// <exception cref="InvalidOperationException">No header yet, or the end record was written already.</exception>
    public async Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        CheckOpen();
        _completed = true;
        if (_buffer.Length - _used < 1)
        {
            await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
        }
        _buffer[_used++] = (byte)'e';
        await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes out buffered bytes (without an end record) and, unless told to leave it open, closes the stream.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_used > 0)
        {
            await FlushBufferAsync(CancellationToken.None).ConfigureAwait(false);
        }
        if (!_leaveOpen)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void CheckOpen()
    {
        if (_header is null)
        {
            throw new InvalidOperationException("Write the rbd diff header first.");
        }
        if (_completed)
        {
            throw new InvalidOperationException("The rbd diff has been completed; no records may follow its end record.");
        }
    }

    private void CheckExtent(long offset, long length)
    {
        CheckOpen();
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (_header!.ImageSize is { } size && offset > size - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"[{offset}, +{length}) is beyond the image size {size} of the diff.");
        }
    }

    private static byte[]? EncodeName(string? name, string parameter)
    {
        if (name is null)
        {
            return null;
        }
        var bytes = Encoding.UTF8.GetBytes(name);
        if (bytes.Length == 0 || bytes.Length > MaxSnapshotNameLength || Array.IndexOf(bytes, (byte)0) >= 0)
        {
            throw new ArgumentException($"The snapshot name '{name}' cannot go into an rbd diff: it must be 1–{MaxSnapshotNameLength} bytes of UTF-8 without NUL.", parameter);
        }
        return bytes;
    }

    private void AppendName(byte tag, byte[] name)
    {
        AppendTag(tag, 4 + (ulong)name.Length);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)name.Length);
        Append(length);
        Append(name);
    }

    private void AppendTag(byte tag, ulong recordLength)
    {
        Append([tag]);
        if (Format == RbdDiffFormat.V2)
        {
            AppendUInt64(recordLength);
        }
    }

    private void AppendUInt64(ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        Append(bytes);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        // Callers keep within the buffer: record headers flush first when short of room; header records
        // (at most two 4 KiB names) and extra records (at most 60 KiB, after a flush) always fit.
        bytes.CopyTo(_buffer.AsSpan(_used));
        _used += bytes.Length;
    }

    private ValueTask FlushIfFullAsync(CancellationToken cancellationToken) =>
        _used >= _buffer.Length - SmallPayload - 64 ? FlushBufferAsync(cancellationToken) : ValueTask.CompletedTask;

    private async ValueTask FlushBufferAsync(CancellationToken cancellationToken)
    {
        if (_used == 0)
        {
            return;
        }
        await _stream.WriteAsync(_buffer.AsMemory(0, _used), cancellationToken).ConfigureAwait(false);
        _length += _used;
        _used = 0;
    }
}
