using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace DeltaSnap.Btrfs;

/// <summary>
/// The beginning of a Btrfs send stream: the stream header and its first command, which says what the stream
/// creates (SUBVOL: a full stream; SNAPSHOT: an incremental one, with its parent's UUID and ctransid). Read
/// before <c>btrfs receive</c> starts, so that a stream that does not fit the target is refused with nothing
/// written. Layout (btrfs-progs <c>kernel-shared/send.h</c>, checked against streams of btrfs-progs 6.2 on
/// Linux 6.x): <c>"btrfs-stream\0"</c>, le32 version; each command le32 length (of its attributes), le16
/// command, le32 CRC-32C (seed 0, no final inversion, over the command header with the CRC field zeroed and the
/// attributes); attributes are le16 type, le16 length, value.
/// </summary>
internal sealed record BtrfsStreamStart
{
    /// <summary>The magic at the start of every stream, its terminating NUL included.</summary>
    public static ReadOnlySpan<byte> Magic => "btrfs-stream\0"u8;

    public const ushort SubvolumeCommand = 1;
    public const ushort SnapshotCommand = 2;

    // Attribute numbers (enum btrfs_send_attr; identical in protocol versions 1 and 2 for these).
    private const ushort UuidAttribute = 1;
    private const ushort CTransIdAttribute = 2;
    private const ushort PathAttribute = 15;
    private const ushort CloneUuidAttribute = 20;
    private const ushort CloneCTransIdAttribute = 21;

    private const int StreamHeaderLength = 17;
    private const int CommandHeaderLength = 10;

    /// <summary>A first command larger than this is not a SUBVOL or SNAPSHOT command (they hold a path and a few numbers).</summary>
    private const int MaxFirstCommandLength = 64 * 1024;

    /// <summary>The stream's protocol version (1 or 2).</summary>
    public required uint Version { get; init; }

    /// <summary>Whether the stream is incremental (starts with SNAPSHOT) rather than full (SUBVOL).</summary>
    public bool IsIncremental => ParentUuid is not null;

    /// <summary>The name of the subvolume the stream creates (the sent snapshot's name).</summary>
    public required string Name { get; init; }

    /// <summary>The UUID the stream carries for the sent snapshot (its received UUID if it has one, else its UUID); it becomes the received UUID on the target.</summary>
    public required string Uuid { get; init; }

    /// <summary>The sent snapshot's ctransid.</summary>
    public ulong CTransId { get; init; }

    /// <summary>For an incremental stream, the parent's UUID (its received UUID if it has one, else its UUID); null for a full stream.</summary>
    public string? ParentUuid { get; init; }

    /// <summary>For an incremental stream, the parent's ctransid.</summary>
    public ulong? ParentCTransId { get; init; }

    /// <summary>The raw bytes read from the stream (header and first command), to be fed to <c>btrfs receive</c> first.</summary>
    public required ReadOnlyMemory<byte> Bytes { get; init; }

