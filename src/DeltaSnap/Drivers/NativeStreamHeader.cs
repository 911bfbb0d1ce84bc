namespace DeltaSnap.Drivers;

/// <summary>
/// What a backend's native stream says about itself, read from its first bytes before anything is written: the
/// snapshot it carries and the one it is incremental from. <see cref="Volume.ReceiveAsync"/> checks it against the
/// target's lineage and the request with one decision table. A driver may derive from it to carry what it needs to
/// continue the receive (the bytes it consumed, the reader it used).
/// </summary>
public record NativeStreamHeader
{
    /// <summary>Creates the header of a stream that carries <paramref name="to"/>.</summary>
    /// <param name="to">The identity of the snapshot the stream carries, as the receiving side will see it compared.</param>
    /// <exception cref="ArgumentException"><paramref name="to"/> is empty.</exception>
    public NativeStreamHeader(SnapshotIdentity to)
    {
        if (to.IsEmpty)
        {
            ThrowHelper.ThrowArgument(nameof(to), "A native stream carries a snapshot identity.");
        }
        To = to;
    }

    /// <summary>
    /// The identity of the snapshot the stream carries. It is compared with the request's snapshot identity and
    /// received-from identity of the same kind (ZFS: the GUID; Btrfs: the sent snapshot's received UUID, else its UUID).
    /// </summary>
    public SnapshotIdentity To { get; }

    /// <summary>The name the stream gives the snapshot when the stream fixes it (Btrfs, RBD); null when the receiver names it (ZFS, lvol).</summary>
    public string? ToName { get; init; }

    /// <summary>The snapshot the stream is incremental from; null for a full stream.</summary>
    public SnapshotIdentity? From { get; init; }

    /// <summary>The identity the stream's base was itself received from, when the stream says (lvol, RBD).</summary>
    public SnapshotIdentity? FromReceivedFrom { get; init; }

    /// <summary>The base's name on the sending side, when the stream says (for messages only).</summary>
    public string? FromName { get; init; }

    /// <summary>Whether the stream is incremental (has a <see cref="From"/>).</summary>
    public bool IsIncremental => From is not null;
}
