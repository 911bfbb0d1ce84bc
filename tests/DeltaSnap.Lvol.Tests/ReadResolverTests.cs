namespace DeltaSnap.Lvol.Tests;

/// <summary>Read resolution through layers on its own: 64 KiB clusters (16 blocks), data from file offset 1 MiB.</summary>
public sealed class ReadResolverTests
{
    private const int Cluster = 64 * 1024;
    private const int Block = 4096;
    private const long DataOffset = 1 << 20;
    private static readonly StoreGeometry Geometry = new(Cluster, DataOffset);
    private readonly ReadResolver _reads = new(Geometry);

    [Test]
    public void ResolveCluster_partialClone_readsItsBlocksAndTheParentsAround()
    {
        var parent = Layer(2 * Cluster, null, (0, ClusterEntry.Full(5)));
        var clone = Layer(2 * Cluster, parent, (0, Partial(7, opaque: false, 1, 2)));

        var segments = Resolve(clone, 0, 0, Cluster);

        Assert.That(segments, Is.EqualTo(new[]
        {
            new ReadSegment(File(5), Block),
            new ReadSegment(File(7) + Block, 2 * Block),
            new ReadSegment(File(5) + (3 * Block), 13 * Block),
        }));
    }

    [Test]
    public void ResolveCluster_opaqueOrHole_readsZerosWhereTheLayerHasNoBlock()
    {
        var parent = Layer(2 * Cluster, null, (0, ClusterEntry.Full(5)), (1, ClusterEntry.Full(6)));
        var clone = Layer(2 * Cluster, parent, (0, Partial(7, opaque: true, 0)), (1, ClusterEntry.Zero));

        Assert.That(Resolve(clone, 0, 0, Cluster), Is.EqualTo(new[] { new ReadSegment(File(7), Block), new ReadSegment(-1, 15 * Block) }));
        Assert.That(Resolve(clone, 1, 100, 200), Is.EqualTo(new[] { new ReadSegment(-1, 100) }));
    }

    [Test]
    public void ResolveCluster_pastALayersSize_readsZeros_evenWhereTheParentHasData()
    {
        var parent = Layer(2 * Cluster, null, (1, ClusterEntry.Full(6)));
        var shrunk = Layer(Cluster + (3 * Block), parent);

        Assert.That(Resolve(shrunk, 1, 0, Cluster), Is.EqualTo(new[] { new ReadSegment(File(6), 3 * Block), new ReadSegment(-1, 13 * Block) }));
    }

    [Test]
    public void ResolveRange_acrossClusters_joinsContiguousFileRuns()
    {
        var layer = Layer(3 * Cluster, null, (0, ClusterEntry.Full(4)), (1, ClusterEntry.Full(5)));
        var segments = new List<ReadSegment>();

        _reads.ResolveRange(layer, 100, (3 * Cluster) - 200, segments);

        Assert.That(segments, Is.EqualTo(new[] { new ReadSegment(File(4) + 100, (2 * Cluster) - 100), new ReadSegment(-1, Cluster - 100) }));
    }

    [Test]
    public void AnyDataBelow_stopsAtHolesAndSizes()
    {
        var bottom = Layer(2 * Cluster, null, (0, ClusterEntry.Full(4)), (1, ClusterEntry.Full(5)));
        var middle = Layer(Cluster, bottom, (0, ClusterEntry.Zero));
        var top = Layer(2 * Cluster, middle);

        Assert.That(_reads.AnyDataBelow(bottom, 0), Is.True);
        Assert.That(_reads.AnyDataBelow(middle, 0), Is.False, "a hole hides what lies below");
        Assert.That(_reads.AnyDataBelow(top, 1), Is.False, "the middle layer ends before cluster 1");
        Assert.That(_reads.AnyDataBelow(null, 0), Is.False);
    }

    private List<ReadSegment> Resolve(LvolNode layer, long cluster, int start, int end)
    {
        var segments = new List<ReadSegment>();
        _reads.ResolveCluster(layer, cluster, start, end, segments);
        return segments;
    }

    private static long File(long physical) => Geometry.FileOffsetOf(physical);

    private static LvolNode Layer(long size, LvolNode? parent, params (long Index, ClusterEntry Entry)[] entries)
    {
        var node = new LvolNode(Guid.NewGuid(), $"layer{size}", size) { Parent = parent };
        foreach (var (index, entry) in entries)
        {
            node.Map.Set(index, entry);
        }
        return node;
    }

    private static ClusterEntry Partial(long physical, bool opaque, params int[] blocks)
    {
        var bitmap = BlockBitmap.Empty(Geometry.BlocksPerCluster);
        foreach (var b in blocks)
        {
            bitmap = bitmap.WithRange(b, 1);
        }
        return new ClusterEntry { Kind = ClusterKind.Data, Physical = physical, Valid = bitmap.ToWords(), Opaque = opaque };
    }
}
