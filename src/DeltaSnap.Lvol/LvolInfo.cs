namespace DeltaSnap.Lvol;

/// <summary>What the store knows about one lvol, at the moment it was asked.</summary>
public sealed record LvolInfo
{
    /// <summary>The lvol's UUID (its identity; a snapshot's UUID never changes).</summary>
    public required Guid Uuid { get; init; }

    /// <summary>The lvol's name, unique in the store.</summary>
    public required string Name { get; init; }

    /// <summary>The size in bytes.</summary>
    public required long Size { get; init; }

    /// <summary>The parent snapshot's UUID, or null.</summary>
    public Guid? ParentUuid { get; init; }

    /// <summary>The parent snapshot's name, or null.</summary>
    public string? ParentName { get; init; }

    /// <summary>Whether this lvol is a read-only snapshot.</summary>
    public bool IsSnapshot { get; init; }

    /// <summary>Whether clusters are allocated on first write.</summary>
    public bool IsThin { get; init; }

    /// <summary>Whether this lvol has a parent (a clone, or a live volume with snapshots).</summary>
    public bool IsClone => ParentUuid is not null;

    /// <summary>The creation time, UTC.</summary>
    public DateTimeOffset CreatedUtc { get; init; }

    /// <summary>Clusters allocated in this lvol's own layer (explicit holes count: they hide the parent's data).</summary>
    public long AllocatedClusters { get; init; }

    /// <summary>The names of the lvols whose parent this one is.</summary>
    public IReadOnlyList<string> Children { get; init; } = [];

    /// <summary>The extended attributes (checksums registered with the snapshot live here too).</summary>
    public IReadOnlyDictionary<string, byte[]> Xattrs { get; init; } = new Dictionary<string, byte[]>();
}

/// <summary>How to create a snapshot in the store.</summary>
public sealed record LvolSnapshotOptions
{
    /// <summary>The creation time to record; null for now. Kept at whole seconds, UTC.</summary>
    public DateTimeOffset? CreatedUtc { get; init; }

    /// <summary>Extended attributes to set on the snapshot (SPDK's <c>xattrs</c> of <c>bdev_lvol_snapshot</c>).</summary>
    public IReadOnlyDictionary<string, byte[]>? Xattrs { get; init; }
}

/// <summary>How to create a store.</summary>
public sealed record LvolStoreOptions
{
    private readonly int _clusterSize = ClusterLayout.DefaultClusterSize;

    /// <summary>The cluster size: a power of two from 4 KiB to 64 MiB. Default 1 MiB, as Longhorn uses.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a valid cluster size.</exception>
    public int ClusterSize
    {
        get => _clusterSize;
        init
        {
            ClusterLayout.ValidateClusterSize(value);
            _clusterSize = value;
        }
    }

    /// <summary>The store's name (SPDK's <c>lvs_name</c>); null for the file name without extension.</summary>
    public string? Name { get; init; }

    /// <summary>The most data clusters the store may hold; 0 for as many as the disk takes.</summary>
    public long CapacityClusters { get; init; }
}
