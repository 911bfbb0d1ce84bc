using DeltaSnap.Checksums;

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
    /// <summary>Compares <paramref name="a"/> (old) with <paramref name="b"/> (new) cluster by cluster.</summary>
    /// <exception cref="ArgumentException">The maps use different algorithms or cluster sizes.</exception>
    public static ClusterDiff Compute(ClusterChecksums a, ClusterChecksums b, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        a.CheckComparable(b);
        var longer = a.Layout.VolumeSize >= b.Layout.VolumeSize ? a.Layout : b.Layout;
        var common = Math.Min(a.Layout.ClusterCount, b.Layout.ClusterCount);
        var changed = new RangeSet();
        long changedClusters = 0, bytesToCopy = 0, bytesToUnmap = 0;
        long runStart = -1;
        for (long i = 0; i < longer.ClusterCount; i++)
        {
            if ((i & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            var inB = i < b.Layout.ClusterCount;
            var stateB = inB ? b.GetState(i) : ClusterState.Unallocated;
            var differs = i < common
                ? !a.ContentEquals(i, b)
                : (inB ? stateB : a.GetState(i)) == ClusterState.Data;
            if (differs)
            {
                changedClusters++;
                if (stateB == ClusterState.Data)
                {
                    bytesToCopy += b.Layout.LengthOf(i);
                }
                else if (inB)
                {
                    bytesToUnmap += b.Layout.LengthOf(i);
                }
                if (runStart < 0)
                {
                    runStart = i;
                }
            }
            else if (runStart >= 0)
            {
                changed.Add(longer.RangeOf(runStart, i - runStart));
                runStart = -1;
            }
        }
        if (runStart >= 0)
        {
            changed.Add(longer.RangeOf(runStart, longer.ClusterCount - runStart));
        }
        return new ClusterDiff(changed, changedClusters, bytesToCopy, bytesToUnmap);
    }
}
