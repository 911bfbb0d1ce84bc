namespace DeltaSnap.Lvol.Tests;

/// <summary>The copy-on-write decisions on their own: one cluster of 16 blocks (a 64 KiB cluster), entry by entry.</summary>
public sealed class CopyOnWritePlannerTests
{
    private const int Blocks = 16;
    private readonly CopyOnWritePlanner _planner = new(Blocks);

    [TestCase(0, 4096, 0, 0, false, false)]
    [TestCase(100, 10, 0, 0, true, false)]
    [TestCase(0, 100, 0, 0, false, true)]
    [TestCase(100, 8192, 0, 2, true, true)]
    [TestCase(4096, 8192, 1, 2, false, false)]
    [TestCase(4000, 200, 0, 1, true, true)]
    public void PlanWrite_coversTheBlocks_andReadsOnlyEdgesWrittenInPart(int start, int length, int first, int last, bool fillFirst, bool fillLast)
    {
        var span = CopyOnWritePlanner.PlanWrite(start, length);

        Assert.That(span, Is.EqualTo(new WriteSpan(first, last, fillFirst, fillLast)));
        Assert.That(span.AlignedStart, Is.EqualTo(first * 4096));
        Assert.That(span.Length, Is.EqualTo((last - first + 1) * 4096));
        Assert.That(span.AlignedStart <= start && start + length <= span.AlignedStart + span.Length, Is.True);
    }

    [Test]
    public void PlanFirstWrite_allocatesAnEmptyCluster_opaqueOverAHole_andNothingForData()
    {
        var overNothing = _planner.PlanFirstWrite(default);
        var overHole = _planner.PlanFirstWrite(ClusterEntry.Zero);

        Assert.That(overNothing, Is.Not.Null);
        Assert.That(overNothing!.Value.Allocate, Is.True);
        Assert.That(overNothing.Value.Entry.IsPartial, Is.True);
        Assert.That(overNothing.Value.Entry.ValidBlocks(Blocks).IsEmpty, Is.True, "no block is valid before the write lands");
        Assert.That(overNothing.Value.Entry.Opaque, Is.False, "blocks not written read through to the parent");
        Assert.That(overHole!.Value.Entry.Opaque, Is.True, "blocks not written of a hole read zeros");
        Assert.That(_planner.PlanFirstWrite(Partial(3, opaque: false, 0)), Is.Null);
        Assert.That(_planner.PlanFirstWrite(ClusterEntry.Full(3)), Is.Null);
    }

    [Test]
    public void SourceOf_eachKindOfBlock_isOwnZerosOrBelow()
    {
        var throughParent = Partial(3, opaque: false, 1);
        var overHole = Partial(3, opaque: true, 1);

        Assert.That(_planner.SourceOf(throughParent, 1), Is.EqualTo(BlockSource.Own));
        Assert.That(_planner.SourceOf(throughParent, 2), Is.EqualTo(BlockSource.Below));
        Assert.That(_planner.SourceOf(overHole, 2), Is.EqualTo(BlockSource.Zeros));
        Assert.That(_planner.SourceOf(ClusterEntry.Full(3), 15), Is.EqualTo(BlockSource.Own));
    }

    [Test]
    public void AfterWrite_lastMissingBlocks_makeTheClusterWhole_andNoLongerOpaque()
    {
        var before = Partial(3, opaque: true, 0, 1, 2, 3);
        var words = before.Valid!.ToArray();

        var some = _planner.AfterWrite(before, 4, 4);
        var all = _planner.AfterWrite(some, 8, 8);

        Assert.That(some.ValidBlocks(Blocks), Is.EqualTo(BlockBitmap.Range(Blocks, 0, 8)));
        Assert.That(some.Opaque, Is.True);
        Assert.That(all.IsFull, Is.True);
        Assert.That(all.Opaque, Is.False);
        Assert.That(all.Physical, Is.EqualTo(3));
        Assert.That(before.Valid, Is.EqualTo(words), "the stored words are not changed in place");
    }

    [Test]
    public void PlanUnmap_wholeCluster_freesIt_andHidesOnlyWhatLiesBelow()
    {
        var data = ClusterEntry.Full(3);

        Assert.That(CopyOnWritePlanner.PlanUnmap(data, wholeCluster: true, dataBelow: true), Is.EqualTo(new UnmapStep(true, ClusterEntry.Zero, false)));
        Assert.That(CopyOnWritePlanner.PlanUnmap(data, wholeCluster: true, dataBelow: false), Is.EqualTo(new UnmapStep(true, default(ClusterEntry), false)));
        Assert.That(CopyOnWritePlanner.PlanUnmap(ClusterEntry.Zero, wholeCluster: true, dataBelow: true), Is.EqualTo(new UnmapStep(false, null, false)), "already a hole");
        Assert.That(CopyOnWritePlanner.PlanUnmap(ClusterEntry.Zero, wholeCluster: true, dataBelow: false), Is.EqualTo(new UnmapStep(false, default(ClusterEntry), false)), "a hole that hides nothing goes");
        Assert.That(CopyOnWritePlanner.PlanUnmap(default, wholeCluster: true, dataBelow: false), Is.EqualTo(new UnmapStep(false, null, false)));
    }

