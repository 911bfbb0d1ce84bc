using System.Diagnostics;
using DeltaSnap.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Replication;

/// <summary>The state of one refresh in progress: what it has done so far, so that cleanup knows what to undo.</summary>
internal sealed class RefreshRun(Volume source, Volume target, RefreshOptions options, IProgress<RefreshProgress>? progress, ILogger logger)
{
    private long _bytesRead;
    private long _bytesSent;
    private long _bytesWritten;
    private long _clustersCompared;
    private long _clustersCopied;

    public Volume Source { get; } = source;
    public Volume Target { get; } = target;
    public RefreshOptions Options { get; } = options;
    public IProgress<RefreshProgress>? Progress { get; } = progress;
    public ILogger Logger { get; } = logger;

    /// <summary>The newest target snapshot known complete: what the target is rolled back to on failure.</summary>
    public SnapshotInfo? LastCompleteOnTarget { get; set; }

    /// <summary>Whether the target's live state was written to, so that a failure must roll it back.</summary>
    public bool TargetLiveTouched { get; set; }

    /// <summary>The temporary snapshot taken on the source, if any.</summary>
    public string? SourceTemporary { get; set; }

    /// <summary>The temporary snapshot received on the target, if any.</summary>
    public string? TargetTemporary { get; set; }

    public List<string> SnapshotsSent { get; } = [];

    /// <summary>The checkpoint of an interrupted copy that the first checksum transfer continues (it takes it); null for none.</summary>
    public RefreshCheckpoint? Resume { get; set; }

    /// <summary>Whether the resumed copy must compare the whole volume (target snapshots were deleted, so the live state may differ from the base anywhere).</summary>
    public bool ResumeComparesEverything { get; set; }

    /// <summary>Whether this refresh continued a partial copy.</summary>
    public bool Resumed { get; set; }

    /// <summary>Whether a native transfer of this refresh wrote a checkpoint that is not deleted yet.</summary>
    public bool CheckpointedTransfer { get; set; }

    /// <summary>
    /// The temporary source snapshot that an existing native checkpoint names (a live-state capture whose stream is
    /// spooled): kept for the next refresh by the leftover removal and by cleanup after a failure; null for none.
    /// </summary>
    public string? CheckpointedSourceSnapshot { get; set; }

    /// <summary>The live-state capture of an interrupted refresh that this one sends again to continue its spooled stream; null for none.</summary>
    public SnapshotInfo? ResumedCapture { get; set; }

    /// <summary>The name of that capture once sending it began: a temporary snapshot of this refresh on both sides.</summary>
    public string? ResumedTemporary { get; set; }

    /// <summary>Whether the target received that capture (so it has it to delete).</summary>
    public bool ResumedTemporaryOnTarget { get; set; }

    /// <summary>Whether a failure left a checkpointed partial copy in the target's live state, which cleanup must keep for the next refresh.</summary>
    public bool KeepPartialLive { get; set; }

    public bool LiveStateSent { get; set; }

    /// <summary>
    /// Whether the route replaces the target's live tree whole at the end instead of writing into it (the rsync route to
    /// a target with <see cref="DriverCapabilities.StagedTrees"/>): then a refresh that sends anything needs no rollback
    /// first, and a failure leaves the live tree as it was.
    /// </summary>
    public bool TargetLiveReplacedWhole { get; set; }

    /// <summary>Bytes sent from the source to the target so far.</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Bytes written to the target so far.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Bytes read from the source and the target so far.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Clusters compared so far.</summary>
    public long ClustersCompared => Interlocked.Read(ref _clustersCompared);

    public void AddRead(long bytes) => Interlocked.Add(ref _bytesRead, bytes);

    public void AddSent(long bytes) => Interlocked.Add(ref _bytesSent, bytes);

    public void AddWritten(long bytes) => Interlocked.Add(ref _bytesWritten, bytes);

