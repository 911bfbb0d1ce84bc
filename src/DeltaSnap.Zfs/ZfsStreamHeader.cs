using System.Buffers.Binary;
using System.Text;

namespace DeltaSnap.Zfs;

/// <summary>
/// The BEGIN record of a ZFS send stream (OpenZFS <c>include/sys/zfs_ioctl.h</c>, <c>dmu_replay_record</c> with
/// <c>drr_begin</c>): read before a receive, so that a stream that does not fit the target is refused before
/// anything is written.
/// </summary>
/// <remarks>
/// Layout of the 312-byte record: <c>u32 drr_type</c> (0 = BEGIN), <c>u32 drr_payloadlen</c>, then
/// <c>drr_begin</c>: <c>u64 drr_magic</c> (0x2F5BACBAC) at 8, <c>u64 drr_versioninfo</c> at 16 (bits 0–1 header
/// type: 1 substream, 2 compound; bits 2–31 feature flags), <c>u64 drr_creation_time</c> at 24, <c>u32 drr_type</c>
/// (objset type) at 32, <c>u32 drr_flags</c> at 36, <c>u64 drr_toguid</c> at 40, <c>u64 drr_fromguid</c> at 48,
/// <c>char drr_toname[256]</c> at 56. The sender writes its native byte order; everything is read little-endian,
/// and a magic that reads byte-swapped means every integer is (a big-endian sender). A compound stream (<c>zfs send -I</c>, <c>-R</c>, <c>-p</c>) starts with a BEGIN of header
/// type 2, its nvlist payload and an END record; the first substream's BEGIN follows. Checked against streams
/// of zfs-fuse 0.7 (pool version 23).
/// </remarks>
internal sealed record ZfsStreamHeader
{
    /// <summary>The size of every record header (<c>sizeof(dmu_replay_record_t)</c>).</summary>
    public const int RecordSize = 312;

    /// <summary><c>DMU_BACKUP_MAGIC</c>.</summary>
    public const ulong Magic = 0x2F5BACBACUL;

    private const uint RecordBegin = 0;
    private const uint RecordEnd = 5;
    private const int NameOffset = 56;
    private const int NameLength = 256;
    private const int MaxCompoundPayload = 64 << 20;
    private const uint FeatureResuming = 1u << 20;
    private const uint FeatureCompressed = 1u << 22;
    private const uint FeatureRaw = 1u << 24;

    /// <summary>The GUID of the snapshot the stream is incremental from; 0 for a full stream.</summary>
    public required ulong FromGuid { get; init; }

    /// <summary>The GUID of the snapshot the stream creates.</summary>
    public required ulong ToGuid { get; init; }

    /// <summary>The sent snapshot's full name (<c>pool/ds@snap</c>).</summary>
    public required string ToName { get; init; }

    /// <summary>The sent snapshot's creation time (Unix seconds).</summary>
    public required ulong CreationTime { get; init; }

    /// <summary>The feature flags of <c>drr_versioninfo</c>.</summary>
    public required uint Features { get; init; }

    /// <summary>Whether the sender wrote big-endian integers (the magic reads byte-swapped as little-endian).</summary>
    public bool BigEndian { get; init; }

    /// <summary>Whether the stream is a compound stream (the header read is its first substream's).</summary>
    public bool Compound { get; init; }

    /// <summary>Whether the stream is incremental.</summary>
    public bool IsIncremental => FromGuid != 0;

    /// <summary>Whether the stream carries raw (encrypted as stored) blocks (<c>zfs send -w</c>).</summary>
    public bool IsRaw => (Features & FeatureRaw) != 0;

    /// <summary>Whether the stream carries compressed blocks (<c>zfs send -c</c>).</summary>
    public bool IsCompressed => (Features & FeatureCompressed) != 0;

    /// <summary>Whether the stream resumes an interrupted one (<c>zfs send -t</c>).</summary>
    public bool IsResuming => (Features & FeatureResuming) != 0;

    /// <summary>The snapshot part of <see cref="ToName"/>.</summary>
    public string SnapshotName => ToName[(ToName.IndexOf('@', StringComparison.Ordinal) + 1)..];

