using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using DeltaSnap.Checksums;

namespace DeltaSnap.Lvol;

/// <summary>
/// One metadata copy of an lvol store, as read from disk, and the blob format it is written in: a 64-byte header
/// (magic, format version, sequence number, store UUID, physical cluster count, the copy's own extent), the store
/// name, the physical-cluster allocation bitmap, the lvol records with their cluster maps, and a CRC-32C of all that.
/// </summary>
internal sealed class MetadataImage
{
    private const int BlobHeaderSize = 64;
    private const uint FlagSnapshot = 1;
    private const uint FlagThin = 2;
    private const byte EntryPartial = 1;
    private const byte EntryOpaque = 2;
    private const byte EntryZero = 4;
    private static readonly byte[] BlobMagic = "DSNAPMDB"u8.ToArray();
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public ulong Sequence;
    public long PhysicalCount;
    public long MetadataStart;
    public long MetadataCount;
    public string Name = "";
    public byte[] Bitmap = [];
    public readonly List<LvolRecord> Lvols = [];

    /// <summary>Whether the allocation bitmap marks physical cluster <paramref name="p"/> in use.</summary>
    public bool IsAllocated(long p) => p >= 0 && p < PhysicalCount && (Bitmap[p >> 3] & (1 << (int)(p & 7))) != 0;

    /// <summary>The lvol records, in the order given (parents before children), as the blob's body.</summary>
    public static void WriteLvols(ArrayBufferWriter<byte> w, IReadOnlyList<LvolNode> nodes)
    {
        w.WriteUInt32((uint)nodes.Count);
        foreach (var n in nodes)
        {
            var head = w.GetSpan(16 + 16 + 8 + 4 + 8);
            n.Uuid.TryWriteBytes(head);
            (n.Parent?.Uuid ?? Guid.Empty).TryWriteBytes(head[16..]);
            BinaryPrimitives.WriteInt64LittleEndian(head[32..], n.Size);
            BinaryPrimitives.WriteUInt32LittleEndian(head[40..], (n.IsSnapshot ? FlagSnapshot : 0) | (n.IsThin ? FlagThin : 0));
            BinaryPrimitives.WriteInt64LittleEndian(head[44..], n.CreatedUtc.UtcTicks);
            w.Advance(52);
            w.WriteString16(n.Name);
            w.WriteUInt32((uint)n.Xattrs.Count);
            foreach (var (key, value) in n.Xattrs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.WriteString16(key);
                w.WriteUInt32((uint)value.Length);
                w.Write(value);
            }
            w.WriteUInt64((ulong)n.Map.Count);
            foreach (var (index, e) in n.Map.Enumerate())
            {
                var flags = (byte)((e.Kind == ClusterKind.Zero ? EntryZero : 0) | (e.Valid is not null ? EntryPartial : 0) | (e.Opaque ? EntryOpaque : 0));
                var span = w.GetSpan(17);
                BinaryPrimitives.WriteInt64LittleEndian(span, index);
                BinaryPrimitives.WriteInt64LittleEndian(span[8..], e.Physical);
                span[16] = flags;
                w.Advance(17);
                if (e.Valid is not null)
                {
                    foreach (var word in e.Valid)
                    {
                        w.WriteUInt64(word);
                    }
                }
            }
        }
    }

    /// <summary>The size of a blob with a name of <paramref name="nameBytes"/>, a bitmap of <paramref name="physicalCount"/> clusters and a body of <paramref name="bodyBytes"/>.</summary>
    public static long BlobSize(int nameBytes, long physicalCount, long bodyBytes) => BlobHeaderSize + 2 + nameBytes + ((physicalCount + 7) >> 3) + bodyBytes + 4;

