namespace DeltaSnap.Lvol;

/// <summary>
/// Copy-on-write decisions for one cluster of one lvol layer: what a write, an unmap or a structural change (inflate,
/// decouple, set or detach a parent, merge a deleted snapshot into its only child, grow, thick allocation) must
/// allocate, copy or fill, and the cluster map entry the layer ends with. Pure: it reads the entries it is given and
/// changes nothing; the store allocates, runs the copies and sets the entries, under its locks.
/// </summary>
internal sealed class CopyOnWritePlanner
{
    public CopyOnWritePlanner(int blocksPerCluster)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocksPerCluster);
        BlocksPerCluster = blocksPerCluster;
    }

    public int BlocksPerCluster { get; }

    /// <summary>
    /// The blocks a write of bytes <c>[start, start + length)</c> of a cluster covers, and which edge blocks it
    /// writes only in part (those are read first and written whole).
    /// </summary>
    public static WriteSpan PlanWrite(int start, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var end = start + length;
        var firstBlock = start >> StoreGeometry.BlockShift;
        var lastBlock = (end - 1) >> StoreGeometry.BlockShift;
        var alignedStart = firstBlock << StoreGeometry.BlockShift;
        var alignedEnd = (lastBlock + 1) << StoreGeometry.BlockShift;
        return new WriteSpan(firstBlock, lastBlock, start != alignedStart, end != alignedEnd && (lastBlock != firstBlock || start == alignedStart));
    }

    /// <summary>
    /// A write into a cluster this layer holds no physical cluster for: it takes a new one with no block valid yet,
    /// so reads keep falling through (to zeros, where the layer had an explicit hole). Null when it has one.
    /// </summary>
    public ClusterStep? PlanFirstWrite(ClusterEntry current) =>
        current.Kind == ClusterKind.Data ? null : Allocating(current.Kind == ClusterKind.Zero);

    /// <summary>Where block <paramref name="block"/> of a <see cref="ClusterKind.Data"/> entry reads from before a write covers it.</summary>
    public BlockSource SourceOf(ClusterEntry e, int block) =>
        e.ValidBlocks(BlocksPerCluster).Contains(block) ? BlockSource.Own : e.Opaque ? BlockSource.Zeros : BlockSource.Below;

    /// <summary>The entry after blocks <c>[firstBlock, firstBlock + count)</c> of its physical cluster were written: whole (and no longer opaque) once every block is.</summary>
    public ClusterEntry AfterWrite(ClusterEntry e, int firstBlock, int count)
    {
        e.Valid = e.ValidBlocks(BlocksPerCluster).WithRange(firstBlock, count).ToWords();
        if (e.Valid is null)
        {
            e.Opaque = false;
        }
        return e;
    }

    /// <summary>
    /// An unmap of a cluster: a whole cluster frees its physical cluster and becomes an explicit hole where a layer
    /// below holds data (else nothing); part of a cluster is written with zeros where it may read anything but zeros.
    /// </summary>
    public static UnmapStep PlanUnmap(ClusterEntry e, bool wholeCluster, bool dataBelow)
    {
        if (!wholeCluster)
        {
            return new UnmapStep(false, null, e.Kind == ClusterKind.Data || (e.Kind == ClusterKind.None && dataBelow));
        }
        var replacement = dataBelow ? ClusterEntry.Zero : default;
        return new UnmapStep(e.Kind == ClusterKind.Data, e.Kind != replacement.Kind ? replacement : null, false);
    }

    /// <summary>A cluster of a lvol that grows: where a layer below holds data, it must read zeros (an explicit hole).</summary>
    public static ClusterEntry? PlanGrow(ClusterEntry e, bool dataBelow) => !e.IsPresent && dataBelow ? ClusterEntry.Zero : null;

    /// <summary>A cluster of a thick lvol: one it does not hold takes a new physical cluster that reads zeros.</summary>
    public ClusterStep? PlanThick(ClusterEntry e) => e.IsPresent ? null : Allocating(opaque: true);

    /// <summary>
    /// Inflating (the lvol holds every cluster itself and drops its parent): a hole or an absent cluster with nothing
    /// below takes a new cluster that reads zeros; an absent cluster with data below takes a new one filled from below;
    /// a cluster held in part is filled with the blocks it lacks.
    /// </summary>
    public ClusterStep? PlanInflate(ClusterEntry e, bool dataBelow)
    {
        if (e.IsFull || (e.IsPartial && e.Opaque))
        {
            return null;
        }
        if (e.Kind == ClusterKind.Zero)
        {
            return Allocating(opaque: true);
        }
        if (e.IsPartial)
        {
            return PlanMaterialize(e);
        }
        return dataBelow
            ? new ClusterStep(ClusterEntry.Full(-1), Allocate: true, Blocks: BlockBitmap.All(BlocksPerCluster))
            : Allocating(opaque: true);
    }

    /// <summary>Making a cluster independent of the parent (set or detach parent): a cluster held in part and reading through is filled with the blocks it lacks.</summary>
    public ClusterStep? PlanMaterialize(ClusterEntry e) =>
        e.IsPartial && !e.Opaque ? new ClusterStep(e with { Valid = null }, Blocks: e.ValidBlocks(BlocksPerCluster).Complement()) : null;

    /// <summary>
    /// Decoupling from the parent (whose entry for the cluster is <paramref name="parent"/>, present): an absent cluster
    /// takes the parent's (a hole, or a copy in a new cluster); a cluster held in part and reading through takes the
    /// parent's blocks it lacks.
    /// </summary>
    public ClusterStep? PlanDecouple(ClusterEntry own, ClusterEntry parent)
    {
        if (!own.IsPresent)
        {
            return parent.Kind == ClusterKind.Zero
                ? new ClusterStep(ClusterEntry.Zero)
                : new ClusterStep(new ClusterEntry { Kind = ClusterKind.Data, Physical = -1, Valid = parent.Valid?.ToArray(), Opaque = parent.Opaque },
                    Allocate: true, Blocks: parent.ValidBlocks(BlocksPerCluster), Source: parent.Physical);
        }
        if (!own.IsPartial || own.Opaque)
        {
            return null;
        }
        return parent.Kind == ClusterKind.Zero
            ? new ClusterStep(own with { Opaque = true })
            : new ClusterStep(Union(own, parent), Blocks: Missing(parent, own), Source: parent.Physical);
    }

    /// <summary>
    /// Deleting a snapshot into its only child, before the merge: the copy a cluster the child holds in part (and reads
    /// through) needs of the snapshot's blocks it lacks. The child's entry does not change yet.
    /// </summary>
    public ClusterStep? PlanMergeCopy(ClusterEntry snapshot, ClusterEntry child, bool inChild) =>
        inChild && snapshot.Kind == ClusterKind.Data && child.IsPartial && !child.Opaque
            ? new ClusterStep(child, Blocks: Missing(snapshot, child), Source: snapshot.Physical)
            : null;

    /// <summary>
    /// Deleting a snapshot into its only child, once the copies are done: the child takes the snapshot's cluster where
    /// it has none, adds the snapshot's blocks (or hole) to a cluster it holds in part, and the snapshot's cluster is
    /// freed where the child does not take it.
    /// </summary>
    public MergeStep PlanMerge(ClusterEntry snapshot, ClusterEntry child, bool inChild)
    {
        if (!inChild)
        {
            return new MergeStep(null, true);
        }
        if (!child.IsPresent)
        {
            return new MergeStep(snapshot, false);
        }
        if (!child.IsPartial || child.Opaque)
        {
            return new MergeStep(null, true);
        }
        return snapshot.Kind == ClusterKind.Zero
            ? new MergeStep(child with { Opaque = true }, false)
            : new MergeStep(Union(child, snapshot), true);
    }

    /// <summary>The blocks valid in <paramref name="source"/> and not in <paramref name="target"/>.</summary>
    private BlockBitmap Missing(ClusterEntry source, ClusterEntry target) =>
        source.ValidBlocks(BlocksPerCluster).Except(target.ValidBlocks(BlocksPerCluster));

    /// <summary>Adds <paramref name="below"/>'s valid blocks to <paramref name="e"/>'s (once the data is copied): what <paramref name="e"/> still lacks then reads as <paramref name="below"/> did.</summary>
    private ClusterEntry Union(ClusterEntry e, ClusterEntry below)
    {
        e.Opaque = below.Opaque;
        e.Valid = e.ValidBlocks(BlocksPerCluster).Union(below.ValidBlocks(BlocksPerCluster)).ToWords();
        if (e.Valid is null)
        {
            e.Opaque = false;
        }
        return e;
    }

    private ClusterStep Allocating(bool opaque) =>
        new(ClusterEntry.Empty(-1, BlockBitmap.WordCount(BlocksPerCluster), opaque), Allocate: true);
}

