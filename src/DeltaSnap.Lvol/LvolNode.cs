namespace DeltaSnap.Lvol;

/// <summary>One lvol (a live volume, a clone or a snapshot) as the store holds it in memory.</summary>
internal sealed class LvolNode
{
    public LvolNode(Guid uuid, string name, long size)
    {
        Uuid = uuid;
        Name = name;
        Size = size;
    }

    public Guid Uuid { get; }

    public string Name { get; set; }

    public long Size { get; set; }

    public LvolNode? Parent { get; set; }

    /// <summary>Read-only: a snapshot.</summary>
    public bool IsSnapshot { get; set; }

    public bool IsThin { get; set; } = true;

    public DateTimeOffset CreatedUtc { get; set; }

    public Dictionary<string, byte[]> Xattrs { get; } = new(StringComparer.Ordinal);

    public ClusterMap Map { get; set; } = new();

    /// <summary>Devices open on this lvol; it cannot be deleted while any is.</summary>
    public int OpenDevices { get; set; }

    /// <summary>A long operation holding the lvol (SPDK's locked-op): a checksum registration.</summary>
    public string? BusyWith { get; set; }

    /// <summary>A shallow copy reading this lvol; it holds the lvol while its state is in progress.</summary>
    public DeltaSnap.Copy.ShallowCopyOperation? RunningCopy { get; set; }

    /// <summary>Cancels a running checksum registration (<c>bdev_lvol_stop_snapshot_checksum</c>).</summary>
    public CancellationTokenSource? ChecksumCancellation { get; set; }

    /// <summary>Serializes the slow write path (allocation, validity bits, read-modify-write of partial blocks).</summary>
    public SemaphoreSlim WriteGate { get; } = new(1, 1);

    public override string ToString() => Name;
}
