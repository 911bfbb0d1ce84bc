using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using DeltaSnap.Checksums;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Lvol;

/// <summary>
/// The lvol store's metadata journal: two alternating slots after the superblock, each naming one whole metadata copy
/// (sequence number, extent, length, CRC-32C of the copy, CRC-32C of the slot). A commit writes the new copy to
/// clusters the committed copy does not use, syncs it with the data written before, then writes the other slot and
/// syncs again; on open the newest copy that is intact and consistent wins, and an older one used instead is
/// reported (<see cref="LvolMetadataFallback"/>), never silent.
/// </summary>
/// <remarks>
/// It owns the committed copy's position (sequence, slot, extent) and whether the store has changed since. It takes no
/// lock: the store runs <see cref="Prepare"/>, <see cref="Complete"/> and <see cref="Abort"/> under its state lock and
/// <see cref="Write"/> under its commit lock only, so that I/O continues while the copy is written.
/// </remarks>
internal sealed class MetadataJournal
{
    private const long SlotOffset = 4096;
    private const int SlotSize = 4096;
    private const int SlotUsedBytes = 64;
    private static readonly byte[] SlotMagic = "DSNAPMDS"u8.ToArray();

    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly Guid _storeUuid;
    private readonly StoreGeometry _geometry;
    private int _slot;
    private long _metadataStart;
    private long _metadataCount;

    public MetadataJournal(SafeFileHandle file, string path, Guid storeUuid, StoreGeometry geometry)
    {
        _file = file;
        _path = path;
        _storeUuid = storeUuid;
        _geometry = geometry;
    }

    /// <summary>The bytes before the data clusters that the slots take, after the superblock.</summary>
    public const long EndOfSlots = SlotOffset + (2 * SlotSize);

    /// <summary>The committed copy's sequence number.</summary>
    public ulong Sequence { get; private set; }

    /// <summary>Whether the in-memory state has changed since the last commit.</summary>
    public bool IsDirty { get; private set; }

    /// <summary>Records that the in-memory state has changed: the next commit writes a copy.</summary>
    public void MarkDirty() => IsDirty = true;

    /// <summary>Zeroes both slots of a new store; its first commit writes slot 0.</summary>
    public void Initialize()
    {
        RandomAccess.Write(_file, new byte[2 * SlotSize], SlotOffset);
        _slot = 1;
        IsDirty = true;
    }

    /// <summary>
    /// Starts a commit when the state changed: the allocator's frees so far become the ones this commit makes durable,
    /// and the copy is serialized to a new extent. Null when nothing changed. Call under the store's state lock.
    /// </summary>
    public PendingCommit? Prepare(ClusterAllocator clusters, string storeName, IReadOnlyList<LvolNode> lvols)
    {
        if (!IsDirty)
        {
            return null;
        }
        IsDirty = false;
        clusters.BeginCommit();
        var sequence = Sequence + 1;
        try
        {
            var (blob, start, count) = SerializeToNewExtent(clusters, storeName, lvols, sequence);
            return new PendingCommit(sequence, 1 - _slot, start, count, blob);
        }
        catch
        {
            clusters.AbortCommit();
            IsDirty = true;
            throw;
        }
    }

    /// <summary>
    /// Makes a prepared copy durable: the copy (with the data written before it), then the slot that names it. Call
    /// under the store's commit lock, not its state lock.
    /// </summary>
    public void Write(PendingCommit commit)
    {
        // Data and the metadata that points at it are durable before the slot that names the metadata. (The
        // metadata goes to clusters no committed copy uses, so one sync covers both.)
        RandomAccess.Write(_file, commit.Blob, _geometry.FileOffsetOf(commit.Start));
        Sync("sync data and metadata");
        LvolFaultInjection.Boundary("write metadata slot");
        WriteSlot(commit);
        Sync("sync metadata slot");
    }

    /// <summary>The commit is durable: the old copy's clusters and the commit's frees are reusable. Call under the state lock.</summary>
    public void Complete(PendingCommit commit, ClusterAllocator clusters)
    {
        // The new copy is durable and records the old copy's clusters as free.
        clusters.FreeNow(_metadataStart, _metadataCount);
        _metadataStart = commit.Start;
        _metadataCount = commit.Count;
        Sequence = commit.Sequence;
        _slot = commit.Slot;
        clusters.EndCommit();
    }

    /// <summary>The commit failed: its extent is free again, its frees wait for the next commit, which writes a copy. Call under the state lock.</summary>
    public void Abort(PendingCommit commit, ClusterAllocator clusters)
    {
        clusters.FreeNow(commit.Start, commit.Count);
        clusters.AbortCommit();
        IsDirty = true;
    }

    /// <summary>Syncs the store file (a boundary of the fault-injection switch).</summary>
    /// <exception cref="LvolException">The sync failed.</exception>
    public void Sync(string what)
    {
        LvolFaultInjection.Boundary(what);
        try
        {
            RandomAccess.FlushToDisk(_file);
        }
        catch (IOException e)
        {
            throw LvolStore.IoFailure($"Cannot sync lvol store {_path}", e);
        }
    }

