namespace DeltaSnap.Lvol;

// The parameter shapes of SPDK's lvol JSON-RPC methods and Longhorn's additions, with SPDK's wire names (snake_case).
// They reject unknown members, missing required ones and null where a value is required, as SPDK's
// spdk_json_decode_object does. Internal: SpdkRpcClient's methods take plain arguments.

/// <summary>Parameters naming one lvol or bdev (<c>name</c>).</summary>
internal sealed record SpdkNameParams
{
    /// <summary>The lvol's UUID, <c>LVS/LVOL</c> alias, or name.</summary>
    public required string Name { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_create</c>.</summary>
internal sealed record SpdkLvolCreateParams
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
internal sealed record SpdkLvolSnapshotParams
{
    /// <summary>The lvol to snapshot.</summary>
    public required string LvolName { get; init; }

    /// <summary>The snapshot's name.</summary>
    public required string SnapshotName { get; init; }

    /// <summary>Extended attributes to set on the snapshot.</summary>
    public Dictionary<string, string>? Xattrs { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_clone</c>.</summary>
internal sealed record SpdkLvolCloneParams
{
    /// <summary>The snapshot to clone.</summary>
    public required string SnapshotName { get; init; }

    /// <summary>The clone's name (optional on the wire; SPDK refuses a clone without one with EINVAL).</summary>
    public string? CloneName { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_rename</c>.</summary>
internal sealed record SpdkLvolRenameParams
{
    /// <summary>The lvol's current name, alias or UUID.</summary>
    public required string OldName { get; init; }

    /// <summary>The new name.</summary>
    public required string NewName { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_resize</c>.</summary>
internal sealed record SpdkLvolResizeParams
{
    /// <summary>The lvol.</summary>
    public required string Name { get; init; }

    /// <summary>The new size in MiB.</summary>
    public required ulong SizeInMib { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_get_lvols</c> and <c>bdev_lvol_get_lvstores</c>.</summary>
internal sealed record SpdkLvstoreFilterParams
{
    /// <summary>The store's UUID (<c>bdev_lvol_get_lvstores</c>).</summary>
    public string? Uuid { get; init; }

    /// <summary>The store's UUID (<c>bdev_lvol_get_lvols</c>).</summary>
    public string? LvsUuid { get; init; }

    /// <summary>The store's name.</summary>
    public string? LvsName { get; init; }
}


/// <summary>Parameters of <c>bdev_get_bdevs</c>.</summary>
internal sealed record SpdkGetBdevsParams
{
    /// <summary>One bdev's name, alias or UUID; null for all.</summary>
    public string? Name { get; init; }

    /// <summary>How long to wait for the bdev to appear, in ms (accepted; bdevs here exist or not).</summary>
    public ulong? Timeout { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_set_xattr</c>.</summary>
internal sealed record SpdkSetXattrParams
{
    /// <summary>The lvol.</summary>
    public required string Name { get; init; }

    /// <summary>The attribute's name.</summary>
    public required string XattrName { get; init; }

    /// <summary>The attribute's value.</summary>
    public required string XattrValue { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_get_xattr</c>.</summary>
internal sealed record SpdkGetXattrParams
{
    /// <summary>The lvol.</summary>
    public required string Name { get; init; }

    /// <summary>The attribute's name.</summary>
    public required string XattrName { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_get_fragmap</c>.</summary>
internal sealed record SpdkFragmapParams
{
    /// <summary>The lvol.</summary>
    public required string Name { get; init; }

    /// <summary>The window's first byte (a cluster boundary).</summary>
    public ulong Offset { get; init; }

    /// <summary>The window's length in bytes; 0 for up to the end.</summary>
    public ulong Size { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_get_snapshot_range_checksums</c>.</summary>
internal sealed record SpdkRangeChecksumsParams
{
    /// <summary>The snapshot.</summary>
    public required string Name { get; init; }

    /// <summary>The first cluster of the window.</summary>
    public required ulong ClusterStartIndex { get; init; }

    /// <summary>The number of clusters in the window.</summary>
    public required ulong ClusterCount { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_start_shallow_copy</c>.</summary>
internal sealed record SpdkShallowCopyParams
{
    /// <summary>The source snapshot.</summary>
    public required string SrcLvolName { get; init; }

    /// <summary>The destination bdev.</summary>
    public required string DstBdevName { get; init; }
}

/// <summary>Parameters of <c>bdev_lvol_start_range_shallow_copy</c>.</summary>
internal sealed record SpdkRangeShallowCopyParams
{
    /// <summary>The source snapshot.</summary>
    public required string SrcLvolName { get; init; }

    /// <summary>The destination bdev.</summary>
    public required string DstBdevName { get; init; }

    /// <summary>The clusters to copy (held by the source) or unmap (not held); at most 256.</summary>
    public required ulong[] Clusters { get; init; }
}

/// <summary>Parameters and result of the shallow copy methods: an operation id.</summary>
internal sealed record SpdkOperationId
{
    /// <summary>The operation's id.</summary>
    public required uint OperationId { get; init; }
}


/// <summary>Parameters of <c>bdev_lvol_set_parent</c>.</summary>
internal sealed record SpdkSetParentParams
{
    /// <summary>The lvol that gets the parent.</summary>
    public required string LvolName { get; init; }

    /// <summary>The snapshot that becomes its parent.</summary>
    public required string ParentName { get; init; }
}

