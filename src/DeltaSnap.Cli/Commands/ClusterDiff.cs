using DeltaSnap.Checksums;
using DeltaSnap.Delta;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// Which clusters differ between an old map <c>A</c> and a new map <c>B</c>, and what it would cost to turn A into B:
/// B's data in the changed clusters is copied; changed clusters that are zero or unallocated in B are unmapped.
/// When the volumes differ in size, a cluster past the shorter one's end counts as zeros there.
/// </summary>
/// <param name="Changed">The changed bytes, as coalesced ranges.</param>
/// <param name="ChangedClusters">How many clusters changed.</param>
/// <param name="BytesToCopy">Bytes of B's data in the changed clusters.</param>
/// <param name="BytesToUnmap">Bytes of changed clusters that B holds as zero or unallocated.</param>
internal sealed record ClusterDiff(RangeSet Changed, long ChangedClusters, long BytesToCopy, long BytesToUnmap)
{
    /// <summary>
    /// Compares <paramref name="a"/> (old) with <paramref name="b"/> (new) cluster by cluster: the core's
    /// <see cref="DeltaPlanner.Compare"/> with B as the source and A as the target, plus what that plan leaves to its
    /// caller, the clusters past B's end where A holds data (they change when A shrinks to B's size).
    /// </summary>
    /// <exception cref="ArgumentException">The maps use different algorithms or cluster sizes.</exception>
    public static ClusterDiff Compute(ClusterChecksums a, ClusterChecksums b, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var plan = DeltaPlanner.Compare(source: b, target: a);
        cancellationToken.ThrowIfCancellationRequested();

        // The plan's unmaps stop at A's end; the report counts whole clusters of B, as its copies do.
        long bytesToUnmap = 0;
        foreach (var index in plan.UnmapRanges.EnumerateClusters(b.Layout))
        {
            bytesToUnmap += b.Layout.LengthOf(index);
        }

        var truncated = DataClusters(a, from: b.Layout.ClusterCount);
        var longer = a.Layout.VolumeSize >= b.Layout.VolumeSize ? a.Layout : b.Layout;
        var changed = new RangeSet();
        long changedClusters = 0, runStart = -1, runEnd = -1;
        foreach (var index in plan.CopyRanges.Union(plan.UnmapRanges).EnumerateClusters(b.Layout).Concat(truncated))
        {
            if ((++changedClusters & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (index != runEnd)
            {
                AddRun(changed, longer, runStart, runEnd);
                runStart = index;
            }
            runEnd = index + 1;
        }
        AddRun(changed, longer, runStart, runEnd);
        return new ClusterDiff(changed, changedClusters, plan.BytesToCopy, bytesToUnmap);
    }

    // The clusters of `map` from index `from` on that hold data.
    private static IEnumerable<long> DataClusters(ClusterChecksums map, long from)
    {
        for (var index = from; index < map.Layout.ClusterCount; index++)
        {
            if (map.GetState(index) == ClusterState.Data)
            {
                yield return index;
            }
        }
    }

    private static void AddRun(RangeSet changed, ClusterLayout layout, long start, long end)
    {
        if (start >= 0)
        {
            changed.Add(layout.RangeOf(start, end - start));
        }
    }
}