    /// <summary>Reads the newest intact and consistent copy and makes it the committed one (on open).</summary>
    /// <exception cref="CorruptDataException">No copy is intact.</exception>
    public (MetadataImage Image, LvolMetadataFallback? Fallback) Load()
    {
        var (image, slot, fallback) = ReadNewest();
        Sequence = image.Sequence;
        _slot = slot;
        _metadataStart = image.MetadataStart;
        _metadataCount = image.MetadataCount;
        return (image, fallback);
    }

    /// <summary>
    /// Reads both slots and returns the newest metadata copy that is intact and consistent, and — when that is not the
    /// newest copy the slots name, or a slot is damaged — what was skipped (never silent: the caller logs it, fsck
    /// reports it as damage). Changes nothing.
    /// </summary>
    /// <exception cref="CorruptDataException">No copy is intact.</exception>
    public (MetadataImage Image, int Slot, LvolMetadataFallback? Fallback) ReadNewest()
    {
        long fileLength;
        try
        {
            fileLength = RandomAccess.GetLength(_file);
        }
        catch (IOException e)
        {
            throw LvolStore.IoFailure($"Cannot read lvol store {_path}", e);
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
            else if (new Guid(buffer.AsSpan(44, 16)) != _storeUuid)
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
        var dataClusters = fileLength > _geometry.DataOffset ? (fileLength - _geometry.DataOffset + _geometry.ClusterSize - 1) >> _geometry.ClusterShift : 0;
        foreach (var c in candidates.OrderByDescending(c => c.Sequence))
        {
            string? problem = null;
            MetadataImage? image = null;
            if (c.Start < 0 || c.Count <= 0 || c.Start > dataClusters || c.Count > dataClusters - c.Start
                || c.Length <= 0 || c.Length > c.Count << _geometry.ClusterShift || c.Length > int.MaxValue)
            {
                problem = $"slot {c.Slot} (sequence {c.Sequence}) names a metadata extent ({c.Count} cluster(s) at cluster {c.Start}, {c.Length} bytes) that the file does not hold";
            }
            else
            {
                var blob = new byte[c.Length];
                var read = RandomAccess.Read(_file, blob, _geometry.FileOffsetOf(c.Start));
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
                        image = MetadataImage.Read(blob, _storeUuid, _geometry.WordsPerCluster, _path);
                        if (image.Sequence != c.Sequence || image.MetadataStart != c.Start || image.MetadataCount != c.Count)
                        {
                            problem = $"the metadata of slot {c.Slot} (sequence {c.Sequence}) does not match its slot";
                        }
                        else if (MetadataCheck.Run(image, _geometry, fileLength) is { Fatal: > 0 } report)
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
            throw new CorruptDataException($"Lvol store {_path} has no metadata copy: both metadata slots are zeroed.");
        }
        throw new CorruptDataException($"Lvol store {_path} has no intact metadata copy: {string.Join("; ", damage)}.");
    }

    private (byte[] Blob, long Start, long Count) SerializeToNewExtent(ClusterAllocator clusters, string storeName, IReadOnlyList<LvolNode> lvols, ulong sequence)
    {
        var body = new ArrayBufferWriter<byte>(4096);
        MetadataImage.WriteLvols(body, lvols);
        var nameBytes = Encoding.UTF8.GetBytes(storeName);
        while (true)
        {
            // The copy holds the allocation bitmap, which grows when its own extent extends the store: allocate, and
            // start again when the copy no longer fits.
            var size = MetadataImage.BlobSize(nameBytes.Length, clusters.Count, body.WrittenCount);
            var need = Math.Max(1, (size + _geometry.ClusterSize - 1) >> _geometry.ClusterShift);
            var start = clusters.AllocateRun(need);
            var newSize = MetadataImage.BlobSize(nameBytes.Length, clusters.Count, body.WrittenCount);
            if (((newSize + _geometry.ClusterSize - 1) >> _geometry.ClusterShift) > need)
            {
                clusters.FreeNow(start, need);
                continue;
            }
            var physicalCount = clusters.Count;
            var bitmap = clusters.UsedBitmap(physicalCount);
            // The committed copy's clusters are free in the new copy (they are reused once it is durable).
            for (var p = _metadataStart; p < _metadataStart + _metadataCount; p++)
            {
                bitmap[p >> 3] &= (byte)~(1 << (int)(p & 7));
            }
            return (MetadataImage.WriteBlob(sequence, _storeUuid, physicalCount, start, need, nameBytes, bitmap, body.WrittenSpan), start, need);
        }
    }

    private void WriteSlot(PendingCommit commit)
    {
        var buffer = new byte[SlotUsedBytes];
        SlotMagic.CopyTo(buffer, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(8), commit.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(16), commit.Start);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(24), commit.Count);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(32), commit.Blob.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(40), Crc32C.Compute(commit.Blob));
        _storeUuid.TryWriteBytes(buffer.AsSpan(44));
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(60), Crc32C.Compute(buffer.AsSpan(0, 60)));
        RandomAccess.Write(_file, buffer, SlotOffset + ((long)commit.Slot * SlotSize));
    }
}

/// <summary>A metadata copy serialized to its extent (<paramref name="Start"/>, <paramref name="Count"/> clusters), to be named by slot <paramref name="Slot"/>.</summary>
internal sealed record PendingCommit(ulong Sequence, int Slot, long Start, long Count, byte[] Blob);