    /// <summary>
    /// Reads the first substream's BEGIN record from <paramref name="source"/>. Returns it and every byte read,
    /// which the caller feeds to <c>zfs receive</c> before the rest of the stream.
    /// </summary>
    /// <exception cref="CorruptDataException">The stream is empty, truncated, or does not start with a ZFS BEGIN record.</exception>
    public static async Task<(ZfsStreamHeader Header, byte[] Consumed)> ReadAsync(Stream source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        using var consumed = new MemoryStream();
        var record = new byte[RecordSize];
        await ReadRecordAsync(source, record, consumed, "BEGIN record", cancellationToken).ConfigureAwait(false);
        var (header, hdrType, payload) = ParseBegin(record);
        if (hdrType == 2)
        {
            // Compound stream: skip the nvlist payload and the END that closes it; the first substream follows.
            if (payload > MaxCompoundPayload)
            {
                throw new CorruptDataException($"The ZFS compound stream header announces a {payload}-byte payload; refusing more than {MaxCompoundPayload}.");
            }
            var skip = new byte[payload];
            await ReadRecordAsync(source, skip, consumed, "compound stream header payload", cancellationToken).ConfigureAwait(false);
            await ReadRecordAsync(source, record, consumed, "END record of the compound header", cancellationToken).ConfigureAwait(false);
            if (ReadUInt32(record, 0, header.BigEndian) != RecordEnd)
            {
                throw new CorruptDataException($"The ZFS compound stream header is not closed by an END record (record type {ReadUInt32(record, 0, header.BigEndian)}).");
            }
            await ReadRecordAsync(source, record, consumed, "first substream's BEGIN record", cancellationToken).ConfigureAwait(false);
            (header, hdrType, _) = ParseBegin(record);
            if (hdrType != 1)
            {
                throw new CorruptDataException($"The first substream of the ZFS compound stream has header type {hdrType}, not 1 (substream).");
            }
            header = header with { Compound = true };
        }
        else if (hdrType != 1)
        {
            throw new CorruptDataException($"The ZFS stream has the unknown header type {hdrType}.");
        }
        return (header, consumed.ToArray());
    }

    /// <summary>Parses one BEGIN record.</summary>
    /// <exception cref="CorruptDataException">The record is not a BEGIN record.</exception>
    public static ZfsStreamHeader Parse(ReadOnlySpan<byte> record) => ParseBegin(record).Header;

    private static (ZfsStreamHeader Header, ulong HeaderType, uint Payload) ParseBegin(ReadOnlySpan<byte> record)
    {
        if (record.Length < RecordSize)
        {
            throw new CorruptDataException($"A ZFS stream record is {RecordSize} bytes; got {record.Length}.");
        }
        var magic = BinaryPrimitives.ReadUInt64LittleEndian(record[8..]);
        bool swapped;
        if (magic == Magic)
        {
            swapped = false;
        }
        else if (BinaryPrimitives.ReverseEndianness(magic) == Magic)
        {
            swapped = true;
        }
        else
        {
            throw new CorruptDataException($"This is not a ZFS send stream: the BEGIN record's magic is 0x{magic:x16}, expected 0x{Magic:x} in either byte order.");
        }
        var type = ReadUInt32(record, 0, swapped);
        if (type != RecordBegin)
        {
            throw new CorruptDataException($"The ZFS stream does not start with a BEGIN record (record type {type}).");
        }
        var versionInfo = ReadUInt64(record, 16, swapped);
        var nameBytes = record.Slice(NameOffset, NameLength);
        var end = nameBytes.IndexOf((byte)0);
        if (end < 0)
        {
            end = NameLength;
        }
        var header = new ZfsStreamHeader
        {
            FromGuid = ReadUInt64(record, 48, swapped),
            ToGuid = ReadUInt64(record, 40, swapped),
            ToName = Encoding.UTF8.GetString(nameBytes[..end]),
            CreationTime = ReadUInt64(record, 24, swapped),
            Features = (uint)((versionInfo >> 2) & 0x3FFF_FFFF),
            BigEndian = swapped,
        };
        return (header, versionInfo & 3, ReadUInt32(record, 4, swapped));
    }

    private static uint ReadUInt32(ReadOnlySpan<byte> record, int offset, bool swapped)
    {
        var value = BinaryPrimitives.ReadUInt32LittleEndian(record[offset..]);
        return swapped ? BinaryPrimitives.ReverseEndianness(value) : value;
    }

    private static ulong ReadUInt64(ReadOnlySpan<byte> record, int offset, bool swapped)
    {
        var value = BinaryPrimitives.ReadUInt64LittleEndian(record[offset..]);
        return swapped ? BinaryPrimitives.ReverseEndianness(value) : value;
    }

    private static async Task ReadRecordAsync(Stream source, byte[] buffer, MemoryStream consumed, string what, CancellationToken cancellationToken)
    {
        var read = await source.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        consumed.Write(buffer, 0, read);
        if (read < buffer.Length)
        {
            throw new CorruptDataException(read == 0 && consumed.Length == 0
                ? "The ZFS stream is empty."
                : $"The ZFS stream ends inside its {what} ({read} of {buffer.Length} bytes).");
        }
    }
}