    public void AddClusters(long compared, long copied)
    {
        Interlocked.Add(ref _clustersCompared, compared);
        Interlocked.Add(ref _clustersCopied, copied);
    }

    public RefreshResult ToResult(RefreshRoute route, RefreshKind kind, TimeSpan duration) => new()
    {
        Route = route,
        Kind = kind,
        SnapshotsSent = SnapshotsSent.ToArray(),
        LiveStateSent = LiveStateSent,
        Resumed = Resumed,
        BytesRead = Interlocked.Read(ref _bytesRead),
        BytesSent = Interlocked.Read(ref _bytesSent),
        BytesWritten = Interlocked.Read(ref _bytesWritten),
        ClustersCompared = Interlocked.Read(ref _clustersCompared),
        ClustersCopied = Interlocked.Read(ref _clustersCopied),
        Duration = duration,
    };

    /// <summary>
    /// Removes the temporary snapshots that interrupted refreshes left behind on both sides (canonical/lxd#11194); what
    /// a driver's own interrupted operation left is <see cref="Volume.RemoveLeftoversAsync"/>'s.
    /// </summary>
    public async Task RemoveTemporaryLeftoversAsync(RefreshPlan plan, CancellationToken cancellationToken)
    {
        foreach (var leftover in plan.SourceLeftovers)
        {
            if (leftover.Name == CheckpointedSourceSnapshot)
            {
                continue;
            }
            Log.LeftoverRemoving(Logger, Source.Address, leftover.Name);
            await Source.DeleteSnapshotAsync(leftover.Name, cancellationToken).ConfigureAwait(false);
        }
        foreach (var leftover in plan.TargetLeftovers)
        {
            Log.LeftoverRemoving(Logger, Target.Address, leftover.Name);
            await Target.DeleteSnapshotAsync(leftover.Name, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes what the plan says and, when <paramref name="rollBack"/> and the plan ask for it, brings the target back to the base.</summary>
    public async Task PrepareTargetAsync(RefreshPlan plan, bool rollBack, CancellationToken cancellationToken)
    {
        LastCompleteOnTarget = plan.TargetBase;
        foreach (var doomed in plan.TargetSnapshotsToDelete)
        {
            await Target.DeleteSnapshotAsync(doomed.Name, cancellationToken).ConfigureAwait(false);
        }
        // A live state the backend knows equals the base (LiveStateComparison: one query) needs no rollback (a snapshot,
        // a clone or a copy on most backends).
        if (rollBack && plan.RollBackTargetToBase && plan.TargetBase is not null
            && !(TargetLiveReplacedWhole && (plan.SnapshotsToSend.Count > 0 || plan.CaptureLiveState))
            && !await Target.IsLiveStateUnchangedAsync(plan.TargetBase.Name, cancellationToken).ConfigureAwait(false))
        {
            await Target.RollbackAsync(plan.TargetBase.Name, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes the temporary snapshots on both sides after success, the two sides at once.</summary>
    public async Task DeleteTemporariesAsync(CancellationToken cancellationToken)
    {
        async Task DeleteOnTargetAsync(string name)
        {
            await Target.DeleteSnapshotAsync(name, cancellationToken).ConfigureAwait(false);
            TargetTemporary = null;
        }
        async Task DeleteOnSourceAsync(string name)
        {
            await Source.DeleteSnapshotAsync(name, cancellationToken).ConfigureAwait(false);
            SourceTemporary = null;
        }
        // Independent volumes: a failure on one side still lets the other finish; the first failure is reported and
        // the failure path retries whatever is left.
        await Task.WhenAll(
            TargetTemporary is { } t ? DeleteOnTargetAsync(t) : Task.CompletedTask,
            SourceTemporary is { } s ? DeleteOnSourceAsync(s) : Task.CompletedTask).ConfigureAwait(false);
        if (ResumedTemporary is { } r)
        {
            if (ResumedTemporaryOnTarget)
            {
                await Target.DeleteSnapshotAsync(r, cancellationToken).ConfigureAwait(false);
                ResumedTemporaryOnTarget = false;
            }
            await Source.DeleteSnapshotAsync(r, cancellationToken).ConfigureAwait(false);
            ResumedTemporary = null;
        }
    }

    /// <summary>
    /// Runs one step of the refresh in a span of its own named <paramref name="name"/> (a child of the refresh's span),
    /// tagged with the snapshot it handles and the bytes it moved, and marked failed when it throws.
    /// </summary>
    public async Task<T> StepAsync<T>(string name, string? snapshot, Func<Activity?, Task<T>> step)
    {
        using var activity = DeltaSnapActivities.Start(name);
        if (activity is null)
        {
            return await step(null).ConfigureAwait(false);
        }
        if (snapshot is not null)
        {
            activity.SetTag(DiagnosticNames.Snapshot, snapshot);
        }
        var (sent, written) = (BytesSent, BytesWritten);
        try
        {
            var result = await step(activity).ConfigureAwait(false);
            if (BytesSent != sent || BytesWritten != written)
            {
                activity.SetTag(DiagnosticNames.BytesSent, BytesSent - sent);
                activity.SetTag(DiagnosticNames.BytesWritten, BytesWritten - written);
            }
            return result;
        }
        catch (Exception e)
        {
            activity.SetError(e);
            throw;
        }
    }

    /// <inheritdoc cref="StepAsync{T}(string, string?, Func{Activity?, Task{T}})"/>
    public Task StepAsync(string name, string? snapshot, Func<Task> step) =>
        StepAsync<bool>(name, snapshot, async _ =>
        {
            await step().ConfigureAwait(false);
            return true;
        });

    /// <summary>
    /// After a failure: delete the temporary snapshots on both sides and, when the target's live state was
    /// written to, roll it back to its newest complete snapshot. Every step is tried; failures are logged, and
    /// recorded on the cleanup span, whose status is Error when one failed.
    /// </summary>
    public async Task CleanUpAfterFailureAsync()
    {
        using var activity = DeltaSnapActivities.Start(DiagnosticNames.CleanupSpan);
        activity?.SetTag(DiagnosticNames.AfterFailure, true);
        // Cleanup runs even when the refresh was cancelled, so it does not use the caller's token but its own limit.
        using var timeout = new CancellationTokenSource(Options.CleanupTimeout);
        var token = timeout.Token;
        if (TargetTemporary is { } t)
        {
            await TryAsync(activity, $"delete temporary snapshot {t} on the target", () => Target.DeleteSnapshotAsync(t, token)).ConfigureAwait(false);
        }
        if (ResumedTemporary is { } r && ResumedTemporaryOnTarget)
        {
            await TryAsync(activity, $"delete temporary snapshot {r} on the target", () => Target.DeleteSnapshotAsync(r, token)).ConfigureAwait(false);
        }
        // A capture whose spooled stream a checkpoint keeps stays for the next refresh to send again.
        foreach (var s in (string?[])[SourceTemporary, ResumedTemporary])
        {
            if (s is not null && s != CheckpointedSourceSnapshot)
            {
                await TryAsync(activity, $"delete temporary snapshot {s} on the source", () => Source.DeleteSnapshotAsync(s, token)).ConfigureAwait(false);
            }
        }
        if (KeepPartialLive)
        {
            Log.ResumeKept(Logger, Target.Address, BytesWritten);
        }
        else if (TargetLiveTouched && LastCompleteOnTarget is { } complete)
        {
            await TryAsync(activity, $"roll the target back to {complete.Name}", () => Target.RollbackAsync(complete.Name, token)).ConfigureAwait(false);
        }
    }

    private async Task TryAsync(Activity? activity, string action, Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.CleanupFailed(Logger, e, Target.Address, action);
            activity.SetError(e);
        }
    }
}
