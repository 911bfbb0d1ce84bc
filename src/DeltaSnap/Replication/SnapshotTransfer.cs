using DeltaSnap.Lineage;

namespace DeltaSnap.Replication;

/// <summary>Moves one snapshot at a time from the source to the target by one route.</summary>
internal abstract class SnapshotTransfer(RefreshRun run)
{
    /// <summary>The stage of <see cref="RefreshProgress"/> while a snapshot's data moves (the native and rsync routes).</summary>
    public const string SendingStage = "sending";

    /// <summary>What <see cref="RefreshProgress.Snapshot"/> says while the live state moves (not the temporary snapshot's name).</summary>
    public const string LiveStateLabel = "live state";

    protected RefreshRun Run { get; } = run;

    /// <summary>
    /// Sends <paramref name="snapshot"/>, incremental from <paramref name="previous"/> (whose counterpart on the
    /// target is <paramref name="previousOnTarget"/>), and returns the snapshot it created on the target.
    /// </summary>
    public abstract Task<SnapshotInfo> SendSnapshotAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, CancellationToken cancellationToken);

    /// <summary>Sends the source's temporary live-state snapshot and makes it the target's live state.</summary>
    public abstract Task SendLiveStateAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo live, CancellationToken cancellationToken);

    /// <summary>When no live state is sent: makes the target's live state equal to the last snapshot sent.</summary>
    public abstract Task FinishWithoutLiveStateAsync(SnapshotInfo lastOnTarget, CancellationToken cancellationToken);

    /// <summary>
    /// Whether the source's live state is best captured (its temporary snapshot taken and <see cref="Prefetch"/>ed) while
    /// the snapshots before it are sent rather than after them: the capture's commands then overlap the transfer.
    /// </summary>
    public virtual bool CapturesLiveStateEarly => false;

    /// <summary>
    /// Starts whatever the transfer of <paramref name="snapshot"/> will need from the source ahead of it (a route that
    /// needs nothing ignores it); the task completes when that is ready or failed (it never throws: the transfer meets
    /// the failure when it gets there).
    /// </summary>
    public virtual Task Prefetch(string snapshot, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Waits for the work this transfer left running in the background or started ahead (<see cref="Prefetch"/>) and
    /// gives back what it exposed: called before the temporary snapshots are deleted, after success and after a failure.
    /// Never throws (failures are logged).
    /// </summary>
    public virtual Task FinishAsync() => Task.CompletedTask;
}
