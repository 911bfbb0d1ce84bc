using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using DeltaSnap.Checksums;

namespace DeltaSnap.Lvol;

/// <summary>What an lvol diff stream carries before its records.</summary>
internal sealed record LvolDiffHeader
{
    public required long VolumeSize { get; init; }

    public required int ClusterSize { get; init; }

    public required string SnapshotName { get; init; }

    public required SnapshotIdentity Snapshot { get; init; }

    public required DateTimeOffset CreatedUtc { get; init; }

    public SnapshotIdentity? SnapshotReceivedFrom { get; init; }

    public string? BaseName { get; init; }

    public SnapshotIdentity? Base { get; init; }

    public SnapshotIdentity? BaseReceivedFrom { get; init; }

    /// <summary>What every record's CRC-32C starts from (version 2): the CRC-32C of the header's CRC bytes, which binds records to their header.</summary>
    public uint RecordSeed { get; init; }
}

/// <summary>The kinds of record of an lvol diff stream.</summary>
internal enum LvolDiffRecordKind : byte
{
    Data = 1,
    Zero = 2,
    End = 3,
}

/// <summary>
/// The lvol backend's native stream (as <c>rbd export-diff</c> is RBD's): a header naming the snapshot and the base it
/// is incremental from (identities, so a receiver can refuse a stream that does not fit), then data and zero records
/// for the byte ranges that changed between them — known from the cluster maps, down to 4 KiB blocks, without reading
/// anything else — then an end record with the counts. Every part carries a CRC-32C.
/// </summary>
internal static class LvolDiffStream
{
    public const int MaxDataRecord = 1 << 20;
    private const uint Version = 2;
    public const int RecordHeaderSize = 1 + 8 + 8 + 4;
    private static readonly byte[] Magic = "DSLVDIFF"u8.ToArray();

    /// <summary>The record seed of an encoded header: the CRC-32C of its last 4 bytes (its own CRC).</summary>
    public static uint SeedOf(byte[] encodedHeader) => Crc32C.Compute(encodedHeader.AsSpan(encodedHeader.Length - 4));

    public static byte[] EncodeHeader(LvolDiffHeader header)
    {
        var w = new ArrayBufferWriter<byte>(256);
        w.Write(Magic);
        w.WriteUInt32(Version);
        w.WriteUInt64((ulong)header.VolumeSize);
        w.WriteUInt32((uint)header.ClusterSize);
        w.WriteUInt64((ulong)header.CreatedUtc.UtcTicks);
        w.WriteString16(header.SnapshotName);
        w.WriteString16(header.Snapshot.ToString());
        w.WriteString16(header.SnapshotReceivedFrom?.ToString() ?? "");
        w.WriteString16(header.BaseName ?? "");
        w.WriteString16(header.Base?.ToString() ?? "");
        w.WriteString16(header.BaseReceivedFrom?.ToString() ?? "");
        w.WriteUInt32(Crc32C.Compute(w.WrittenSpan));
        return w.WrittenSpan.ToArray();
    }

