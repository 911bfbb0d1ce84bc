using DeltaSnap.Devices;

namespace DeltaSnap.Copy;

/// <summary>One piece of work: bytes to copy from the source, or to unmap on the target. Never crosses a cluster boundary.</summary>
internal readonly record struct CopyPiece(long Offset, int Length, bool IsCopy)
{
    public long End => Offset + Length;
}

/// <summary>
/// The pieces of one cluster, done together: read together, written together, counted as one cluster. After
/// it is done, everything before <see cref="End"/> is done.
/// </summary>
internal readonly record struct CopyItem(long End, int FirstPiece, int PieceCount, long SpanStart, int SpanLength, bool HasCopies);

/// <summary>
/// A request turned into work: items in ascending order, one per cluster that has anything to do, each with
/// its pieces. Everything before the resume offset is left out.
/// </summary>
internal sealed class CopyWorkList
{
    private readonly List<CopyPiece> _pieces = [];
    private readonly List<CopyItem> _items = [];
    private readonly ClusterLayout _layout;
    private long _currentCluster = -1;
    private int _currentFirstPiece;

    private CopyWorkList(ClusterLayout layout) => _layout = layout;

    public IReadOnlyList<CopyPiece> Pieces => _pieces;

    public IReadOnlyList<CopyItem> Items => _items;

    public long TotalBytes { get; private set; }

    /// <summary>Builds the work for <paramref name="request"/>, asking the source which listed clusters are allocated.</summary>
    public static async Task<CopyWorkList> BuildAsync(ShallowCopyRequest request, BlockDevice source, long resumeFrom, CancellationToken cancellationToken)
    {
        var work = new CopyWorkList(request.Layout);
        if (request.Plan is { } plan)
        {
            // The two sets are disjoint: merge them in offset order.
            int c = 0, u = 0;
            while (c < plan.CopyRanges.Count || u < plan.UnmapRanges.Count)
            {
                var takeCopy = u >= plan.UnmapRanges.Count || (c < plan.CopyRanges.Count && plan.CopyRanges[c].Offset < plan.UnmapRanges[u].Offset);
                work.Add(takeCopy ? plan.CopyRanges[c++] : plan.UnmapRanges[u++], takeCopy, resumeFrom);
            }
        }
        else
        {
            var clusters = request.Clusters!;
            var allocated = await ReadAllocationAsync(request.Layout, clusters, source, resumeFrom, cancellationToken).ConfigureAwait(false);
            foreach (var index in clusters)
            {
                work.Add(request.Layout.RangeOf(index), allocated.Contains(index), resumeFrom);
            }
        }
        work.CloseItem();
        return work;
    }

    // Which listed clusters hold at least one allocated byte; asks only about runs of listed clusters.
    private static async Task<HashSet<long>> ReadAllocationAsync(ClusterLayout layout, IReadOnlyList<long> clusters, BlockDevice source,
        long resumeFrom, CancellationToken cancellationToken)
    {
        var allocated = new HashSet<long>();
        for (var i = 0; i < clusters.Count;)
        {
            var first = clusters[i];
            var count = 1;
            while (i + count < clusters.Count && clusters[i + count] == first + count)
            {
                count++;
            }
            i += count;
            var run = layout.RangeOf(first, count);
            if (run.End <= resumeFrom)
            {
                continue;
            }
            await foreach (var r in source.GetAllocatedRangesAsync(run, cancellationToken).ConfigureAwait(false))
            {
                if (!r.IsEmpty)
                {
                    for (var c = layout.ClusterIndexOf(r.Offset); c <= layout.ClusterIndexOf(r.End - 1); c++)
                    {
                        allocated.Add(c);
                    }
                }
            }
        }
        return allocated;
    }

    // Adds a range (ascending, disjoint from earlier ones), cut at cluster boundaries and at the resume offset.
    private void Add(ByteRange range, bool isCopy, long resumeFrom)
    {
        var offset = Math.Max(range.Offset, resumeFrom);
        while (offset < range.End)
        {
            var cluster = _layout.ClusterIndexOf(offset);
            var end = Math.Min(range.End, _layout.OffsetOf(cluster) + _layout.LengthOf(cluster));
            if (cluster != _currentCluster)
            {
                CloseItem();
                _currentCluster = cluster;
                _currentFirstPiece = _pieces.Count;
            }
            _pieces.Add(new CopyPiece(offset, (int)(end - offset), isCopy));
            TotalBytes += end - offset;
            offset = end;
        }
    }

    private void CloseItem()
    {
        var count = _pieces.Count - _currentFirstPiece;
        if (_currentCluster < 0 || count == 0)
        {
            return;
        }
        var first = _pieces[_currentFirstPiece];
        var last = _pieces[^1];
        var hasCopies = false;
        for (var p = _currentFirstPiece; p < _pieces.Count; p++)
        {
            hasCopies |= _pieces[p].IsCopy;
        }
        var clusterEnd = _layout.OffsetOf(_currentCluster) + _layout.LengthOf(_currentCluster);
        _items.Add(new CopyItem(clusterEnd, _currentFirstPiece, count, first.Offset, (int)(last.End - first.Offset), hasCopies));
        _currentFirstPiece = _pieces.Count;
    }
}
