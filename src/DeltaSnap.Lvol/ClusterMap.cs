namespace DeltaSnap.Lvol;

/// <summary>What a logical cluster of one lvol layer holds.</summary>
internal enum ClusterKind : byte
{
    /// <summary>Nothing in this layer: reads fall through to the parent.</summary>
    None = 0,

    /// <summary>A physical cluster of this layer.</summary>
    Data = 1,

    /// <summary>An explicit hole: reads zero whatever the parent holds (an unmapped cluster of a clone).</summary>
    Zero = 2,
}

/// <summary>
/// One entry of an lvol's cluster map. A <see cref="ClusterKind.Data"/> entry owns physical cluster
/// <see cref="Physical"/>; <see cref="Valid"/> says which 4 KiB blocks of it this layer has written (null: all of
/// them). Blocks not valid read from below: zeros when <see cref="Opaque"/>, else the parent's content. That is
/// copy-on-write done per block instead of per cluster: reads are the same as SPDK's, but a 4 KiB write into a
/// clone writes 4 KiB, not a whole cluster. <see cref="Valid"/>'s words are never changed once stored (a change
/// stores new words), so a <see cref="BlockBitmap"/> may share them.
/// </summary>
internal struct ClusterEntry
{
    public long Physical;
    public ulong[]? Valid;
    public ClusterKind Kind;
    public bool Opaque;

    public readonly bool IsPresent => Kind != ClusterKind.None;

    public readonly bool IsFull => Kind == ClusterKind.Data && Valid is null;

    public readonly bool IsPartial => Kind == ClusterKind.Data && Valid is not null;

    /// <summary>The blocks this layer holds of a <see cref="ClusterKind.Data"/> entry (all of them when <see cref="Valid"/> is null).</summary>
    public readonly BlockBitmap ValidBlocks(int blocks) => BlockBitmap.FromWords(Valid, blocks);

    public static ClusterEntry Zero => new() { Kind = ClusterKind.Zero, Physical = -1 };

    public static ClusterEntry Full(long physical) => new() { Kind = ClusterKind.Data, Physical = physical };

    public static ClusterEntry Empty(long physical, int words, bool opaque) =>
        new() { Kind = ClusterKind.Data, Physical = physical, Valid = new ulong[words], Opaque = opaque };
}

/// <summary>
/// A sparse map from logical cluster index to <see cref="ClusterEntry"/>, in chunks of 1024 entries so that a thin
/// lvol of any size costs memory in proportion to what it holds.
/// </summary>
internal sealed class ClusterMap
{
    private const int ChunkShift = 10;
    private const int ChunkSize = 1 << ChunkShift;
    private readonly Dictionary<long, Chunk> _chunks = [];

    /// <summary>The number of present entries.</summary>
    public long Count { get; private set; }

    public ClusterEntry Get(long index) =>
        _chunks.TryGetValue(index >> ChunkShift, out var chunk) ? chunk.Entries[index & (ChunkSize - 1)] : default;

    public void Set(long index, ClusterEntry entry)
    {
        if (!entry.IsPresent)
        {
            Remove(index);
            return;
        }
        if (!_chunks.TryGetValue(index >> ChunkShift, out var chunk))
        {
            chunk = new Chunk();
            _chunks.Add(index >> ChunkShift, chunk);
        }
        ref var slot = ref chunk.Entries[index & (ChunkSize - 1)];
        if (!slot.IsPresent)
        {
            chunk.Count++;
            Count++;
        }
        slot = entry;
    }

    public void Remove(long index)
    {
        if (!_chunks.TryGetValue(index >> ChunkShift, out var chunk))
        {
            return;
        }
        ref var slot = ref chunk.Entries[index & (ChunkSize - 1)];
        if (slot.IsPresent)
        {
            slot = default;
            chunk.Count--;
            Count--;
            if (chunk.Count == 0)
            {
                _chunks.Remove(index >> ChunkShift);
            }
        }
    }

    /// <summary>The present entries with index in <c>[first, end)</c>, ascending.</summary>
    public IEnumerable<(long Index, ClusterEntry Entry)> Enumerate(long first = 0, long end = long.MaxValue)
    {
        var keys = _chunks.Keys.Where(k => (k << ChunkShift) < end && ((k + 1) << ChunkShift) > first).ToList();
        keys.Sort();
        foreach (var key in keys)
        {
            var chunk = _chunks[key];
            for (var i = 0; i < ChunkSize; i++)
            {
                var index = (key << ChunkShift) + i;
                if (index < first || index >= end)
                {
                    continue;
                }
                var entry = chunk.Entries[i];
                if (entry.IsPresent)
                {
                    yield return (index, entry);
                }
            }
        }
    }

    private sealed class Chunk
    {
        public readonly ClusterEntry[] Entries = new ClusterEntry[ChunkSize];
        public int Count;
    }
}
