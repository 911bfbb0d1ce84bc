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
    /// How the common base is protected against pruning by other tools (default <see cref="ZfsBaseProtection.Hold"/>:
    /// a hold with <see cref="HoldTag"/> on both sides, where the installed ZFS has holds).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="ZfsBaseProtection"/>.</exception>
    public ZfsBaseProtection BaseProtection
    {
        get;
        init => field = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Not a base protection.");
    } = ZfsBaseProtection.Hold;

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

/// <summary>How a <see cref="ZfsDriver"/> protects the snapshot both sides share (the next incremental's base).</summary>
public enum ZfsBaseProtection
{
    /// <summary>
    /// Hold it (<c>zfs hold</c> with <see cref="ZfsDriverOptions.HoldTag"/>) on the source and the target, and release
    /// the tag from older snapshots: other tools cannot destroy it until DeltaSnap moves on. Costs a <c>zfs hold</c>
    /// and a <c>zfs release</c> per side and refresh, each waiting for a transaction group. Where the installed ZFS
    /// has no holds, nothing is protected.
    /// </summary>
    Hold,

    /// <summary>No protection: no hold or release commands run (as <c>syncoid</c> by default). A base pruned by another tool makes the next refresh a full one, or refused.</summary>
    None,
}
