using System.Buffers.Binary;
using System.Text;
using DeltaSnap.Checksums;

namespace DeltaSnap.Delta;

/// <summary>
/// The byte layout of a delta stream (version 2), shared by <see cref="DeltaStreamWriter"/> and
/// <see cref="DeltaStreamReader"/>; <c>docs/delta-stream.md</c> describes the same layout in prose.
/// All integers are little-endian.
/// </summary>
internal static class DeltaStreamFormat
{
    /// <summary>Bytes 0-11 of every version: magic, version, header length.</summary>
    public const int HeaderPrefixSize = 12;

    /// <summary>The header's fixed fields, before the snapshots.</summary>
    public const int HeaderFixedSize = 32;

    /// <summary>A snapshot with one-byte name, kind and value.</summary>
    public const int MinSnapshotSize = 8 + (3 * (2 + 1));

    /// <summary>The smallest valid header: fixed fields, a target snapshot, the CRC.</summary>
    public const int MinHeaderSize = HeaderFixedSize + MinSnapshotSize + CrcSize;

    /// <summary>Every frame (record or trailer) starts with this many bytes.</summary>
    public const int FrameHeaderSize = 32;

    /// <summary>The CRC-32C that ends the header and every frame.</summary>
    public const int CrcSize = 4;

    /// <summary>The frame kind of the trailer.</summary>
    public const byte TrailerKind = 0xFF;

    /// <summary>Header flag: a base snapshot follows the target snapshot.</summary>
    public const byte FlagHasBase = 0x01;

    private const long MinUnixSeconds = -62_135_596_800; // 0001-01-01T00:00:00Z
    private const long MaxUnixSeconds = 253_402_300_799; // 9999-12-31T23:59:59Z

    /// <summary>Strict UTF-8: no byte-order mark, throws on invalid input in both directions.</summary>
    public static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>"DSNAPDLT".</summary>
    public static ReadOnlySpan<byte> Magic => "DSNAPDLT"u8;

