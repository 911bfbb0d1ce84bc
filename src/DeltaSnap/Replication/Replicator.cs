using System.Diagnostics;
using System.Diagnostics.Metrics;
using DeltaSnap.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Replication;

/// <summary>
/// Refreshes a target volume from a source volume, moving only what changed: the Incus refresh flow
/// (common base by identity, incremental snapshots in order, the live state through a temporary snapshot,
/// promotion, cleanup on success and on failure) over the best route the two backends share.
/// </summary>
/// <remarks>
/// Each refresh is a <c>deltasnap.refresh</c> span of the <see cref="DeltaSnapDiagnostics.ActivitySourceName"/>
/// activity source, with a child span per step, and is measured by the instruments of the
/// <see cref="DeltaSnapDiagnostics.MeterName"/> meter (see <c>docs/observability.md</c>).
/// </remarks>
public sealed class Replicator
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly DeltaSnapMetrics _metrics;

    /// <summary>Creates a replicator.</summary>
    /// <param name="loggerFactory">Where to log; null for nowhere.</param>
    /// <param name="meterFactory">
    /// Creates the <see cref="DeltaSnapDiagnostics.MeterName"/> meter (as dependency injection provides one); null to
    /// use a meter shared by every replicator made without one.
    /// </param>
    public Replicator(ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<Replicator>();
        _metrics = DeltaSnapMetrics.Create(meterFactory);
    }

    /// <summary>
    /// What makes a target tree equal to a source tree on the route for file system volumes of different backends
    /// (DeltaSnap.Rsync's <c>RsyncTreeSynchronizer</c>); null: that route is not available.
    /// </summary>
    public TreeSynchronizer? TreeSynchronizer { get; init; }

    /// <summary>
    /// The route a refresh between these two volumes takes: the native stream when both drivers have
    /// <see cref="DriverCapabilities.NativeStream"/> and declare the same <see cref="VolumeDriver.NativePayloadKind"/> (other
    /// than <see cref="Delta.DeltaStreamPayloadKind.Blocks"/>) and both volumes are of one kind; otherwise checksums for block
    /// volumes, and the tree synchronizer (rsync) for file system volumes.
    /// </summary>
    /// <param name="source">The source volume.</param>
    /// <param name="target">The target volume.</param>
    /// <param name="options">The refresh options (native streams may be turned off).</param>
    /// <param name="treeSynchronizer">The tree synchronizer a replicator has, if any: without one, file system volumes of different backends have no route.</param>
    /// <exception cref="NotSupportedException">No route joins the two volumes (file system volumes of different backends need a tree synchronizer; block and file system volumes cannot be mixed).</exception>
    public static RefreshRoute ChooseRoute(Volume source, Volume target, RefreshOptions? options = null, TreeSynchronizer? treeSynchronizer = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        // Native when both backends speak the same native stream, whatever their .NET types: a third-party driver can
        // receive zfs send streams. Blocks is no native kind (it is the checksum route's payload).
        if (options?.DisableNativeStreams != true
            && source.Driver.Has(DriverCapabilities.NativeStream)
            && target.Driver.Has(DriverCapabilities.NativeStream)
            && source.Driver.NativePayloadKind == target.Driver.NativePayloadKind
            && source.Driver.NativePayloadKind != Delta.DeltaStreamPayloadKind.Blocks
            && source.Kind == target.Kind)
        {
            return RefreshRoute.NativeStream;
        }
        if (source.Kind == VolumeKind.Block && target.Kind == VolumeKind.Block)
        {
            return RefreshRoute.Checksum;
        }
        if (source.Kind == VolumeKind.Filesystem && target.Kind == VolumeKind.Filesystem)
        {
            return treeSynchronizer is not null
                ? RefreshRoute.Rsync
                : throw new NotSupportedException(
                    $"Refreshing file system volumes of different backends ({source.Driver.Scheme} to {target.Driver.Scheme}) needs a tree synchronizer: "
                    + "set Replicator.TreeSynchronizer to DeltaSnap.Rsync's RsyncTreeSynchronizer.");
        }
        throw new NotSupportedException($"Cannot refresh a {target.Kind} volume ({target.Address}) from a {source.Kind} volume ({source.Address}).");
    }

    /// <summary>Plans a refresh without changing anything (a dry run).</summary>
    /// <exception cref="ArgumentNullException">A volume is null.</exception>
    /// <exception cref="NoCommonBaseException">The refresh would be refused.</exception>
    /// <exception cref="NotSupportedException">No route joins the two volumes.</exception>
    public async Task<(RefreshPlan Plan, RefreshRoute Route)> PlanAsync(Volume source, Volume target, RefreshOptions? options = null, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(source);
        ThrowHelper.ThrowIfNull(target);
        options ??= new RefreshOptions();
        using var activity = DeltaSnapActivities.Start(DiagnosticNames.PlanSpan);
        try
        {
            var route = ChooseRoute(source, target, options, TreeSynchronizer);
            // Both lineages at once: each is a backend round trip (a zfs or btrfs command, an RBD snapshot listing).
            var sourceReading = source.GetLineageAsync(cancellationToken);
            var targetReading = target.GetLineageAsync(cancellationToken);
            await Task.WhenAll(sourceReading, targetReading).ConfigureAwait(false);
            var (sourceLineage, targetLineage) = (await sourceReading.ConfigureAwait(false), await targetReading.ConfigureAwait(false));
            var plan = RefreshPlanner.Plan(sourceLineage, targetLineage, options.Plan, target.Driver.Has(DriverCapabilities.KeepSnapshotsAfterBase));
            plan = await SkipUnchangedLiveStateAsync(source, target, sourceLineage, plan, cancellationToken).ConfigureAwait(false);
            Log.RefreshPlanned(_logger, source.Address, target.Address, plan.Kind.ToString(), plan.SourceBase?.Name, plan.SnapshotsToSend.Count, plan.TargetSnapshotsToDelete.Count);
            activity?.SetTag(DiagnosticNames.Route, RouteName(route));
            activity?.SetTag(DiagnosticNames.Kind, KindName(plan.Kind));
            activity?.SetTag(DiagnosticNames.SnapshotCount, plan.SnapshotsToSend.Count);
            return (plan, route);
        }
        catch (Exception e)
        {
            activity.SetError(e);
            throw;
        }
    }

    /// <summary>
    /// Drops the temporary snapshot from a plan when the source's live state still equals the snapshot the target will
    /// end at (its newest) and the backend can tell (<see cref="DriverCapabilities.LiveStateComparison"/>): the last
    /// snapshot sent is then promoted instead. With nothing to send either, the refresh is up to date when the target's
    /// live state equals its base too, and otherwise only rolls the target back to it.
    /// </summary>
    private static async Task<RefreshPlan> SkipUnchangedLiveStateAsync(Volume source, Volume target, SnapshotLineage sourceLineage, RefreshPlan plan, CancellationToken cancellationToken)
    {
        if (!plan.CaptureLiveState || !source.Driver.Has(DriverCapabilities.LiveStateComparison))
        {
            return plan;
        }
        var newest = sourceLineage.WithoutTemporary().Latest;
        var last = plan.SnapshotsToSend.Count > 0 ? plan.SnapshotsToSend[^1] : plan.SourceBase;
        if (newest is null || last is null || newest.Identity != last.Identity)
        {
            return plan;
        }
        if (plan.SnapshotsToSend.Count > 0)
        {
            return await source.IsLiveStateUnchangedAsync(newest.Name, cancellationToken).ConfigureAwait(false)
                ? plan with { CaptureLiveState = false }
                : plan;
        }
        // Nothing to send: the target's live state must equal its base as well (asked at the same time).
        var sourceChecking = source.IsLiveStateUnchangedAsync(newest.Name, cancellationToken);
        var targetChecking = plan.TargetBase is { } targetBase ? target.IsLiveStateUnchangedAsync(targetBase.Name, cancellationToken) : Task.FromResult(false);
        await Task.WhenAll(sourceChecking, targetChecking).ConfigureAwait(false);
        if (!await sourceChecking.ConfigureAwait(false))
        {
            return plan;
        }
        return await targetChecking.ConfigureAwait(false) && plan.TargetSnapshotsToDelete.Count == 0
            ? plan with { Kind = RefreshKind.UpToDate, CaptureLiveState = false, RollBackTargetToBase = false }
            : plan with { CaptureLiveState = false };
    }

    /// <summary>
    /// Refreshes <paramref name="target"/> from <paramref name="source"/>. On failure the temporary snapshots are
    /// removed from both sides and the target is rolled back to its newest complete snapshot, then the
    /// exception propagates; a later refresh picks up from there.
    /// </summary>
    /// <exception cref="ArgumentNullException">A volume is null.</exception>
    /// <exception cref="NoCommonBaseException">Both sides have snapshots but share none (and a full resend was not allowed).</exception>
    /// <exception cref="NotSupportedException">No route joins the two volumes.</exception>
    /// <exception cref="DeltaSnapException">A backend or the transfer failed.</exception>
    public async Task<RefreshResult> RefreshAsync(
        Volume source,
        Volume target,
        RefreshOptions? options = null,
        IProgress<RefreshProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(source);
        ThrowHelper.ThrowIfNull(target);
        options ??= new RefreshOptions();
        var stopwatch = Stopwatch.StartNew();
        using var activity = DeltaSnapActivities.Start(DiagnosticNames.RefreshSpan);
        activity?.SetTag(DiagnosticNames.SourceAddress, source.Address);
        activity?.SetTag(DiagnosticNames.TargetAddress, target.Address);
        activity?.SetTag(DiagnosticNames.SourceScheme, source.Driver.Scheme);
        activity?.SetTag(DiagnosticNames.TargetScheme, target.Driver.Scheme);
        var tags = new TagList
        {
            { DiagnosticNames.SourceScheme, source.Driver.Scheme },
            { DiagnosticNames.TargetScheme, target.Driver.Scheme },
        };
        RefreshRun? run = null;
        IAsyncDisposable? targetLock = null;
        try
        {
            // Two refreshes of one target at once would each clean up what the other is writing. Held until the clean-up
            // after a failure is done too.
            targetLock = await target.LockForRefreshAsync(cancellationToken).ConfigureAwait(false);
            // What an interrupted operation left on the target goes first: a Btrfs promotion killed between its renames
            // left no live subvolume, which planning (the live-state comparison) would trip over.
            await target.RemoveLeftoversAsync(cancellationToken).ConfigureAwait(false);
            var (plan, route) = await PlanAsync(source, target, options, cancellationToken).ConfigureAwait(false);
            var taken = plan.Kind == RefreshKind.UpToDate ? RefreshRoute.None : route;
            tags.Add(DiagnosticNames.Route, RouteName(taken));
            activity?.SetTag(DiagnosticNames.Route, RouteName(taken));
            activity?.SetTag(DiagnosticNames.Kind, KindName(plan.Kind));
            Log.RefreshStarting(_logger, source.Address, target.Address, plan.Kind.ToString(), route.ToString(), plan.SnapshotsToSend.Count, plan.CaptureLiveState);

            run = new RefreshRun(source, target, options, progress, _logger);
            await RunAsync(run, plan, route, cancellationToken).ConfigureAwait(false);

            var result = run.ToResult(taken, plan.Kind, stopwatch.Elapsed);
            _metrics.RecordRefresh(tags, result.Duration, result.BytesSent, result.BytesWritten, result.ClustersCompared, errorType: null);
            activity?.SetTag(DiagnosticNames.BytesSent, result.BytesSent);
            activity?.SetTag(DiagnosticNames.BytesWritten, result.BytesWritten);
            activity?.SetTag(DiagnosticNames.BytesRead, result.BytesRead);
            if (taken != RefreshRoute.None)
            {
                Log.RefreshCompleted(_logger, source.Address, target.Address, stopwatch.Elapsed.TotalSeconds, result.BytesSent, result.BytesWritten);
            }
            return result;
        }
        catch (Exception e)
        {
            activity.SetError(e);
            if (run is not null)
            {
                Log.RefreshFailed(_logger, e, source.Address, target.Address);
                await run.CleanUpAfterFailureAsync().ConfigureAwait(false);
            }
            _metrics.RecordRefresh(tags, stopwatch.Elapsed, run?.BytesSent ?? 0, run?.BytesWritten ?? 0, run?.ClustersCompared ?? 0, DiagnosticNames.ErrorTypeOf(e));
            throw;
        }
        finally
        {
            if (targetLock is not null)
            {
                await targetLock.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The steps of a refresh after planning, each in a span of its own.</summary>
    private async Task RunAsync(RefreshRun run, RefreshPlan plan, RefreshRoute route, CancellationToken cancellationToken)
    {
        var (source, target, progress) = (run.Source, run.Target, run.Progress);
        if (plan.Kind == RefreshKind.UpToDate)
        {
            await run.StepAsync(DiagnosticNames.PrepareSpan, null, () => run.RemoveTemporaryLeftoversAsync(plan, cancellationToken)).ConfigureAwait(false);
            return;
        }
        SnapshotTransfer transfer = route switch
        {
            RefreshRoute.NativeStream => new NativeStreamTransfer(run),
            RefreshRoute.Rsync => new TreeTransfer(run, TreeSynchronizer!),
            _ => new ChecksumTransfer(run),
        };
        var liveName = TemporarySnapshot.NewName();
        Task<SnapshotInfo>? capturing = null;
        // Stops an early capture that has not begun when the refresh fails first.
        using var captureStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            // The first snapshot's tree (a route that reads trees) is exposed while the target prepares.
            var exposing = plan.SnapshotsToSend.Count > 0 ? transfer.Prefetch(plan.SnapshotsToSend[0].Name, cancellationToken) : Task.CompletedTask;
            // A receiver that restores the base itself, or never reads the live state (the promotion replaces it), makes
            // the replicator's own rollback wasted work and a round trip. (Nothing is received when the plan neither sends
            // snapshots nor captures the live state: then roll back here.)
            var receiverRestoresBase = route == RefreshRoute.NativeStream
                && (target.Driver.Has(DriverCapabilities.NativeReceiveRestoresBase) || target.Driver.Has(DriverCapabilities.NativeReceiveLeavesLiveState))
                && (plan.SnapshotsToSend.Count > 0 || plan.CaptureLiveState);
            await run.StepAsync(DiagnosticNames.PrepareSpan, null, async () =>
            {
                // The checkpoint first: a live-state capture whose spooled stream it continues is no leftover to remove.
                if (run.Options.CheckpointDirectory is { } directory)
                {
                    run.Resume = await FindResumeAsync(run, plan, route, directory, cancellationToken).ConfigureAwait(false);
                    run.ResumeComparesEverything = run.Resume is not null && plan.TargetSnapshotsToDelete.Count > 0;
                }
                await run.RemoveTemporaryLeftoversAsync(plan, cancellationToken).ConfigureAwait(false);
                // A resumed checksum-route copy continues from the target's live state: rolling it back would throw the
                // partial copy away. (A spooled native stream has not touched the target.)
                var keepLive = run.Resume is { Route: RefreshCheckpoint.ChecksumRoute };
                await run.PrepareTargetAsync(plan, rollBack: !receiverRestoresBase && !keepLive, cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
            if (plan.CaptureLiveState && run.ResumedCapture is null && plan.SnapshotsToSend.Count > 0 && transfer.CapturesLiveStateEarly)
            {
                // Taken (after the leftovers went, and once the first tree is exposed) and exposed while the snapshots are sent.
                capturing = CaptureLiveStateAsync(run, transfer, liveName, exposing, captureStop.Token);
            }

            var previous = plan.SourceBase;
            var previousOnTarget = plan.TargetBase;
            foreach (var snapshot in plan.SnapshotsToSend)
            {
                progress?.Report(new RefreshProgress(SnapshotTransfer.SendingStage, snapshot.Name, 0, 0));
                var sent = await run.StepAsync(DiagnosticNames.SendSnapshotSpan, snapshot.Name,
                    _ => transfer.SendSnapshotAsync(previous, previousOnTarget, snapshot, cancellationToken)).ConfigureAwait(false);
                previousOnTarget = sent;
                run.LastCompleteOnTarget = previousOnTarget;
                run.SnapshotsSent.Add(snapshot.Name);
                previous = snapshot;
            }
            if (plan.CaptureLiveState && run.ResumedCapture is { } capture && transfer is NativeStreamTransfer native)
            {
                // The capture of the interrupted refresh goes first, continuing its spooled stream; then the live state as it
                // is now, incremental from it (a small step), unless it did not move since.
                await run.StepAsync(DiagnosticNames.LiveStateSpan, capture.Name, async () =>
                {
                    progress?.Report(new RefreshProgress("sending", "live state", 0, 0));
                    var captureOnTarget = await native.ResendCaptureAsync(previous, previousOnTarget, capture, cancellationToken).ConfigureAwait(false);
                    if (await source.IsLiveStateUnchangedAsync(capture.Name, cancellationToken).ConfigureAwait(false))
                    {
                        await native.PromoteCaptureAsync(capture.Name, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        var name = TemporarySnapshot.NewName();
                        run.SourceTemporary = name;
                        var live = await source.CreateSnapshotAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
                        await native.SendLiveStateAsync(capture, captureOnTarget, live, cancellationToken).ConfigureAwait(false);
                    }
                    run.LiveStateSent = true;
                }).ConfigureAwait(false);
            }
            else if (plan.CaptureLiveState)
            {
                await run.StepAsync(DiagnosticNames.LiveStateSpan, liveName, async () =>
                {
                    var live = await (capturing ?? CaptureLiveStateAsync(run, transfer: null, liveName, Task.CompletedTask, cancellationToken)).ConfigureAwait(false);
                    progress?.Report(new RefreshProgress(SnapshotTransfer.SendingStage, SnapshotTransfer.LiveStateLabel, 0, 0));
                    await transfer.SendLiveStateAsync(previous, previousOnTarget, live, cancellationToken).ConfigureAwait(false);
                    run.LiveStateSent = true;
                }).ConfigureAwait(false);
            }
            else if (run.SnapshotsSent.Count > 0)
            {
                await transfer.FinishWithoutLiveStateAsync(previousOnTarget!, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            // Nothing the transfer started may outlive it: the capture (whose snapshot cleanup deletes) and the exposed trees.
            if (capturing is not null)
            {
                await captureStop.CancelAsync().ConfigureAwait(false);
                await ObserveAsync(capturing).ConfigureAwait(false);
            }
            await transfer.FinishAsync().ConfigureAwait(false);
            throw;
        }
        await transfer.FinishAsync().ConfigureAwait(false);
        await run.StepAsync(DiagnosticNames.CleanupSpan, null, () => run.DeleteTemporariesAsync(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>
    /// After <paramref name="after"/>, takes the source's temporary snapshot of its live state and, given a transfer,
    /// starts exposing it (<see cref="SnapshotTransfer.Prefetch"/>).
    /// </summary>
    private static async Task<SnapshotInfo> CaptureLiveStateAsync(RefreshRun run, SnapshotTransfer? transfer, string name, Task after, CancellationToken cancellationToken)
    {
        await after.ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        run.SourceTemporary = name; // deleted by cleanup from now on
        var live = await run.Source.CreateSnapshotAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (transfer is not null)
        {
            _ = transfer.Prefetch(name, cancellationToken);
        }
        return live;
    }

    /// <summary>Waits for a task whose result is no longer wanted (the refresh is failing already).</summary>
    private static async Task ObserveAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The refresh fails for its own reason; cleanup deletes what the task made.
        }
    }

    /// <summary>
    /// The target's resume checkpoint when the refresh can continue it: the same route and source, the checkpoint's base
    /// still the target's side of the common base, and on the native route the transfer it spooled still the first one
    /// the plan makes (its snapshots still on the source). Any other checkpoint is discarded with a warning that names
    /// why (never stuck, never a silent restart), as is every checkpoint when <see cref="RefreshOptions.AbortResume"/> is set.
    /// </summary>
    private async Task<RefreshCheckpoint?> FindResumeAsync(RefreshRun run, RefreshPlan plan, RefreshRoute route, string directory, CancellationToken cancellationToken)
    {
        var target = run.Target.Address;
        RefreshCheckpoint? checkpoint;
        try
        {
            checkpoint = await RefreshCheckpoint.LoadAsync(directory, target, cancellationToken).ConfigureAwait(false);
        }
        catch (DeltaSnapException e)
        {
            Log.ResumeDiscarded(_logger, target, e.Message);
            RefreshCheckpoint.Delete(directory, target);
            return null;
        }
        if (checkpoint is null)
        {
            // A spool without its checkpoint (killed between the two files' removals) is of no use.
            RefreshCheckpoint.Delete(directory, target);
            return null;
        }
        var native = checkpoint.Route == RefreshCheckpoint.NativeRoute;
        var resumes = native
            ? route == RefreshRoute.NativeStream && NativeStreamTransfer.Spools(run, plan.SourceBase)
            : route == RefreshRoute.Checksum;
        var baseNow = plan.TargetBase;
        string? reason = null;
        SnapshotInfo? capture = null;
        if (run.Options.AbortResume)
        {
            reason = "the refresh was asked to abort the resume";
        }
        else if (!resumes)
        {
            reason = $"it continues a copy by the {checkpoint.Route} route, but this refresh takes the {route} route"
                + (route == RefreshRoute.NativeStream ? ", which does not resume for these volumes" : "");
        }
        else if (!string.Equals(checkpoint.Source, run.Source.Address, StringComparison.Ordinal))
        {
            reason = $"it continues a copy from {checkpoint.Source}, not from {run.Source.Address}";
        }
        else if (!string.Equals(checkpoint.BaseIdentity, baseNow?.Identity.ToString(), StringComparison.Ordinal))
        {
            reason = checkpoint.BaseName is null
                ? $"it continues a full copy, but the target now shares {baseNow?.Name} with the source"
                : $"its base snapshot {checkpoint.BaseName} ({checkpoint.BaseIdentity}) is gone or no longer the common base (now {baseNow?.Name ?? "none: a full copy"})";
        }
        else if (native)
        {
            (reason, capture) = MatchNativeCheckpoint(checkpoint, plan);
        }
        if (reason is not null)
        {
            Log.ResumeDiscarded(_logger, target, reason);
            RefreshCheckpoint.Delete(directory, target);
            return null;
        }
        if (native)
        {
            run.ResumedCapture = capture;
            run.CheckpointedSourceSnapshot = capture?.Name;
            Log.NativeResumeFound(_logger, target, checkpoint.BaseName, checkpoint.SavedUtc, checkpoint.SpoolBytes, checkpoint.ToName);
        }
        else
        {
            Log.ResumeFound(_logger, target, checkpoint.BaseName, checkpoint.SavedUtc, checkpoint.BytesWritten, checkpoint.ToIsLiveState ? "the live state" : checkpoint.ToName);
        }
        return checkpoint;
    }

    /// <summary>
    /// Whether a native checkpoint's transfer is the plan's first: incremental from the plan's source base, towards the
    /// first snapshot to send, or towards the live-state capture it kept on the source when the plan sends only the
    /// live state. Returns why not (its snapshots are gone, or the plan sends something else first), or the capture.
    /// </summary>
    private static (string? Reason, SnapshotInfo? Capture) MatchNativeCheckpoint(RefreshCheckpoint checkpoint, RefreshPlan plan)
    {
        if (!string.Equals(checkpoint.SourceBaseIdentity, plan.SourceBase?.Identity.ToString(), StringComparison.Ordinal))
        {
            return ($"its stream is incremental from {checkpoint.SourceBaseName ?? "nothing (a full stream)"}, which is gone from the source or no longer the common base (now {plan.SourceBase?.Name ?? "none"})", null);
        }
        if (!checkpoint.ToIsLiveState)
        {
            var first = plan.SnapshotsToSend.Count > 0 ? plan.SnapshotsToSend[0] : null;
            if (string.Equals(first?.Identity.ToString(), checkpoint.ToIdentity, StringComparison.Ordinal))
            {
                return (null, null);
            }
            return plan.SnapshotsToSend.Any(s => string.Equals(s.Identity.ToString(), checkpoint.ToIdentity, StringComparison.Ordinal))
                ? ($"the source has a snapshot before {checkpoint.ToName} that goes first now", null)
                : ($"its snapshot {checkpoint.ToName} ({checkpoint.ToIdentity}) is gone from the source", null);
        }
        var capture = plan.SourceLeftovers.FirstOrDefault(s => s.Name == checkpoint.ToName && string.Equals(s.Identity.ToString(), checkpoint.ToIdentity, StringComparison.Ordinal));
        if (capture is null)
        {
            return ($"its live-state capture {checkpoint.ToName} ({checkpoint.ToIdentity}) is gone from the source", null);
        }
        if (plan.SnapshotsToSend.Count > 0)
        {
            return ($"the source has new snapshots since its live state was captured in {checkpoint.ToName}; they go first", null);
        }
        return plan.CaptureLiveState
            ? (null, capture)
            : ($"the refresh sends no live state (the source's is unchanged since {plan.SourceBase?.Name}, or only snapshots were asked for)", null);
    }

    /// <summary>The route as a tag value: lowercase, words joined by underscores.</summary>
    private static string RouteName(RefreshRoute route) => route switch
    {
        RefreshRoute.None => "none",
        RefreshRoute.NativeStream => "native_stream",
        RefreshRoute.Checksum => "checksum",
        RefreshRoute.Rsync => "rsync",
        _ => route.ToString().ToLowerInvariant(),
    };

    /// <summary>The plan's kind as a tag value.</summary>
    private static string KindName(RefreshKind kind) => kind switch
    {
        RefreshKind.UpToDate => "up_to_date",
        RefreshKind.Incremental => "incremental",
        RefreshKind.Full => "full",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
