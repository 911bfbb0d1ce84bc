namespace DeltaSnap.Delta;

/// <summary>
/// What to do to a target so it reads like the source: the bytes to copy from the source and the bytes to
/// unmap on the target, plus what planning cost. Made by <see cref="DeltaPlanner"/>, carried out by
/// <see cref="Copy.ShallowCopyOperation"/>.
/// </summary>
/// <remarks>
/// The plan covers the source's <see cref="Layout"/> only: a target longer than the source must be shrunk,
/// and a shorter one grown, by the caller; bytes past a target's end count as zeros there. The two range
/// sets are disjoint and must not be modified.
/// </remarks>
public sealed class DeltaPlan
{
    /// <summary>Creates a plan from ranges worked out elsewhere (a backend's own diff, for instance).</summary>
    /// <param name="layout">The source's layout.</param>
    /// <param name="copyRanges">Bytes to read from the source and write to the target; copied.</param>
    /// <param name="unmapRanges">Bytes that read as zeros on the source and may hold data on the target; copied.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A range ends past the volume, or the two sets overlap.</exception>
    public DeltaPlan(ClusterLayout layout, RangeSet copyRanges, RangeSet unmapRanges)
    {
        ThrowHelper.ThrowIfNull(layout);
        ThrowHelper.ThrowIfNull(copyRanges);
        ThrowHelper.ThrowIfNull(unmapRanges);
        CheckInside(layout, copyRanges, nameof(copyRanges));
        CheckInside(layout, unmapRanges, nameof(unmapRanges));
        if (!copyRanges.Intersect(unmapRanges).IsEmpty)
        {
            ThrowHelper.ThrowArgument(nameof(unmapRanges), "The copy and unmap ranges overlap.");
        }
        Layout = layout;
        CopyRanges = new RangeSet(copyRanges);
        UnmapRanges = new RangeSet(unmapRanges);
        BytesToCopy = CopyRanges.TotalLength;
        BytesToUnmap = UnmapRanges.TotalLength;
        var touched = CopyRanges.Union(UnmapRanges);
        ClustersDiffering = touched.EnumerateClusters(layout).LongCount();
    }

    /// <summary>The layout of the source volume the plan was made for.</summary>
    public ClusterLayout Layout { get; }

    /// <summary>The bytes to read from the source and write to the target.</summary>
    public RangeSet CopyRanges { get; }

    /// <summary>The bytes that read as zeros on the source but hold data on the target: unmap them there.</summary>
    public RangeSet UnmapRanges { get; }

    /// <summary>How many clusters were compared (all of them, or those touching the candidate ranges).</summary>
    public long ClustersCompared { get; init; }

    /// <summary>How many clusters hold at least one byte to copy or unmap.</summary>
    public long ClustersDiffering { get; }

    /// <summary>The total length of <see cref="CopyRanges"/>.</summary>
    public long BytesToCopy { get; }

    /// <summary>The total length of <see cref="UnmapRanges"/>.</summary>
    public long BytesToUnmap { get; }

    /// <summary>Bytes read from the source while planning (0 when only checksum maps were compared).</summary>
    public long SourceBytesRead { get; init; }

    /// <summary>Bytes read from the target while planning (0 when only checksum maps were compared).</summary>
    public long TargetBytesRead { get; init; }

    /// <summary>Whether the target already reads like the source.</summary>
    public bool IsEmpty => CopyRanges.IsEmpty && UnmapRanges.IsEmpty;

    /// <inheritdoc />
    public override string ToString() =>
        $"copy {BytesToCopy} bytes in {CopyRanges.Count} ranges, unmap {BytesToUnmap} bytes in {UnmapRanges.Count} ranges; " +
        $"{ClustersDiffering} of {ClustersCompared} compared clusters differ";

    private static void CheckInside(ClusterLayout layout, RangeSet ranges, string name)
    {
        if (!ranges.IsEmpty && ranges[^1].End > layout.VolumeSize)
        {
            ThrowHelper.ThrowArgument(name, $"The range {ranges[^1]} ends past the volume of {layout.VolumeSize} bytes.");
        }
    }
}