    [Test]
    public void PlanUnmap_partOfACluster_writesZerosWhereItMayReadData()
    {
        Assert.That(CopyOnWritePlanner.PlanUnmap(ClusterEntry.Full(3), wholeCluster: false, dataBelow: false).WriteZeros, Is.True);
        Assert.That(CopyOnWritePlanner.PlanUnmap(default, wholeCluster: false, dataBelow: true).WriteZeros, Is.True);
        Assert.That(CopyOnWritePlanner.PlanUnmap(default, wholeCluster: false, dataBelow: false), Is.EqualTo(new UnmapStep(false, null, false)));
        Assert.That(CopyOnWritePlanner.PlanUnmap(ClusterEntry.Zero, wholeCluster: false, dataBelow: true), Is.EqualTo(new UnmapStep(false, null, false)));
    }

    [Test]
    public void PlanGrow_andPlanThick_hideWhatLiesBelow_andAllocateZeros()
    {
        Assert.That(CopyOnWritePlanner.PlanGrow(default, dataBelow: true), Is.EqualTo(ClusterEntry.Zero));
        Assert.That(CopyOnWritePlanner.PlanGrow(default, dataBelow: false), Is.Null);
        Assert.That(CopyOnWritePlanner.PlanGrow(ClusterEntry.Full(3), dataBelow: true), Is.Null);
        var thick = _planner.PlanThick(default);
        Assert.That(thick!.Value.Allocate, Is.True);
        Assert.That(thick.Value.Entry.Opaque, Is.True, "a thick cluster reads zeros until written");
        Assert.That(_planner.PlanThick(ClusterEntry.Zero), Is.Null);
    }

    [Test]
    public void PlanInflate_eachKindOfCluster()
    {
        Assert.That(_planner.PlanInflate(ClusterEntry.Full(3), dataBelow: true), Is.Null);
        Assert.That(_planner.PlanInflate(Partial(3, opaque: true, 0), dataBelow: true), Is.Null, "it reads zeros where it has no block: nothing below is read");

        var hole = _planner.PlanInflate(ClusterEntry.Zero, dataBelow: true)!.Value;
        Assert.That((hole.Allocate, hole.Entry.Opaque, hole.Blocks), Is.EqualTo((true, true, (BlockBitmap?)null)));

        var partial = _planner.PlanInflate(Partial(3, opaque: false, 0, 1), dataBelow: true)!.Value;
        Assert.That(partial.Allocate, Is.False);
        Assert.That(partial.Entry.IsFull, Is.True);
        Assert.That(partial.Blocks, Is.EqualTo(BlockBitmap.Range(Blocks, 2, 14)), "the blocks it lacks are filled from below");
        Assert.That(partial.Source, Is.EqualTo(-1));

        var absent = _planner.PlanInflate(default, dataBelow: true)!.Value;
        Assert.That((absent.Allocate, absent.Entry.IsFull, absent.Blocks, absent.Source), Is.EqualTo((true, true, (BlockBitmap?)BlockBitmap.All(Blocks), -1L)));

        var nothingBelow = _planner.PlanInflate(default, dataBelow: false)!.Value;
        Assert.That((nothingBelow.Allocate, nothingBelow.Entry.Opaque, nothingBelow.Blocks), Is.EqualTo((true, true, (BlockBitmap?)null)));
    }

    [Test]
    public void PlanMaterialize_fillsOnlyClustersThatReadThrough()
    {
        var step = _planner.PlanMaterialize(Partial(3, opaque: false, 15))!.Value;

        Assert.That(step.Entry.IsFull, Is.True);
        Assert.That(step.Blocks, Is.EqualTo(BlockBitmap.Range(Blocks, 0, 15)));
        Assert.That(_planner.PlanMaterialize(Partial(3, opaque: true, 15)), Is.Null);
        Assert.That(_planner.PlanMaterialize(ClusterEntry.Full(3)), Is.Null);
        Assert.That(_planner.PlanMaterialize(ClusterEntry.Zero), Is.Null);
    }

    [Test]
    public void PlanDecouple_absentCluster_takesTheParentsHoleOrACopy()
    {
        Assert.That(_planner.PlanDecouple(default, ClusterEntry.Zero), Is.EqualTo(new ClusterStep(ClusterEntry.Zero)));

        var parent = Partial(9, opaque: true, 2, 3);
        var copy = _planner.PlanDecouple(default, parent)!.Value;

        Assert.That(copy.Allocate, Is.True);
        Assert.That(copy.Source, Is.EqualTo(9));
        Assert.That(copy.Blocks, Is.EqualTo(BlockBitmap.Range(Blocks, 2, 2)), "only the blocks the parent holds are copied");
        Assert.That(copy.Entry.ValidBlocks(Blocks), Is.EqualTo(parent.ValidBlocks(Blocks)));
        Assert.That(copy.Entry.Opaque, Is.True);
        Assert.That(copy.Entry.Valid, Is.Not.SameAs(parent.Valid));
        var whole = _planner.PlanDecouple(default, ClusterEntry.Full(9))!.Value;
        Assert.That((whole.Entry.IsFull, whole.Blocks), Is.EqualTo((true, (BlockBitmap?)BlockBitmap.All(Blocks))));
    }

