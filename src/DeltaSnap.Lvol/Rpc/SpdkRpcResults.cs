using System.Text.Json.Serialization;

namespace DeltaSnap.Lvol;

// The result shapes of SPDK's lvol JSON-RPC methods and Longhorn's additions, with SPDK's wire names (snake_case).
// Members a real SPDK target adds (rate limits, I/O types, ...) are skipped when the client reads them.

/// <summary>Result of <c>bdev_lvol_get_fragmap</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkFragmap
{
    /// <summary>The cluster size in bytes.</summary>
    public required ulong ClusterSize { get; init; }

    /// <summary>Clusters in the window.</summary>
    public required ulong NumClusters { get; init; }

    /// <summary>Clusters of the window the lvol's own layer holds.</summary>
    public required ulong NumAllocatedClusters { get; init; }

    /// <summary>Base64 of the bit array, least significant bit first.</summary>
    public required string Fragmap { get; init; }
}


/// <summary>Result of <c>bdev_lvol_get_snapshot_checksum</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkSnapshotChecksum
{
    /// <summary>The CRC-64/ISO chained over the snapshot's own clusters.</summary>
    public required ulong Checksum { get; init; }
}


/// <summary>One entry of <c>bdev_lvol_get_snapshot_range_checksums</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkRangeChecksum
{
    /// <summary>The cluster's index.</summary>
    public required ulong ClusterIndex { get; init; }

    /// <summary>Its CRC-64/ISO.</summary>
    public required ulong Checksum { get; init; }
}


/// <summary>Result of <c>bdev_lvol_check_shallow_copy</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkShallowCopyStatus
{
    /// <summary><c>in progress</c>, <c>complete</c> or <c>error</c>.</summary>
    public required string State { get; init; }

    /// <summary>Clusters copied so far.</summary>
    public required ulong CopiedClusters { get; init; }

    /// <summary>Clusters unmapped so far (range copies).</summary>
    public ulong UnmappedClusters { get; init; }

    /// <summary>Clusters in all.</summary>
    public required ulong TotalClusters { get; init; }

    /// <summary>What went wrong, in the error state.</summary>
    public string? Error { get; init; }
}


/// <summary>The store an lvol belongs to, in <c>bdev_lvol_get_lvols</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkLvsRef
{
    /// <summary>The store's name.</summary>
    public required string Name { get; init; }

    /// <summary>The store's UUID.</summary>
    public required string Uuid { get; init; }
}


/// <summary>One entry of <c>bdev_lvol_get_lvols</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkLvolInfo
{
    /// <summary><c>LVS/LVOL</c>.</summary>
    public required string Alias { get; init; }

    /// <summary>The lvol's UUID.</summary>
    public required string Uuid { get; init; }

    /// <summary>The lvol's name.</summary>
    public required string Name { get; init; }

    /// <summary>The creation time, ISO 8601 UTC.</summary>
    public string? CreationTime { get; init; }

    /// <summary>Whether clusters are allocated on first write.</summary>
    public required bool IsThinProvisioned { get; init; }

    /// <summary>Whether it is a read-only snapshot.</summary>
    public required bool IsSnapshot { get; init; }

    /// <summary>Whether it has a parent snapshot.</summary>
    public required bool IsClone { get; init; }

    /// <summary>Always false: no external snapshots here.</summary>
    public bool IsEsnapClone { get; init; }

    /// <summary>Always false.</summary>
    public bool IsDegraded { get; init; }

    /// <summary>The store.</summary>
    public required SpdkLvsRef Lvs { get; init; }
}


/// <summary>One entry of <c>bdev_lvol_get_lvstores</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkLvstoreInfo
{
    /// <summary>The store's UUID.</summary>
    public required string Uuid { get; init; }

    /// <summary>The store's name.</summary>
    public required string Name { get; init; }

    /// <summary>The store file.</summary>
    public required string BaseBdev { get; init; }

    /// <summary>Data clusters the file spans (or the capacity, when set).</summary>
    public required ulong TotalDataClusters { get; init; }

    /// <summary>Clusters not in use.</summary>
    public required ulong FreeClusters { get; init; }

    /// <summary>4096.</summary>
    public required ulong BlockSize { get; init; }

    /// <summary>The cluster size in bytes.</summary>
    public required ulong ClusterSize { get; init; }
}


/// <summary>The lvol part of a bdev's <c>driver_specific</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkBdevLvol
{
    /// <summary>The store's UUID.</summary>
    public required string LvolStoreUuid { get; init; }

    /// <summary>The store file.</summary>
    public required string BaseBdev { get; init; }

    /// <summary>The parent snapshot's name, if any.</summary>
    public string? BaseSnapshot { get; init; }

    /// <summary>Whether clusters are allocated on first write.</summary>
    public required bool ThinProvision { get; init; }

    /// <summary>Clusters the lvol's own layer holds.</summary>
    public required ulong NumAllocatedClusters { get; init; }

    /// <summary>Whether it is a snapshot.</summary>
    public required bool Snapshot { get; init; }

    /// <summary>Whether it has a parent.</summary>
    [JsonPropertyName("clone")]
    public required bool IsClone { get; init; }

    /// <summary>The lvols whose parent it is.</summary>
    public IReadOnlyList<string>? Clones { get; init; }

    /// <summary>Always false: no external snapshots here.</summary>
    public bool EsnapClone { get; init; }
}


/// <summary>A bdev's <c>driver_specific</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkBdevDriverSpecific
{
    /// <summary>Lvol details.</summary>
    public SpdkBdevLvol? Lvol { get; init; }
}


/// <summary>One entry of <c>bdev_get_bdevs</c> (the members an lvol bdev reports).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record SpdkBdevInfo
{
    /// <summary>The bdev's name (an lvol's UUID).</summary>
    public required string Name { get; init; }

    /// <summary>Its aliases (<c>LVS/LVOL</c>).</summary>
    public required IReadOnlyList<string> Aliases { get; init; }

    /// <summary><c>Logical Volume</c>.</summary>
    public required string ProductName { get; init; }

    /// <summary>The block size.</summary>
    public required uint BlockSize { get; init; }

    /// <summary>The size in blocks.</summary>
    public required ulong NumBlocks { get; init; }

    /// <summary>The bdev's UUID.</summary>
    public string? Uuid { get; init; }

    /// <summary>When the lvol was created, RFC 3339 UTC (Longhorn's engine skips replicas without it).</summary>
    public string? CreationTime { get; init; }

    /// <summary>Whether a module claimed it.</summary>
    public bool Claimed { get; init; }

    /// <summary>Driver details.</summary>
    public SpdkBdevDriverSpecific? DriverSpecific { get; init; }
}
