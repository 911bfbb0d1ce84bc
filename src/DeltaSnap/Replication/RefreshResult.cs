using DeltaSnap.Lineage;

namespace DeltaSnap.Replication;

/// <summary>How a refresh moves data.</summary>
public enum RefreshRoute
{
    /// <summary>Nothing had to move.</summary>
    None,

    /// <summary>The backend's own incremental stream (<c>zfs send -i</c>, <c>btrfs send -p</c>) inside DeltaSnap's framing.</summary>
    NativeStream,

    /// <summary>Per-cluster checksums with sub-cluster refinement and a shallow copy of what differs (block volumes).</summary>
    Checksum,

    /// <summary>rsync for file system volumes on different backends.</summary>
    Rsync,
}

/// <summary>What a refresh did.</summary>
public sealed record RefreshResult
{
    /// <summary>The route taken.</summary>
    public required RefreshRoute Route { get; init; }

    /// <summary>Up to date, incremental or full.</summary>
    public required RefreshKind Kind { get; init; }

    /// <summary>The snapshots sent, oldest first (the temporary live-state snapshot not included).</summary>
    public IReadOnlyList<string> SnapshotsSent { get; init; } = [];

    /// <summary>Whether the source's live state was sent through a temporary snapshot.</summary>
    public bool LiveStateSent { get; init; }

    /// <summary>Bytes read from the source and the target (planning, copying and verification).</summary>
    public long BytesRead { get; init; }

    /// <summary>Bytes that crossed from source to target (stream bytes, or delta bytes on the checksum route).</summary>
    public long BytesSent { get; init; }

    /// <summary>Bytes written to the target (unmaps not counted).</summary>
    public long BytesWritten { get; init; }

    /// <summary>Clusters whose checksums were compared (checksum route).</summary>
    public long ClustersCompared { get; init; }

    /// <summary>Clusters found different and copied, in whole or in part (checksum route).</summary>
    public long ClustersCopied { get; init; }

    /// <summary>Whether the refresh continued a partial copy that an interrupted refresh left (see <see cref="RefreshOptions.CheckpointDirectory"/>).</summary>
    public bool Resumed { get; init; }

    /// <summary>How long the refresh took.</summary>
    public TimeSpan Duration { get; init; }
}

/// <summary>Where a refresh is.</summary>
/// <param name="Stage">What it is doing: planning, cleanup, sending, verifying, promoting.</param>
/// <param name="Snapshot">The snapshot being sent, if any.</param>
/// <param name="BytesDone">Bytes moved so far in this stage.</param>
/// <param name="BytesTotal">Bytes this stage will move, when known (0 otherwise).</param>
public readonly record struct RefreshProgress(string Stage, string? Snapshot, long BytesDone, long BytesTotal);