/// <summary>Where a block of a cluster reads from: the layer's own physical cluster, zeros, or the layers below.</summary>
internal enum BlockSource
{
    Own,
    Zeros,
    Below,
}

/// <summary>The blocks <c>[FirstBlock, LastBlock]</c> a write covers, and whether it writes the first and the last only in part.</summary>
internal readonly record struct WriteSpan(int FirstBlock, int LastBlock, bool FillFirst, bool FillLast)
{
    public int BlockCount => LastBlock - FirstBlock + 1;

    /// <summary>The offset in the cluster of <see cref="FirstBlock"/>.</summary>
    public int AlignedStart => FirstBlock << StoreGeometry.BlockShift;

    /// <summary>The bytes of the blocks covered.</summary>
    public int Length => BlockCount << StoreGeometry.BlockShift;
}

/// <summary>
/// One cluster's part of a copy-on-write plan: the entry the layer's map holds afterwards (when
/// <paramref name="Allocate"/>, its physical cluster is still to be allocated), and <paramref name="Blocks"/> of that
/// physical cluster to write before the map changes: copied from physical cluster <paramref name="Source"/>, or, when
/// it is -1, filled with what the layers below read.
/// </summary>
internal readonly record struct ClusterStep(ClusterEntry Entry, bool Allocate = false, BlockBitmap? Blocks = null, long Source = -1);

/// <summary>An unmap of one cluster: free its physical cluster, set <paramref name="Replacement"/> (null: keep the entry), or write zeros over the range.</summary>
internal readonly record struct UnmapStep(bool FreePhysical, ClusterEntry? Replacement, bool WriteZeros);

/// <summary>A deleted snapshot's cluster merged into its child: the child's new entry (null: unchanged), and whether the snapshot's physical cluster is freed.</summary>
internal readonly record struct MergeStep(ClusterEntry? Child, bool FreeSnapshotCluster);
