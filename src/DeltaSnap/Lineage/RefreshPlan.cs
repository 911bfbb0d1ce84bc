namespace DeltaSnap.Lineage;

/// <summary>What a refresh has to do.</summary>
public enum RefreshKind
{
    /// <summary>The target already holds every source snapshot and no live state is to be sent.</summary>
    UpToDate,

    /// <summary>The target shares a snapshot with the source: send only what is newer.</summary>
    Incremental,

    /// <summary>The target has nothing to build on: send everything.</summary>
    Full,
}

/// <summary>Choices that change a refresh plan.</summary>
public sealed record RefreshPlanOptions
{
    /// <summary>
    /// Allow a full resend over a target that has snapshots but shares none with the source: its snapshots
    /// are deleted. Off by default: such a refresh is refused with <see cref="NoCommonBaseException"/>.
    /// </summary>
    public bool AllowFullResend { get; init; }

    /// <summary>Keep target-only snapshots newer than the base instead of deleting them, where the backend allows (lxc/incus#2952).</summary>
    public bool KeepTargetOnlySnapshots { get; init; }

    /// <summary>Send only source snapshots newer than the newest snapshot on the target (Incus's <c>--refresh-exclude-older</c>).</summary>
    public bool OnlyNewerThanTargetLatest { get; init; }

    /// <summary>Refresh up to the latest source snapshot, without capturing the live state.</summary>
    public bool SnapshotsOnly { get; init; }
}

/// <summary>The steps of one refresh, decided from the two lineages before anything changes.</summary>
public sealed record RefreshPlan
{
    /// <summary>What kind of refresh this is.</summary>
    public required RefreshKind Kind { get; init; }

    /// <summary>The newest snapshot both sides hold (source side), or null for a full send.</summary>
    public SnapshotInfo? SourceBase { get; init; }

    /// <summary>The base's counterpart on the target, or null for a full send.</summary>
    public SnapshotInfo? TargetBase { get; init; }

    /// <summary>Target snapshots to delete before sending, newest first.</summary>
    public IReadOnlyList<SnapshotInfo> TargetSnapshotsToDelete { get; init; } = [];

    /// <summary>Whether to roll the target back to <see cref="TargetBase"/> before sending (its live state may have moved on).</summary>
    public bool RollBackTargetToBase { get; init; }

    /// <summary>The source snapshots to send, oldest first, each incremental from the one before it (the first from the base).</summary>
    public IReadOnlyList<SnapshotInfo> SnapshotsToSend { get; init; } = [];

    /// <summary>Whether to capture the source's live state in a temporary snapshot and send it last.</summary>
    public bool CaptureLiveState { get; init; }

    /// <summary>Leftover temporary snapshots of earlier refreshes on the source, to delete.</summary>
    public IReadOnlyList<SnapshotInfo> SourceLeftovers { get; init; } = [];

    /// <summary>Leftover temporary snapshots of earlier refreshes on the target, to delete.</summary>
    public IReadOnlyList<SnapshotInfo> TargetLeftovers { get; init; } = [];

    /// <summary>The snapshot the first send is incremental from, on the source (the base), or null for a full first send.</summary>
    public SnapshotInfo? FirstSendBase => SourceBase;
}
