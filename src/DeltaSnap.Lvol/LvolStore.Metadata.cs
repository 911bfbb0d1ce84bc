using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using DeltaSnap.Checksums;

namespace DeltaSnap.Lvol;

public sealed partial class LvolStore
{
    private const int BlobHeaderSize = 64;
    private const int SlotUsedBytes = 64;
    private const uint FlagSnapshot = 1;
    private const uint FlagThin = 2;
    private const byte EntryPartial = 1;
    private const byte EntryOpaque = 2;
    private const byte EntryZero = 4;
    private static readonly byte[] SlotMagic = "DSNAPMDS"u8.ToArray();
    private static readonly byte[] BlobMagic = "DSNAPMDB"u8.ToArray();

    /// <summary>
    /// Makes the in-memory state durable: writes the metadata to clusters the committed copy does not use, syncs
    /// (the data written before and the metadata), writes the other slot (sequence + 1, CRC-32C), syncs. Only then
    /// are the clusters freed since the last commit reusable.
    /// </summary>
    internal async Task CommitAsync(CancellationToken cancellationToken)
    {
        await _commitLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            byte[]? blob = null;
            long start = 0, count = 0;
            ulong sequence = 0;
            var slot = 0;
            lock (_sync)
            {
                if (_dirty)
                {
                    _dirty = false;
                    _clusters.BeginCommit();
                    sequence = _sequence + 1;
                    slot = 1 - _slot;
                    try
                    {
                        (blob, start, count) = SerializeToNewExtent(sequence);
                    }
                    catch
                    {
                        _clusters.AbortCommit();
                        _dirty = true;
                        throw;
                    }
                }
            }
            if (blob is null)
            {
                FlushFile("sync data");
                return;
            }
            try
            {
                // Data and the metadata that points at it are durable before the slot that names the metadata. (The
                // metadata goes to clusters no committed copy uses, so one sync covers both.)
                RandomAccess.Write(_file, blob, FileOffsetOf(start));
                FlushFile("sync data and metadata");
                LvolFaultInjection.Boundary("write metadata slot");
                WriteSlot(slot, sequence, start, count, blob);
                FlushFile("sync metadata slot");
            }
            catch (Exception e)
            {
                lock (_sync)
                {
                    for (var p = start; p < start + count; p++)
                    {
                        _clusters.FreeNow(p);
                    }
                    _clusters.AbortCommit();
                    _dirty = true;
                }
                Log.CommitFailed(_logger, e, Path);
                throw e is LvolException ? e : IoFailure($"Cannot write the metadata of lvol store {Path}", e);
            }
            lock (_sync)
            {
                // The new copy is durable and records the old copy's clusters as free.
                for (var p = _metadataStart; p < _metadataStart + _metadataCount; p++)
                {
                    _clusters.FreeNow(p);
                }
                _metadataStart = start;
                _metadataCount = count;
                _sequence = sequence;
                _slot = slot;
                _clusters.EndCommit();
            }
        }
        finally
        {
            _commitLock.Release();
        }
    }

    internal void MarkDirty() => _dirty = true;

    internal static LvolException IoFailure(string what, Exception e) =>
        e.HResult == 28 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
            ? new LvolException(LvolErrno.ENOSPC, $"{what}: no space left on the device.", e)
            : new LvolException(LvolErrno.EIO, $"{what}: {e.Message}", e);

    private void FlushFile(string what)
    {
        LvolFaultInjection.Boundary(what);
        try
        {
            RandomAccess.FlushToDisk(_file);
        }
        catch (IOException e)
        {
            throw IoFailure($"Cannot sync lvol store {Path}", e);
        }
    }

    private (byte[] Blob, long Start, long Count) SerializeToNewExtent(ulong sequence)
    {
        var body = new ArrayBufferWriter<byte>(4096);
        WriteLvols(body);
        var nameBytes = Encoding.UTF8.GetBytes(Name);
        while (true)
        {
            var physCount = _clusters.Count;
            var size = SizeFor(physCount);
            var need = Math.Max(1, (size + ClusterSize - 1) >> ClusterShift);
            var start = _clusters.AllocateRun(need);
            var newSize = SizeFor(_clusters.Count);
            if (((newSize + ClusterSize - 1) >> ClusterShift) > need)
            {
                for (var p = start; p < start + need; p++)
                {
                    _clusters.FreeNow(p);
                }
                continue;
            }
            return (Build(_clusters.Count, start, need), start, need);
        }

        long SizeFor(long physCount) => BlobHeaderSize + 2 + nameBytes.Length + ((physCount + 7) >> 3) + body.WrittenCount + 4;

        byte[] Build(long physCount, long start, long count)
        {
            var blob = new byte[SizeFor(physCount)];
            var span = blob.AsSpan();
            BlobMagic.CopyTo(span);
            BinaryPrimitives.WriteUInt32LittleEndian(span[8..], FormatVersion);
            BinaryPrimitives.WriteUInt64LittleEndian(span[16..], sequence);
            Uuid.TryWriteBytes(span[24..]);
            BinaryPrimitives.WriteInt64LittleEndian(span[40..], physCount);
            BinaryPrimitives.WriteInt64LittleEndian(span[48..], start);
            BinaryPrimitives.WriteInt64LittleEndian(span[56..], count);
            var pos = BlobHeaderSize;
            BinaryPrimitives.WriteUInt16LittleEndian(span[pos..], (ushort)nameBytes.Length);
            pos += 2;
            nameBytes.CopyTo(span[pos..]);
            pos += nameBytes.Length;
            var bitmap = _clusters.UsedBitmap(physCount);
            // The committed copy's clusters are free in the new copy (they are reused once it is durable).
            for (var p = _metadataStart; p < _metadataStart + _metadataCount; p++)
            {
                bitmap[p >> 3] &= (byte)~(1 << (int)(p & 7));
            }
            bitmap.CopyTo(span[pos..]);
            pos += bitmap.Length;
            body.WrittenSpan.CopyTo(span[pos..]);
            pos += body.WrittenCount;
            BinaryPrimitives.WriteUInt32LittleEndian(span[pos..], Crc32C.Compute(span[..pos]));
            return blob;
        }
    }

    private void WriteLvols(ArrayBufferWriter<byte> w)
    {
        var nodes = Ordered();
        WriteU32(w, (uint)nodes.Count);
        foreach (var n in nodes)
        {
            var head = w.GetSpan(16 + 16 + 8 + 4 + 8);
            n.Uuid.TryWriteBytes(head);
            (n.Parent?.Uuid ?? Guid.Empty).TryWriteBytes(head[16..]);
            BinaryPrimitives.WriteInt64LittleEndian(head[32..], n.Size);
            BinaryPrimitives.WriteUInt32LittleEndian(head[40..], (n.IsSnapshot ? FlagSnapshot : 0) | (n.IsThin ? FlagThin : 0));
            BinaryPrimitives.WriteInt64LittleEndian(head[44..], n.CreatedUtc.UtcTicks);
            w.Advance(52);
            WriteString16(w, n.Name);
            WriteU32(w, (uint)n.Xattrs.Count);
            foreach (var (key, value) in n.Xattrs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                WriteString16(w, key);
                WriteU32(w, (uint)value.Length);
                w.Write(value);
            }
            WriteU64(w, (ulong)n.Map.Count);
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
                        WriteU64(w, word);
                    }
                }
            }
        }
    }

    private static void WriteU32(ArrayBufferWriter<byte> w, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(w.GetSpan(4), value);
        w.Advance(4);
    }

    private static void WriteU64(ArrayBufferWriter<byte> w, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(w.GetSpan(8), value);
        w.Advance(8);
    }

    private static void WriteString16(ArrayBufferWriter<byte> w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        BinaryPrimitives.WriteUInt16LittleEndian(w.GetSpan(2), (ushort)bytes.Length);
        w.Advance(2);
        w.Write(bytes);
    }

    private void WriteSlot(int slot, ulong sequence, long start, long count, byte[] blob)
    {
        var buffer = new byte[SlotUsedBytes];
        SlotMagic.CopyTo(buffer, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(8), sequence);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(16), start);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(24), count);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(32), blob.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(40), Crc32C.Compute(blob));
        Uuid.TryWriteBytes(buffer.AsSpan(44));
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(60), Crc32C.Compute(buffer.AsSpan(0, 60)));
        RandomAccess.Write(_file, buffer, SlotOffset + ((long)slot * SlotSize));
    }

    private void LoadNewestMetadata()
    {
        var (image, slot, fallback) = ReadNewestImage();
        if (fallback is not null)
        {
            Log.MetadataFallback(_logger, Path, image.Sequence, fallback.Damage);
        }
        MetadataFallback = fallback;
        Name = image.Name;
        _sequence = image.Sequence;
        _slot = slot;
        _metadataStart = image.MetadataStart;
        _metadataCount = image.MetadataCount;
        _clusters = new PhysicalClusters(image.PhysicalCount, _clusters.Capacity);
        for (long p = 0; p < image.PhysicalCount; p++)
        {
            if ((image.Bitmap[p >> 3] & (1 << (int)(p & 7))) != 0)
            {
                _clusters.MarkUsed(p);
            }
        }
        // The copy passed Check (unique UUIDs and names, parents that exist, no parent cycle), so these cannot fail.
        foreach (var r in image.Lvols)
        {
            var node = new LvolNode(r.Uuid, r.Name, r.Size)
            {
                IsSnapshot = r.IsSnapshot,
                IsThin = r.IsThin,
                CreatedUtc = r.CreatedUtc,
                Map = r.Map,
            };
            foreach (var (k, v) in r.Xattrs)
            {
                node.Xattrs[k] = v;
            }
            _byUuid.Add(node.Uuid, node);
            _byName.Add(node.Name, node);
        }
        foreach (var r in image.Lvols)
        {
            if (r.ParentUuid != Guid.Empty)
            {
                _byUuid[r.Uuid].Parent = _byUuid[r.ParentUuid];
            }
        }
    }

    /// <summary>
    /// Reads both slots and returns the newest metadata copy that is intact and consistent, and — when that is not the
    /// newest copy the slots name, or a slot is damaged — what was skipped (never silent: the caller logs it, fsck
    /// reports it as damage).
    /// </summary>
    private (MetadataImage Image, int Slot, LvolMetadataFallback? Fallback) ReadNewestImage()
    {
        long fileLength;
        try
        {
            fileLength = RandomAccess.GetLength(_file);
        }
        catch (IOException e)
        {
            throw IoFailure($"Cannot read lvol store {Path}", e);
        }
        var candidates = new List<(ulong Sequence, int Slot, long Start, long Count, long Length, uint Crc)>();
        var damage = new List<string>();
        var emptySlots = new List<int>();
        for (var slot = 0; slot < 2; slot++)
        {
            var buffer = new byte[SlotUsedBytes];
            var read = RandomAccess.Read(_file, buffer, SlotOffset + ((long)slot * SlotSize));
            string? problem = null;
            if (read != SlotUsedBytes)
            {
                problem = $"metadata slot {slot} is cut short (the file ends at byte {fileLength})";
            }
            else if (buffer.AsSpan().IndexOfAnyExcept((byte)0) < 0)
            {
                emptySlots.Add(slot);
                continue;
            }
            else if (!buffer.AsSpan(0, 8).SequenceEqual(SlotMagic))
            {
                problem = $"metadata slot {slot} has a bad magic";
            }
            else if (BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(60)) != Crc32C.Compute(buffer.AsSpan(0, 60)))
            {
                problem = $"metadata slot {slot} fails its CRC";
            }
            else if (new Guid(buffer.AsSpan(44, 16)) != Uuid)
            {
                problem = $"metadata slot {slot} belongs to another store";
            }
            if (problem is not null)
            {
                damage.Add(problem);
                continue;
            }
            candidates.Add((BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(8)), slot,
                BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(16)), BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(24)),
                BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(32)), BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(40))));
        }
        ulong? newestSkipped = null;
        var dataClusters = fileLength > DataOffset ? (fileLength - DataOffset + ClusterSize - 1) >> ClusterShift : 0;
        foreach (var c in candidates.OrderByDescending(c => c.Sequence))
        {
            string? problem = null;
            MetadataImage? image = null;
            if (c.Start < 0 || c.Count <= 0 || c.Start > dataClusters || c.Count > dataClusters - c.Start
                || c.Length <= 0 || c.Length > c.Count << ClusterShift || c.Length > int.MaxValue)
            {
                problem = $"slot {c.Slot} (sequence {c.Sequence}) names a metadata extent ({c.Count} cluster(s) at cluster {c.Start}, {c.Length} bytes) that the file does not hold";
            }
            else
            {
                var blob = new byte[c.Length];
                var read = RandomAccess.Read(_file, blob, FileOffsetOf(c.Start));
                if (read != blob.Length)
                {
                    problem = $"the metadata of slot {c.Slot} (sequence {c.Sequence}) is cut short: the file ends at byte {fileLength}";
                }
                else if (Crc32C.Compute(blob) != c.Crc)
                {
                    problem = $"the metadata of slot {c.Slot} (sequence {c.Sequence}) is torn or corrupt (CRC mismatch)";
                }
                else
                {
                    try
                    {
                        image = ParseImage(blob);
                        if (image.Sequence != c.Sequence || image.MetadataStart != c.Start || image.MetadataCount != c.Count)
                        {
                            problem = $"the metadata of slot {c.Slot} (sequence {c.Sequence}) does not match its slot";
                        }
                        else if (Check(image, fileLength) is { Fatal: > 0 } report)
                        {
                            problem = $"the metadata of slot {c.Slot} (sequence {c.Sequence}) is inconsistent: {report.Problems[0]}" +
                                (report.Fatal > 1 ? $" (and {report.Fatal - 1} more problem(s))" : "");
                        }
                    }
                    catch (CorruptDataException e)
                    {
                        problem = $"slot {c.Slot} (sequence {c.Sequence}): {e.Message}";
                    }
                }
            }
            if (problem is not null)
            {
                damage.Add(problem);
                newestSkipped ??= c.Sequence;
                continue;
            }
            // An empty slot is expected only before the second commit (the first commit writes slot 0).
            if (image!.Sequence > 1)
            {
                damage.AddRange(emptySlots.Select(s => $"metadata slot {s} is zeroed"));
            }
            if (damage.Count == 0)
            {
                return (image, c.Slot, null);
            }
            var lost = newestSkipped is { } n && n > image.Sequence
                ? $"the commit(s) after sequence {image.Sequence} (up to sequence {n}) are lost"
                : $"if the damaged slot held a newer commit than sequence {image.Sequence}, that commit is lost";
            return (image, c.Slot, new LvolMetadataFallback(image.Sequence, newestSkipped > image.Sequence ? newestSkipped : null,
                $"{string.Join("; ", damage)}; opened metadata sequence {image.Sequence}: {lost}"));
        }
        if (candidates.Count == 0 && damage.Count == 0)
        {
            throw new CorruptDataException($"Lvol store {Path} has no metadata copy: both metadata slots are zeroed.");
        }
        throw new CorruptDataException($"Lvol store {Path} has no intact metadata copy: {string.Join("; ", damage)}.");
    }

    private MetadataImage ParseImage(byte[] blob)
    {
        try
        {
            return ParseImageCore(blob);
        }
        catch (DecoderFallbackException e)
        {
            throw new CorruptDataException($"The metadata of lvol store {Path} is malformed: a name is not valid UTF-8.", e);
        }
    }

    private MetadataImage ParseImageCore(byte[] blob)
    {
        var span = new ReadOnlySpan<byte>(blob);
        if (span.Length < BlobHeaderSize + 6 || !span[..8].SequenceEqual(BlobMagic))
        {
            throw new CorruptDataException($"The metadata of lvol store {Path} has a bad magic.");
        }
        var version = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
        if (version != FormatVersion)
        {
            throw new CorruptDataException($"The metadata of lvol store {Path} has version {version}; expected {FormatVersion}.");
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(span[^4..]) != Crc32C.Compute(span[..^4]))
        {
            throw new CorruptDataException($"The metadata of lvol store {Path} fails its CRC.");
        }
        var image = new MetadataImage
        {
            Sequence = BinaryPrimitives.ReadUInt64LittleEndian(span[16..]),
            PhysicalCount = BinaryPrimitives.ReadInt64LittleEndian(span[40..]),
            MetadataStart = BinaryPrimitives.ReadInt64LittleEndian(span[48..]),
            MetadataCount = BinaryPrimitives.ReadInt64LittleEndian(span[56..]),
        };
        if (new Guid(span.Slice(24, 16)) != Uuid)
        {
            throw new CorruptDataException($"The metadata of lvol store {Path} belongs to another store.");
        }
        if (image.PhysicalCount < 0 || image.PhysicalCount > (long)int.MaxValue * 8)
        {
            throw new CorruptDataException($"The metadata of lvol store {Path} names {image.PhysicalCount} physical clusters.");
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
                    Need(span, pos, 8L * WordsPerCluster, $"the block bitmap of cluster {index} of lvol '{r.Name}'");
                    entry.Valid = new ulong[WordsPerCluster];
                    for (var w = 0; w < WordsPerCluster; w++)
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
            image.Lvols.Add(r);
        }
        if (pos != span.Length - 4)
        {
            throw new CorruptDataException($"The metadata of lvol store {Path} has {span.Length - 4 - pos} trailing bytes.");
        }
        return image;
    }

    private CorruptDataException Malformed(string what) => new($"The metadata of lvol store {Path} is malformed: {what}.");

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

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>One committed metadata copy as read from disk.</summary>
    private sealed class MetadataImage
    {
        public ulong Sequence;
        public long PhysicalCount;
        public long MetadataStart;
        public long MetadataCount;
        public string Name = "";
        public byte[] Bitmap = [];
        public readonly List<LvolRecord> Lvols = [];
    }

    private sealed class LvolRecord
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
}
