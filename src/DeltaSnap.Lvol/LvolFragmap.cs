namespace DeltaSnap.Lvol;

/// <summary>The result of <c>bdev_lvol_get_fragmap</c>: which clusters of a window the lvol's own layer holds.</summary>
public sealed record LvolFragmap
{
    /// <summary>The store's cluster size in bytes.</summary>
    public required long ClusterSize { get; init; }

    /// <summary>The number of clusters in the window.</summary>
    public required long ClusterCount { get; init; }

    /// <summary>How many of them the lvol's own layer holds.</summary>
    public required long AllocatedClusters { get; init; }

    /// <summary>One bit per cluster of the window, bit <c>i</c> for the <c>i</c>-th cluster from the window's start.</summary>
    public required AllocationMap Map { get; init; }

    /// <summary>The map as Longhorn sends it: base64 of the bit array, least significant bit first.</summary>
    public string Fragmap => Map.ToFragmap();
}

/// <summary>One registered per-cluster checksum (<c>bdev_lvol_get_snapshot_range_checksums</c>).</summary>
/// <param name="ClusterIndex">The cluster's index in the lvol.</param>
/// <param name="Checksum">The CRC-64/ISO of the cluster's bytes.</param>
public readonly record struct LvolClusterChecksum(long ClusterIndex, ulong Checksum);