    /// <summary>Writes a whole blob: header, name, <paramref name="bitmap"/> (of <paramref name="physicalCount"/> clusters), <paramref name="body"/>, CRC.</summary>
    public static byte[] WriteBlob(ulong sequence, Guid storeUuid, long physicalCount, long start, long count, byte[] nameBytes, byte[] bitmap, ReadOnlySpan<byte> body)
    {
        var blob = new byte[BlobSize(nameBytes.Length, physicalCount, body.Length)];
        var span = blob.AsSpan();
        BlobMagic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], LvolStore.FormatVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], sequence);
        storeUuid.TryWriteBytes(span[24..]);
        BinaryPrimitives.WriteInt64LittleEndian(span[40..], physicalCount);
        BinaryPrimitives.WriteInt64LittleEndian(span[48..], start);
        BinaryPrimitives.WriteInt64LittleEndian(span[56..], count);
        var pos = BlobHeaderSize;
        BinaryPrimitives.WriteUInt16LittleEndian(span[pos..], (ushort)nameBytes.Length);
        pos += 2;
        nameBytes.CopyTo(span[pos..]);
        pos += nameBytes.Length;
        bitmap.CopyTo(span[pos..]);
        pos += bitmap.Length;
        body.CopyTo(span[pos..]);
        pos += body.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(span[pos..], Crc32C.Compute(span[..pos]));
        return blob;
    }

    /// <summary>Reads a blob of store <paramref name="storeUuid"/> (file <paramref name="path"/>, for messages).</summary>
    /// <exception cref="CorruptDataException">The blob is not a metadata copy of this store, or is malformed.</exception>
    public static MetadataImage Read(byte[] blob, Guid storeUuid, int wordsPerCluster, string path)
    {
        try
        {
            return new Reader(storeUuid, wordsPerCluster, path).Read(blob);
        }
        catch (DecoderFallbackException e)
        {
            throw new CorruptDataException($"The metadata of lvol store {path} is malformed: a name is not valid UTF-8.", e);
        }
    }

    private sealed class Reader(Guid storeUuid, int wordsPerCluster, string path)
    {
        public MetadataImage Read(byte[] blob)
        {
            var span = new ReadOnlySpan<byte>(blob);
            if (span.Length < BlobHeaderSize + 6 || !span[..8].SequenceEqual(BlobMagic))
            {
                throw new CorruptDataException($"The metadata of lvol store {path} has a bad magic.");
            }
            var version = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
            if (version != LvolStore.FormatVersion)
            {
                throw new CorruptDataException($"The metadata of lvol store {path} has version {version}; expected {LvolStore.FormatVersion}.");
            }
            if (BinaryPrimitives.ReadUInt32LittleEndian(span[^4..]) != Crc32C.Compute(span[..^4]))
            {
                throw new CorruptDataException($"The metadata of lvol store {path} fails its CRC.");
            }
            var image = new MetadataImage
            {
                Sequence = BinaryPrimitives.ReadUInt64LittleEndian(span[16..]),
                PhysicalCount = BinaryPrimitives.ReadInt64LittleEndian(span[40..]),
                MetadataStart = BinaryPrimitives.ReadInt64LittleEndian(span[48..]),
                MetadataCount = BinaryPrimitives.ReadInt64LittleEndian(span[56..]),
            };
            if (new Guid(span.Slice(24, 16)) != storeUuid)
            {
                throw new CorruptDataException($"The metadata of lvol store {path} belongs to another store.");
            }
            if (image.PhysicalCount < 0 || image.PhysicalCount > (long)int.MaxValue * 8)
            {
                throw new CorruptDataException($"The metadata of lvol store {path} names {image.PhysicalCount} physical clusters.");
            }
            var pos = BlobHeaderSize;
            image.Name = ReadString16(span, ref pos, "the store name");
            var bitmapBytes = (int)((image.PhysicalCount + 7) >> 3);
            Need(span, pos, bitmapBytes, "the allocation map");
            image.Bitmap = span.Slice(pos, bitmapBytes).ToArray();
            pos += bitmapBytes;
            var count = ReadU32(span, ref pos, "the lvol count");
            for (var i = 0u; i < count; i++)
            {
                image.Lvols.Add(ReadLvol(span, ref pos, i));
            }
            if (pos != span.Length - 4)
            {
                throw new CorruptDataException($"The metadata of lvol store {path} has {span.Length - 4 - pos} trailing bytes.");
            }
            return image;
        }

        private LvolRecord ReadLvol(ReadOnlySpan<byte> span, ref int pos, uint i)
        {
            Need(span, pos, 52, $"lvol record {i}");
            var r = new LvolRecord
            {
                Uuid = new Guid(span.Slice(pos, 16)),
                ParentUuid = new Guid(span.Slice(pos + 16, 16)),
                Size = BinaryPrimitives.ReadInt64LittleEndian(span[(pos + 32)..]),
            };
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(span[(pos + 40)..]);
            r.IsSnapshot = (flags & FlagSnapshot) != 0;
            r.IsThin = (flags & FlagThin) != 0;
            var ticks = BinaryPrimitives.ReadInt64LittleEndian(span[(pos + 44)..]);
            if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
            {
                throw Malformed($"lvol record {i} has an impossible creation time ({ticks} ticks)");
            }
            r.CreatedUtc = new DateTimeOffset(ticks, TimeSpan.Zero);
            pos += 52;
            r.Name = ReadString16(span, ref pos, $"the name of lvol record {i}");
            var xattrs = ReadU32(span, ref pos, $"the xattr count of lvol '{r.Name}'");
            for (var x = 0u; x < xattrs; x++)
            {
                var key = ReadString16(span, ref pos, $"an xattr name of lvol '{r.Name}'");
                var length = ReadU32(span, ref pos, $"xattr '{key}' of lvol '{r.Name}'");
                Need(span, pos, length, $"xattr '{key}' of lvol '{r.Name}'");
                if (!r.Xattrs.TryAdd(key, span.Slice(pos, (int)length).ToArray()))
                {
                    throw Malformed($"lvol '{r.Name}' has xattr '{key}' twice");
                }
                pos += (int)length;
            }
            Need(span, pos, 8, $"the cluster map of lvol '{r.Name}'");
            var entries = BinaryPrimitives.ReadUInt64LittleEndian(span[pos..]);
            pos += 8;
            for (var e = 0ul; e < entries; e++)
            {
                Need(span, pos, 17, $"cluster map entry {e} of lvol '{r.Name}'");
                var index = BinaryPrimitives.ReadInt64LittleEndian(span[pos..]);
                var physical = BinaryPrimitives.ReadInt64LittleEndian(span[(pos + 8)..]);
                var entryFlags = span[pos + 16];
                pos += 17;
                var entry = new ClusterEntry
                {
                    Kind = (entryFlags & EntryZero) != 0 ? ClusterKind.Zero : ClusterKind.Data,
                    Physical = physical,
                    Opaque = (entryFlags & EntryOpaque) != 0,
                };
                if ((entryFlags & ~(EntryPartial | EntryOpaque | EntryZero)) != 0)
                {
                    throw Malformed($"cluster map entry {e} of lvol '{r.Name}' has unknown flags 0x{entryFlags:x2}");
                }
                if ((entryFlags & EntryPartial) != 0)
                {
                    Need(span, pos, 8L * wordsPerCluster, $"the block bitmap of cluster {index} of lvol '{r.Name}'");
                    entry.Valid = new ulong[wordsPerCluster];
                    for (var w = 0; w < wordsPerCluster; w++)
                    {
                        entry.Valid[w] = BinaryPrimitives.ReadUInt64LittleEndian(span[pos..]);
                        pos += 8;
                    }
                }
                if (index < 0 || r.Map.Get(index).IsPresent)
                {
                    throw Malformed($"lvol '{r.Name}' maps cluster {index} twice or at a negative index");
                }
                r.Map.Set(index, entry);
            }
            return r;
        }

        private CorruptDataException Malformed(string what) => new($"The metadata of lvol store {path} is malformed: {what}.");

        /// <summary>Throws unless <paramref name="count"/> bytes follow <paramref name="pos"/> before the metadata's CRC.</summary>
        private void Need(ReadOnlySpan<byte> span, int pos, long count, string what)
        {
            if (count < 0 || count > span.Length - 4 - pos)
            {
                throw Malformed($"{what} ({count} bytes at byte {pos}) runs past the end of the metadata ({span.Length} bytes)");
            }
        }

        private uint ReadU32(ReadOnlySpan<byte> span, ref int pos, string what)
        {
            Need(span, pos, 4, what);
            var value = BinaryPrimitives.ReadUInt32LittleEndian(span[pos..]);
            pos += 4;
            return value;
        }

        private string ReadString16(ReadOnlySpan<byte> span, ref int pos, string what)
        {
            Need(span, pos, 2, what);
            var length = BinaryPrimitives.ReadUInt16LittleEndian(span[pos..]);
            pos += 2;
            Need(span, pos, length, what);
            var s = StrictUtf8.GetString(span.Slice(pos, length));
            pos += length;
            return s;
        }
    }
}

/// <summary>One lvol of a <see cref="MetadataImage"/>, its parent named by UUID.</summary>
internal sealed class LvolRecord
{
    public Guid Uuid;
    public Guid ParentUuid;
    public long Size;
    public bool IsSnapshot;
    public bool IsThin;
    public DateTimeOffset CreatedUtc;
    public string Name = "";
    public readonly Dictionary<string, byte[]> Xattrs = new(StringComparer.Ordinal);
    public readonly ClusterMap Map = new();
}
