using System.Text.Json.Serialization;

namespace DeltaSnap.Lvol;

// The parameter and result shapes of SPDK's lvol JSON-RPC methods and Longhorn's additions to them, with the wire
// names SPDK uses (snake_case). Parameter records reject unknown members and missing required ones, as SPDK's
// spdk_json_decode_object does.

/// <summary>Parameters naming one lvol or bdev (<c>name</c>).</summary>
public sealed record SpdkNameParams
{
    /// <summary>The lvol's UUID, <c>LVS/LVOL</c> alias, or name.</summary>
    public required string Name { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_create</c>.</summary>
public sealed record SpdkLvolCreateParams
{
    /// <summary>The store's UUID (this or <see cref="LvsName"/>).</summary>
    public string? Uuid { get; init; }

    /// <summary>The store's name (this or <see cref="Uuid"/>).</summary>
    public string? LvsName { get; init; }

    /// <summary>The new lvol's name.</summary>
    public required string LvolName { get; init; }

    /// <summary>The size in MiB.</summary>
    public required ulong SizeInMib { get; init; }

    /// <summary>Allocate on first write.</summary>
    public bool? ThinProvision { get; init; }

    /// <summary>SPDK's clear method (<c>none</c>, <c>unmap</c>, <c>write_zeroes</c>); accepted and ignored (new clusters always read zeros here).</summary>
    public string? ClearMethod { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_snapshot</c>.</summary>
public sealed record SpdkLvolSnapshotParams
{
    /// <summary>The lvol to snapshot.</summary>
    public required string LvolName { get; init; }

    /// <summary>The snapshot's name.</summary>
    public required string SnapshotName { get; init; }

    /// <summary>Extended attributes to set on the snapshot.</summary>
    public Dictionary<string, string>? Xattrs { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_clone</c>.</summary>
public sealed record SpdkLvolCloneParams
{
    /// <summary>The snapshot to clone.</summary>
    public required string SnapshotName { get; init; }

    /// <summary>The clone's name.</summary>
    public required string CloneName { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_rename</c>.</summary>
public sealed record SpdkLvolRenameParams
{
    /// <summary>The lvol's current name, alias or UUID.</summary>
    public required string OldName { get; init; }

    /// <summary>The new name.</summary>
    public required string NewName { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_resize</c>.</summary>
public sealed record SpdkLvolResizeParams
{
    /// <summary>The lvol.</summary>
    public required string Name { get; init; }

    /// <summary>The new size in MiB.</summary>
    public required ulong SizeInMib { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_get_lvols</c> and <c>bdev_lvol_get_lvstores</c>.</summary>
public sealed record SpdkLvstoreFilterParams
{
    /// <summary>The store's UUID (<c>bdev_lvol_get_lvstores</c>).</summary>
    public string? Uuid { get; init; }

    /// <summary>The store's UUID (<c>bdev_lvol_get_lvols</c>).</summary>
    public string? LvsUuid { get; init; }

    /// <summary>The store's name.</summary>
    public string? LvsName { get; init; }
}

/// <summary>Parameters of <c>bdev_get_bdevs</c>.</summary>
public sealed record SpdkGetBdevsParams
{
    /// <summary>One bdev's name, alias or UUID; null for all.</summary>
    public string? Name { get; init; }

    /// <summary>How long to wait for the bdev to appear, in ms (accepted; bdevs here exist or not).</summary>
    public ulong? Timeout { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_set_xattr</c>.</summary>
public sealed record SpdkSetXattrParams
{
    /// <summary>The lvol.</summary>
    public required string Name { get; init; }

    /// <summary>The attribute's name.</summary>
    public required string XattrName { get; init; }

    /// <summary>The attribute's value.</summary>
    public required string XattrValue { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_get_xattr</c>.</summary>
public sealed record SpdkGetXattrParams
{
    /// <summary>The lvol.</summary>
    public required string Name { get; init; }

    /// <summary>The attribute's name.</summary>
    public required string XattrName { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_get_fragmap</c>.</summary>
public sealed record SpdkFragmapParams
{
    /// <summary>The lvol.</summary>
    public required string Name { get; init; }

    /// <summary>The window's first byte (a cluster boundary).</summary>
    public ulong Offset { get; init; }

    /// <summary>The window's length in bytes; 0 for up to the end.</summary>
    public ulong Size { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_get_snapshot_range_checksums</c>.</summary>
public sealed record SpdkRangeChecksumsParams
{
    /// <summary>The snapshot.</summary>
    public required string Name { get; init; }

    /// <summary>The first cluster of the window.</summary>
    public required ulong ClusterStartIndex { get; init; }

    /// <summary>The number of clusters in the window.</summary>
    public required ulong ClusterCount { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_start_shallow_copy</c> and <c>bdev_lvol_start_range_shallow_copy</c>.</summary>
public sealed record SpdkShallowCopyParams
{
    /// <summary>The source snapshot.</summary>
    public required string SrcLvolName { get; init; }

    /// <summary>The destination bdev.</summary>
    public required string DstBdevName { get; init; }

    /// <summary>The clusters to copy or unmap (range shallow copy only).</summary>
    public ulong[]? Clusters { get; init; }
}

/// <summary>Parameters and result of the shallow copy methods: an operation id.</summary>
public sealed record SpdkOperationId
{
    /// <summary>The operation's id.</summary>
    public required uint OperationId { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_set_parent</c>.</summary>
public sealed record SpdkSetParentParams
{
    /// <summary>The lvol that gets the parent.</summary>
    public required string LvolName { get; init; }

    /// <summary>The snapshot that becomes its parent.</summary>
    public required string ParentName { get; init; }
}

/// <summary>Result of <c>bdev_lvol_get_fragmap</c>.</summary>
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
public sealed record SpdkSnapshotChecksum
{
    /// <summary>The CRC-64/ISO chained over the snapshot's own clusters.</summary>
    public required ulong Checksum { get; init; }
}

/// <summary>One entry of <c>bdev_lvol_get_snapshot_range_checksums</c>.</summary>
public sealed record SpdkRangeChecksum
{
    /// <summary>The cluster's index.</summary>
    public required ulong ClusterIndex { get; init; }

    /// <summary>Its CRC-64/ISO.</summary>
    public required ulong Checksum { get; init; }
}

/// <summary>Result of <c>bdev_lvol_check_shallow_copy</c>.</summary>
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
public sealed record SpdkLvsRef
{
    /// <summary>The store's name.</summary>
    public required string Name { get; init; }

    /// <summary>The store's UUID.</summary>
    public required string Uuid { get; init; }
}

/// <summary>One entry of <c>bdev_lvol_get_lvols</c>.</summary>
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
}

/// <summary>A bdev's <c>driver_specific</c>.</summary>
public sealed record SpdkBdevDriverSpecific
{
    /// <summary>Lvol details.</summary>
    public SpdkBdevLvol? Lvol { get; init; }
}

/// <summary>One entry of <c>bdev_get_bdevs</c> (the members an lvol bdev reports).</summary>
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

    /// <summary>Whether a module claimed it.</summary>
    public bool Claimed { get; init; }

    /// <summary>Driver details.</summary>
    public SpdkBdevDriverSpecific? DriverSpecific { get; init; }
}

/// <summary>The source-generated serializers of the SPDK JSON-RPC shapes.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(SpdkNameParams))]
[JsonSerializable(typeof(SpdkLvolCreateParams))]
[JsonSerializable(typeof(SpdkLvolSnapshotParams))]
[JsonSerializable(typeof(SpdkLvolCloneParams))]
[JsonSerializable(typeof(SpdkLvolRenameParams))]
[JsonSerializable(typeof(SpdkLvolResizeParams))]
[JsonSerializable(typeof(SpdkLvstoreFilterParams))]
[JsonSerializable(typeof(SpdkGetBdevsParams))]
[JsonSerializable(typeof(SpdkSetXattrParams))]
[JsonSerializable(typeof(SpdkGetXattrParams))]
[JsonSerializable(typeof(SpdkFragmapParams))]
[JsonSerializable(typeof(SpdkRangeChecksumsParams))]
[JsonSerializable(typeof(SpdkShallowCopyParams))]
[JsonSerializable(typeof(SpdkOperationId))]
[JsonSerializable(typeof(SpdkSetParentParams))]
[JsonSerializable(typeof(SpdkFragmap))]
[JsonSerializable(typeof(SpdkSnapshotChecksum))]
[JsonSerializable(typeof(List<SpdkRangeChecksum>))]
[JsonSerializable(typeof(SpdkShallowCopyStatus))]
[JsonSerializable(typeof(List<SpdkLvolInfo>))]
[JsonSerializable(typeof(List<SpdkLvstoreInfo>))]
[JsonSerializable(typeof(List<SpdkBdevInfo>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(bool))]
internal sealed partial class SpdkJsonContext : JsonSerializerContext
{
}
