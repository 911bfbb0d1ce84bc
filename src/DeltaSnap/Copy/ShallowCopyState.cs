namespace DeltaSnap.Copy;

/// <summary>Where a <see cref="ShallowCopyOperation"/> stands: Longhorn's three states.</summary>
public enum ShallowCopyState
{
    /// <summary>Still copying.</summary>
    InProgress = 0,

    /// <summary>Everything was copied and unmapped.</summary>
    Complete = 1,

    /// <summary>Stopped by a failure or by cancellation; <see cref="ShallowCopyOperation.Error"/> says which.</summary>
    Error = 2,
}

/// <summary>A snapshot of a <see cref="ShallowCopyOperation"/>'s status, as Longhorn's <c>bdev_lvol_check_shallow_copy</c> reports it.</summary>
/// <param name="State">Where the operation stands.</param>
/// <param name="CopiedClusters">Clusters done in which at least one byte was written.</param>
/// <param name="UnmappedClusters">Clusters done in which everything was unmapped (unallocated, or read as zeros).</param>
/// <param name="TotalClusters">Clusters this run has to do.</param>
/// <param name="CopiedBytes">Bytes written to the target.</param>
/// <param name="UnmappedBytes">Bytes unmapped on the target.</param>
/// <param name="TotalBytes">Bytes this run has to write or unmap.</param>
/// <param name="Checkpoint">The offset before which everything has been handed to the target; resume from here.</param>
public readonly record struct ShallowCopyProgress(
    ShallowCopyState State,
    long CopiedClusters,
    long UnmappedClusters,
    long TotalClusters,
    long CopiedBytes,
    long UnmappedBytes,
    long TotalBytes,
    long Checkpoint);
