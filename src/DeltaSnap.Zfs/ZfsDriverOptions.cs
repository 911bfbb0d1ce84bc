namespace DeltaSnap.Zfs;

/// <summary>How a <see cref="ZfsDriver"/> finds and treats its datasets.</summary>
public sealed record ZfsDriverOptions
{
    /// <summary>
    /// The dataset the driver's volumes live under, or null. With a root, volume names are relative to it
    /// (<c>vm1</c> is <c>ROOT/vm1</c>); without one, names are whole dataset names (<c>tank/vm1</c>).
    /// </summary>
    public string? Root { get; init; }

    /// <summary>The <c>zfs</c> program (a name on the PATH or a full path).</summary>
    public string ZfsProgram { get; init; } = "zfs";

    /// <summary>Whether zvols (block volumes) are available; null detects it (the ZFS kernel module is loaded).</summary>
    public bool? Zvols { get; init; }

    /// <summary>
    /// Protect the common base with a hold (<see cref="HoldTag"/>) on both sides where the installed ZFS has
    /// holds, so that pruning by other tools cannot remove it (default true).
    /// </summary>
    public bool ProtectBase { get; init; } = true;

    /// <summary>The hold tag that marks a protected base.</summary>
    public string HoldTag { get; init; } = "deltasnap-base";

    /// <summary>
    /// Where the ZFS has no <c>.zfs/snapshot</c> directory (zfs-fuse), give a snapshot's path through a read-only
    /// clone under <c>POOL/deltasnap-views</c>, destroyed with the snapshot (default true). When false, asking for
    /// a snapshot's path there throws <see cref="NotSupportedException"/>.
    /// </summary>
    public bool SnapshotViews { get; init; } = true;

    /// <summary>
    /// Turn <c>atime</c> off on datasets that receive streams (default true): with it on, merely reading a
    /// replica modifies it, and the next incremental receive needs a rollback first.
    /// </summary>
    public bool AtimeOffOnReceive { get; init; } = true;
}