    public static async Task<LvolDiffHeader> ReadHeaderAsync(Stream source, CancellationToken cancellationToken)
    {
        var fixedPart = await ReadAsync(source, 32, "header", cancellationToken).ConfigureAwait(false);
        if (!fixedPart.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new CorruptDataException("The stream is not an lvol diff stream (bad magic).");
        }
        var version = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart.AsSpan(8));
        if (version == 1)
        {
            throw new CorruptDataException(
                "The lvol diff stream has version 1, which this library no longer reads: its records are not bound to its header, so a spliced stream passes every check. Send it again.");
        }
        if (version != Version)
        {
            throw new CorruptDataException($"The lvol diff stream has version {version}; this library reads version {Version}.");
        }
        var crc = Crc32C.Compute(fixedPart);
        var strings = new string[6];
        for (var i = 0; i < strings.Length; i++)
        {
            var lengthBytes = await ReadAsync(source, 2, "header", cancellationToken).ConfigureAwait(false);
            var text = await ReadAsync(source, BinaryPrimitives.ReadUInt16LittleEndian(lengthBytes), "header", cancellationToken).ConfigureAwait(false);
            crc = Crc32C.Append(Crc32C.Append(crc, lengthBytes), text);
            strings[i] = Encoding.UTF8.GetString(text);
        }
        var expected = await ReadAsync(source, 4, "header", cancellationToken).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32LittleEndian(expected) != crc)
        {
            throw new CorruptDataException("The lvol diff stream's header is corrupt (CRC mismatch).");
        }
        var volumeSize = BinaryPrimitives.ReadInt64LittleEndian(fixedPart.AsSpan(12));
        var clusterSize = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart.AsSpan(20));
        var ticks = BinaryPrimitives.ReadInt64LittleEndian(fixedPart.AsSpan(24));
        if (volumeSize <= 0 || clusterSize is < ClusterLayout.MinClusterSize or > ClusterLayout.MaxClusterSize || !System.Numerics.BitOperations.IsPow2(clusterSize)
            || ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            throw new CorruptDataException($"The lvol diff stream's header is malformed: volume size {volumeSize}, cluster size {clusterSize}, creation time {ticks} ticks.");
        }
        try
        {
            return new LvolDiffHeader
            {
                VolumeSize = volumeSize,
                ClusterSize = (int)clusterSize,
                CreatedUtc = new DateTimeOffset(ticks, TimeSpan.Zero),
                SnapshotName = strings[0],
                Snapshot = SnapshotIdentity.Parse(strings[1]),
                SnapshotReceivedFrom = strings[2].Length == 0 ? null : SnapshotIdentity.Parse(strings[2]),
                BaseName = strings[3].Length == 0 ? null : strings[3],
                Base = strings[4].Length == 0 ? null : SnapshotIdentity.Parse(strings[4]),
                BaseReceivedFrom = strings[5].Length == 0 ? null : SnapshotIdentity.Parse(strings[5]),
                RecordSeed = Crc32C.Compute(expected),
            };
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new CorruptDataException($"The lvol diff stream's header is malformed: {e.Message}", e);
        }
    }

    /// <summary>Appends a record header (and, for data, its payload) to <paramref name="w"/>.</summary>
    public static void PutRecord(ArrayBufferWriter<byte> w, uint seed, LvolDiffRecordKind kind, long offset, long length, ReadOnlySpan<byte> payload)
    {
        PutRecordHeader(w, seed, kind, offset, length, payload);
        if (kind == LvolDiffRecordKind.Data)
        {
            w.Write(payload);
        }
    }

    /// <summary>
    /// Appends a record header to <paramref name="w"/>: its CRC covers <paramref name="payload"/> for data, but the payload
    /// is not appended (the caller writes it right after the header, from where it is).
    /// </summary>
    public static void PutRecordHeader(ArrayBufferWriter<byte> w, uint seed, LvolDiffRecordKind kind, long offset, long length, ReadOnlySpan<byte> payload)
    {
        WriteRecordHeader(w.GetSpan(RecordHeaderSize), seed, kind, offset, length, payload);
        w.Advance(RecordHeaderSize);
    }

    /// <summary>Writes a record header into the first <see cref="RecordHeaderSize"/> bytes of <paramref name="span"/> (its CRC covers <paramref name="payload"/> for data).</summary>
    public static void WriteRecordHeader(Span<byte> span, uint seed, LvolDiffRecordKind kind, long offset, long length, ReadOnlySpan<byte> payload)
    {
        span[0] = (byte)kind;
        BinaryPrimitives.WriteInt64LittleEndian(span[1..], offset);
        BinaryPrimitives.WriteInt64LittleEndian(span[9..], length);
        var crc = Crc32C.Append(seed, span[..17]);
        if (kind == LvolDiffRecordKind.Data)
        {
            crc = Crc32C.Append(crc, payload);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(span[17..], crc);
    }

    /// <summary>Reads the next record; for data, fills <paramref name="payload"/> (at least <see cref="MaxDataRecord"/> bytes) and checks its CRC.</summary>
    public static async Task<(LvolDiffRecordKind Kind, long Offset, long Length)> ReadRecordAsync(Stream source, uint seed, Memory<byte> payload, CancellationToken cancellationToken)
    {
        var head = await ReadAsync(source, RecordHeaderSize, "record", cancellationToken).ConfigureAwait(false);
        var kind = (LvolDiffRecordKind)head[0];
        var offset = BinaryPrimitives.ReadInt64LittleEndian(head.AsSpan(1));
        var length = BinaryPrimitives.ReadInt64LittleEndian(head.AsSpan(9));
        var crc = Crc32C.Append(seed, head.AsSpan(0, 17));
        if (kind is not (LvolDiffRecordKind.Data or LvolDiffRecordKind.Zero or LvolDiffRecordKind.End) || offset < 0 || length < 0
            || (kind == LvolDiffRecordKind.Data && length > MaxDataRecord))
        {
            throw new CorruptDataException($"The lvol diff stream holds a malformed record (kind {head[0]}, offset {offset}, length {length}).");
        }
        if (kind == LvolDiffRecordKind.Data)
        {
            await ReadIntoAsync(source, payload[..(int)length], "record", cancellationToken).ConfigureAwait(false);
            crc = Crc32C.Append(crc, payload.Span[..(int)length]);
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(17)) != crc)
        {
            throw new CorruptDataException($"The lvol diff stream's {kind.ToString().ToLowerInvariant()} record at offset {offset} is corrupt (CRC mismatch).");
        }
        return (kind, offset, length);
    }

    /// <summary>Throws unless the stream ends here (after the end record).</summary>
    public static async Task CheckEndOfStreamAsync(Stream source, CancellationToken cancellationToken)
    {
        var one = new byte[1];
        if (await source.ReadAsync(one, cancellationToken).ConfigureAwait(false) != 0)
        {
            throw new CorruptDataException("The lvol diff stream goes on after its end record: it is damaged or two streams were joined.");
        }
    }

    private static async Task<byte[]> ReadAsync(Stream source, int count, string what, CancellationToken cancellationToken)
    {
        var buffer = new byte[count];
        await ReadIntoAsync(source, buffer, what, cancellationToken).ConfigureAwait(false);
        return buffer;
    }

    private static async Task ReadIntoAsync(Stream source, Memory<byte> buffer, string what, CancellationToken cancellationToken)
    {
        try
        {
            await source.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new CorruptDataException($"The lvol diff stream is truncated (it ended inside a {what}).", e);
        }
    }
}