    [Test]
    public void PlanDecouple_partialCluster_takesTheParentsBlocksItLacks()
    {
        var own = Partial(3, opaque: false, 0, 1);

        var fromData = _planner.PlanDecouple(own, Partial(9, opaque: true, 1, 2))!.Value;
        var fromHole = _planner.PlanDecouple(own, ClusterEntry.Zero)!.Value;
        var fromWhole = _planner.PlanDecouple(own, ClusterEntry.Full(9))!.Value;

        Assert.That((fromData.Allocate, fromData.Source, fromData.Blocks), Is.EqualTo((false, 9L, (BlockBitmap?)BlockBitmap.Range(Blocks, 2, 1))));
        Assert.That(fromData.Entry.ValidBlocks(Blocks), Is.EqualTo(BlockBitmap.Range(Blocks, 0, 3)));
        Assert.That(fromData.Entry.Opaque, Is.True, "what both lack now reads as the parent read: zeros");
        Assert.That(fromData.Entry.Physical, Is.EqualTo(3));
        Assert.That((fromHole.Entry.Opaque, fromHole.Blocks), Is.EqualTo((true, (BlockBitmap?)null)));
        Assert.That((fromWhole.Entry.IsFull, fromWhole.Entry.Opaque), Is.EqualTo((true, false)));
        Assert.That(_planner.PlanDecouple(ClusterEntry.Full(3), ClusterEntry.Full(9)), Is.Null);
        Assert.That(_planner.PlanDecouple(Partial(3, opaque: true, 0), ClusterEntry.Full(9)), Is.Null);
        Assert.That(_planner.PlanDecouple(ClusterEntry.Zero, ClusterEntry.Full(9)), Is.Null);
    }

    [Test]
    public void PlanMergeCopy_copiesTheSnapshotsBlocksTheChildLacks_onlyForPartialChildClusters()
    {
        var child = Partial(3, opaque: false, 0);

        var step = _planner.PlanMergeCopy(ClusterEntry.Full(9), child, inChild: true)!.Value;

        Assert.That((step.Source, step.Entry.Physical, step.Allocate), Is.EqualTo((9L, 3L, false)));
        Assert.That(step.Blocks, Is.EqualTo(BlockBitmap.Range(Blocks, 1, 15)));
        Assert.That(_planner.PlanMergeCopy(ClusterEntry.Full(9), child, inChild: false), Is.Null);
        Assert.That(_planner.PlanMergeCopy(ClusterEntry.Zero, child, inChild: true), Is.Null);
        Assert.That(_planner.PlanMergeCopy(ClusterEntry.Full(9), Partial(3, opaque: true, 0), inChild: true), Is.Null);
        Assert.That(_planner.PlanMergeCopy(ClusterEntry.Full(9), default, inChild: true), Is.Null);
    }

    [Test]
    public void PlanMerge_eachCase()
    {
        var snapshot = Partial(9, opaque: false, 4);
        var child = Partial(3, opaque: false, 0);

        Assert.That(_planner.PlanMerge(snapshot, child, inChild: false), Is.EqualTo(new MergeStep(null, true)), "past the child's end");
        Assert.That(_planner.PlanMerge(snapshot, default, inChild: true), Is.EqualTo(new MergeStep(snapshot, false)), "the child takes the cluster");
        Assert.That(_planner.PlanMerge(snapshot, ClusterEntry.Full(3), inChild: true), Is.EqualTo(new MergeStep(null, true)));
        Assert.That(_planner.PlanMerge(snapshot, Partial(3, opaque: true, 0), inChild: true).FreeSnapshotCluster, Is.True);
        var hole = _planner.PlanMerge(ClusterEntry.Zero, child, inChild: true);
        Assert.That((hole.FreeSnapshotCluster, hole.Child!.Value.Opaque), Is.EqualTo((false, true)));
        var union = _planner.PlanMerge(snapshot, child, inChild: true);
        Assert.That(union.FreeSnapshotCluster, Is.True);
        Assert.That(union.Child!.Value.ValidBlocks(Blocks), Is.EqualTo(BlockBitmap.Range(Blocks, 0, 1).Union(BlockBitmap.Range(Blocks, 4, 1))));
        Assert.That(union.Child.Value.Physical, Is.EqualTo(3));
    }

    private static ClusterEntry Partial(long physical, bool opaque, params int[] blocks)
    {
        var bitmap = BlockBitmap.Empty(Blocks);
        foreach (var b in blocks)
        {
            bitmap = bitmap.WithRange(b, 1);
        }
        return new ClusterEntry { Kind = ClusterKind.Data, Physical = physical, Valid = bitmap.ToWords(), Opaque = opaque };
    }
}
