using DeltaSnap.Delta;

namespace DeltaSnap.Copy;

/// <summary>
/// What a <see cref="ShallowCopyOperation"/> copies: a list of clusters (Longhorn's range shallow copy) or a
/// <see cref="DeltaPlan"/>.
/// </summary>
public sealed class ShallowCopyRequest
{
    private readonly long[]? _clusters;

    private ShallowCopyRequest(ClusterLayout layout, long[]? clusters, DeltaPlan? plan)
    {
        Layout = layout;
        _clusters = clusters;
        Plan = plan;
    }

    /// <summary>The layout of the source volume.</summary>
    public ClusterLayout Layout { get; }

    /// <summary>For a cluster request, the distinct cluster indices in ascending order; otherwise null.</summary>
    public IReadOnlyList<long>? Clusters => _clusters;

    /// <summary>For a plan request, the plan; otherwise null.</summary>
    public DeltaPlan? Plan { get; }

    /// <summary>
    /// Longhorn's range shallow copy (<c>bdev_lvol_start_range_shallow_copy</c>): each listed cluster that is
    /// allocated in the source (any byte of it, as <see cref="Devices.BlockDevice.GetAllocatedRangesAsync"/>
    /// reports) is copied whole; each listed cluster that is not is unmapped on the target.
    /// </summary>
    /// <param name="layout">The source's layout.</param>
    /// <param name="clusters">The cluster indices, in any order; duplicates count once.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is not a cluster of <paramref name="layout"/>.</exception>
    public static ShallowCopyRequest ForClusters(ClusterLayout layout, IEnumerable<long> clusters)
    {
        ThrowHelper.ThrowIfNull(layout);
        ThrowHelper.ThrowIfNull(clusters);
        var sorted = clusters.ToArray();
        Array.Sort(sorted);
        var distinct = new List<long>(sorted.Length);
        foreach (var index in sorted)
        {
            if ((ulong)index >= (ulong)layout.ClusterCount)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(clusters), index, $"The volume has {layout.ClusterCount} clusters.");
            }
            if (distinct.Count == 0 || distinct[^1] != index)
            {
                distinct.Add(index);
            }
        }
        return new ShallowCopyRequest(layout, [.. distinct], null);
    }

    /// <summary>Carries out a plan: its copy ranges are read from the source and written, its unmap ranges unmapped.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="plan"/> is null.</exception>
    public static ShallowCopyRequest ForPlan(DeltaPlan plan)
    {
        ThrowHelper.ThrowIfNull(plan);
        return new ShallowCopyRequest(plan.Layout, null, plan);
    }
}