    /// <summary>Reads and checks the stream header and first command from <paramref name="source"/>, consuming exactly those bytes.</summary>
    /// <exception cref="CorruptDataException">The stream is not a Btrfs send stream, has an unknown version, a bad checksum, or is truncated.</exception>
    public static async Task<BtrfsStreamStart> ReadAsync(Stream source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var head = new byte[StreamHeaderLength + CommandHeaderLength];
        var n = await source.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (n < StreamHeaderLength || !head.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new CorruptDataException(
                n == 0 ? "The Btrfs send stream is empty." : "The stream is not a Btrfs send stream: it does not start with \"btrfs-stream\".");
        }
        if (n < head.Length)
        {
            throw new CorruptDataException($"The Btrfs send stream is truncated: it ends after {n} bytes, inside its first command.");
        }
        var version = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(Magic.Length));
        if (version is not (1 or 2))
        {
            throw new CorruptDataException($"The Btrfs send stream has protocol version {version}; this receiver knows versions 1 and 2.");
        }
        var length = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(StreamHeaderLength));
        var command = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(StreamHeaderLength + 4));
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(StreamHeaderLength + 6));
        if (command is not (SubvolumeCommand or SnapshotCommand))
        {
            throw new CorruptDataException($"The Btrfs send stream starts with command {command}; a stream starts with SUBVOL (1) or SNAPSHOT (2).");
        }
        if (length > MaxFirstCommandLength)
        {
            throw new CorruptDataException($"The Btrfs send stream's first command claims {length} bytes; a SUBVOL or SNAPSHOT command is far smaller.");
        }
        var all = new byte[head.Length + (int)length];
        head.CopyTo(all, 0);
        n = await source.ReadAtLeastAsync(all.AsMemory(head.Length), (int)length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (n < length)
        {
            throw new CorruptDataException($"The Btrfs send stream is truncated inside its first command ({n} of {length} bytes).");
        }
        var computed = ComputeCrc(all.AsSpan(StreamHeaderLength));
        if (computed != crc)
        {
            throw new CorruptDataException($"The Btrfs send stream's first command has CRC-32C 0x{crc:x8}, but its bytes give 0x{computed:x8}: the stream is damaged.");
        }
        return Parse(version, command, all);
    }

    /// <summary>The CRC-32C btrfs puts in a command: seed 0, no inversion, the CRC field counted as zero.</summary>
    internal static uint ComputeCrc(ReadOnlySpan<byte> command)
    {
        var state = 0u;
        for (var i = 0; i < command.Length; i++)
        {
            state = BitOperations.Crc32C(state, i is >= 6 and < 10 ? (byte)0 : command[i]);
        }
        return state;
    }

    private static BtrfsStreamStart Parse(uint version, ushort command, byte[] all)
    {
        string? name = null;
        string? uuid = null;
        string? parentUuid = null;
        ulong ctransid = 0;
        ulong? parentCTransId = null;
        var attributes = all.AsSpan(StreamHeaderLength + CommandHeaderLength);
        while (attributes.Length > 0)
        {
            if (attributes.Length < 4)
            {
                throw new CorruptDataException("The Btrfs send stream's first command ends inside an attribute header.");
            }
            var type = BinaryPrimitives.ReadUInt16LittleEndian(attributes);
            var length = BinaryPrimitives.ReadUInt16LittleEndian(attributes[2..]);
            if (attributes.Length < 4 + length)
            {
                throw new CorruptDataException($"The Btrfs send stream's first command has attribute {type} of {length} bytes past its end.");
            }
            var value = attributes.Slice(4, length);
            switch (type)
            {
                case PathAttribute:
                    name = Encoding.UTF8.GetString(value);
                    break;
                case UuidAttribute:
                    uuid = FormatUuid(value, "UUID");
                    break;
                case CTransIdAttribute:
                    ctransid = ReadU64(value, "CTRANSID");
                    break;
                case CloneUuidAttribute:
                    parentUuid = FormatUuid(value, "CLONE_UUID");
                    break;
                case CloneCTransIdAttribute:
                    parentCTransId = ReadU64(value, "CLONE_CTRANSID");
                    break;
                default:
                    break;
            }
            attributes = attributes[(4 + length)..];
        }
        if (name is null || uuid is null)
        {
            throw new CorruptDataException("The Btrfs send stream's first command lacks the subvolume's path or UUID.");
        }
        if (command == SnapshotCommand && parentUuid is null)
        {
            throw new CorruptDataException("The Btrfs send stream starts with SNAPSHOT but names no parent (CLONE_UUID).");
        }
        return new BtrfsStreamStart
        {
            Version = version,
            Name = name,
            Uuid = uuid,
            CTransId = ctransid,
            ParentUuid = command == SnapshotCommand ? parentUuid : null,
            ParentCTransId = command == SnapshotCommand ? parentCTransId : null,
            Bytes = all,
        };
    }

    /// <summary>Formats 16 UUID bytes the way <c>btrfs subvolume show</c> prints them (bytes in order).</summary>
    internal static string FormatUuid(ReadOnlySpan<byte> value, string what)
    {
        if (value.Length != 16)
        {
            throw new CorruptDataException($"The Btrfs send stream's {what} attribute has {value.Length} bytes, not 16.");
        }
        return new Guid(value, bigEndian: true).ToString("D");
    }

    private static ulong ReadU64(ReadOnlySpan<byte> value, string what) =>
        value.Length == 8
            ? BinaryPrimitives.ReadUInt64LittleEndian(value)
            : throw new CorruptDataException($"The Btrfs send stream's {what} attribute has {value.Length} bytes, not 8.");
}