    /// <summary>The serialized header, CRC included.</summary>
    public static byte[] EncodeHeader(DeltaStreamHeader header)
    {
        var length = HeaderFixedSize + SnapshotSize(header.Target) + (header.Base is null ? 0 : SnapshotSize(header.Base)) + CrcSize;
        var bytes = new byte[length];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], DeltaStream.FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(span[10..], checked((ushort)length));
        span[12] = (byte)header.Algorithm;
        span[13] = (byte)header.PayloadKind;
        span[14] = header.Base is null ? (byte)0 : FlagHasBase;
        span[15] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)header.ClusterSize);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], (uint)header.MaxRecordPayload);
        BinaryPrimitives.WriteUInt64LittleEndian(span[24..], (ulong)header.VolumeSize);
        var position = HeaderFixedSize;
        EncodeSnapshot(span, ref position, header.Target);
        if (header.Base is not null)
        {
            EncodeSnapshot(span, ref position, header.Base);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(span[position..], Crc32C.Compute(span[..position]));
        return bytes;
    }

    /// <summary>Parses a whole header whose prefix and CRC are already checked.</summary>
    /// <exception cref="DeltaStreamException">A field is invalid.</exception>
    public static DeltaStreamHeader DecodeHeader(ReadOnlySpan<byte> header)
    {
        var algorithm = (ChecksumAlgorithm)header[12];
        if (!Enum.IsDefined(algorithm))
        {
            throw Corrupt(12, null, $"the header names checksum algorithm {header[12]}, which this version does not know.");
        }
        var payloadKind = (DeltaStreamPayloadKind)header[13];
        if (!Enum.IsDefined(payloadKind))
        {
            throw Corrupt(13, null, $"the header names payload kind {header[13]}, which this version does not know.");
        }
        var flags = header[14];
        if ((flags & ~FlagHasBase) != 0 || header[15] != 0)
        {
            throw Corrupt(14, null, $"the header flags are 0x{flags:x2} 0x{header[15]:x2}; this version defines only bit 0 of the first byte.");
        }
        var clusterSize = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        if (clusterSize is < ClusterLayout.MinClusterSize or > ClusterLayout.MaxClusterSize || !System.Numerics.BitOperations.IsPow2(clusterSize))
        {
            throw Corrupt(16, null, $"the cluster size is {clusterSize}, not a power of two from {ClusterLayout.MinClusterSize} to {ClusterLayout.MaxClusterSize}.");
        }
        var maxRecordPayload = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
        if (maxRecordPayload is < DeltaStream.SmallestMaxRecordPayload or > DeltaStream.LargestMaxRecordPayload)
        {
            throw Corrupt(20, null,
                $"the largest record payload is {maxRecordPayload} bytes, not from {DeltaStream.SmallestMaxRecordPayload} to {DeltaStream.LargestMaxRecordPayload}.");
        }
        var volumeSize = BinaryPrimitives.ReadUInt64LittleEndian(header[24..]);
        if (volumeSize > long.MaxValue)
        {
            throw Corrupt(24, null, $"the volume size {volumeSize} is larger than {long.MaxValue}.");
        }
        var position = HeaderFixedSize;
        var target = DecodeSnapshot(header, ref position, "target snapshot");
        var baseSnapshot = (flags & FlagHasBase) != 0 ? DecodeSnapshot(header, ref position, "base snapshot") : null;
        if (position != header.Length - CrcSize)
        {
            throw Corrupt(position, null, $"the header is {header.Length} bytes long but its fields end at byte {position + CrcSize}.");
        }
        return new DeltaStreamHeader(payloadKind, (long)volumeSize, (int)clusterSize, algorithm, target, baseSnapshot)
        {
            MaxRecordPayload = (int)maxRecordPayload,
        };
    }

    /// <summary>
    /// The value every frame's CRC-32C starts from (version 2): the CRC-32C of the header's own 4 CRC bytes, as if
    /// they preceded the frame. It binds each record and the trailer to the header of their stream, so a header
    /// spliced onto another stream's records fails at the first frame.
    /// </summary>
    public static uint FrameSeed(ReadOnlySpan<byte> encodedHeader) => Crc32C.Compute(encodedHeader[^CrcSize..]);

    /// <summary>Writes the 32 bytes every frame starts with.</summary>
    public static void WriteFrameHeader(Span<byte> destination, byte kind, int payloadLength, long index, long offset, long length)
    {
        destination[0] = kind;
        destination[1..4].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)payloadLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], (ulong)index);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], (ulong)offset);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], (ulong)length);
    }

    /// <summary>An exception saying what is wrong at <paramref name="streamOffset"/>.</summary>
    public static DeltaStreamException Corrupt(long streamOffset, long? recordIndex, string detail, Exception? innerException = null) =>
        new($"Corrupt delta stream at byte {streamOffset}{(recordIndex is { } index ? $" (record {index})" : "")}: {detail}",
            streamOffset, recordIndex, innerException);

    private static int SnapshotSize(DeltaStreamSnapshot snapshot) =>
        8 + (3 * 2) + Utf8.GetByteCount(snapshot.Name) + Utf8.GetByteCount(snapshot.Identity.Kind) + Utf8.GetByteCount(snapshot.Identity.Value);

    private static void EncodeSnapshot(Span<byte> destination, ref int position, DeltaStreamSnapshot snapshot)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination[position..], snapshot.CreatedAt.ToUnixTimeSeconds());
        position += 8;
        EncodeText(destination, ref position, snapshot.Name);
        EncodeText(destination, ref position, snapshot.Identity.Kind);
        EncodeText(destination, ref position, snapshot.Identity.Value);
    }

    private static void EncodeText(Span<byte> destination, ref int position, string text)
    {
        var length = Utf8.GetBytes(text, destination[(position + 2)..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[position..], (ushort)length);
        position += 2 + length;
    }

    private static DeltaStreamSnapshot DecodeSnapshot(ReadOnlySpan<byte> header, ref int position, string what)
    {
        var start = position;
        var end = header.Length - CrcSize;
        if (position + 8 > end)
        {
            throw Corrupt(position, null, $"the {what} does not fit in the header.");
        }
        var seconds = BinaryPrimitives.ReadInt64LittleEndian(header[position..]);
        if (seconds is < MinUnixSeconds or > MaxUnixSeconds)
        {
            throw Corrupt(position, null, $"the {what}'s creation time {seconds} is outside the years 1 to 9999.");
        }
        position += 8;
        var name = DecodeText(header, ref position, end, $"{what}'s name");
        var kind = DecodeText(header, ref position, end, $"{what}'s identity kind");
        var value = DecodeText(header, ref position, end, $"{what}'s identity value");
        try
        {
            return new DeltaStreamSnapshot(name, new SnapshotIdentity(kind, value), DateTimeOffset.FromUnixTimeSeconds(seconds));
        }
        catch (ArgumentException e)
        {
            throw Corrupt(start, null, $"the {what} is invalid: {e.Message}", e);
        }
    }

    private static string DecodeText(ReadOnlySpan<byte> header, ref int position, int end, string what)
    {
        if (position + 2 > end)
        {
            throw Corrupt(position, null, $"the {what} does not fit in the header.");
        }
        int length = BinaryPrimitives.ReadUInt16LittleEndian(header[position..]);
        if (length > DeltaStreamSnapshot.MaxTextBytes || position + 2 + length > end)
        {
            throw Corrupt(position, null, $"the {what} is {length} bytes long, more than the header holds or {DeltaStreamSnapshot.MaxTextBytes}.");
        }
        try
        {
            var text = Utf8.GetString(header.Slice(position + 2, length));
            position += 2 + length;
            return text;
        }
        catch (DecoderFallbackException e)
        {
            throw Corrupt(position, null, $"the {what} is not valid UTF-8.", e);
        }
    }
}
