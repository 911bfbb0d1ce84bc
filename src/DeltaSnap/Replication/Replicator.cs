using System.Diagnostics;
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
public sealed class Replicator
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;

    /// <summary>Creates a replicator.</summary>
    public Replicator(ILoggerFactory? loggerFactory = null)
    {
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<Replicator>();
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
    /// <exception cref="NoCommonBaseException">The refresh would be refused.</exception>
    /// <exception cref="NotSupportedException">No route joins the two volumes.</exception>
    public async Task<(RefreshPlan Plan, RefreshRoute Route)> PlanAsync(Volume source, Volume target, RefreshOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        options ??= new RefreshOptions();
        var route = ChooseRoute(source, target, options, TreeSynchronizer);
        var sourceLineage = await source.GetLineageAsync(cancellationToken).ConfigureAwait(false);
        var targetLineage = await target.GetLineageAsync(cancellationToken).ConfigureAwait(false);
        var plan = RefreshPlanner.Plan(sourceLineage, targetLineage, options.Plan, target.Driver.Has(DriverCapabilities.KeepSnapshotsAfterBase));
        Log.RefreshPlanned(_logger, source.Address, target.Address, plan.Kind.ToString(), plan.SourceBase?.Name, plan.SnapshotsToSend.Count, plan.TargetSnapshotsToDelete.Count);
        return (plan, route);
    }

    /// <summary>
    /// Refreshes <paramref name="target"/> from <paramref name="source"/>. On failure the temporary snapshots are
    /// removed from both sides and the target is rolled back to its newest complete snapshot, then the
    /// exception propagates; a later refresh picks up from there.
    /// </summary>
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
        options ??= new RefreshOptions();
        var stopwatch = Stopwatch.StartNew();
        var (plan, route) = await PlanAsync(source, target, options, cancellationToken).ConfigureAwait(false);
        Log.RefreshStarting(_logger, source.Address, target.Address, plan.Kind.ToString(), route.ToString(), plan.SnapshotsToSend.Count, plan.CaptureLiveState);

        var run = new RefreshRun(source, target, options, progress, _logger);
        try
        {
            await run.RemoveLeftoversAsync(plan, cancellationToken).ConfigureAwait(false);
            if (plan.Kind == RefreshKind.UpToDate)
            {
                return new RefreshResult { Route = RefreshRoute.None, Kind = plan.Kind, Duration = stopwatch.Elapsed };
            }
            SnapshotTransfer transfer = route switch
            {
                RefreshRoute.NativeStream => new NativeStreamTransfer(run),
                RefreshRoute.Rsync => new TreeTransfer(run, TreeSynchronizer!),
                _ => new ChecksumTransfer(run),
            };
            // A receiver that restores the base itself makes the replicator's own rollback a second round trip.
            var receiverRestoresBase = route == RefreshRoute.NativeStream && target.Driver.Has(DriverCapabilities.NativeReceiveRestoresBase);
            await run.PrepareTargetAsync(plan, rollBack: !receiverRestoresBase, cancellationToken).ConfigureAwait(false);

            var previous = plan.SourceBase;
            var previousOnTarget = plan.TargetBase;
            foreach (var snapshot in plan.SnapshotsToSend)
            {
                progress?.Report(new RefreshProgress("sending", snapshot.Name, 0, 0));
                previousOnTarget = await transfer.SendSnapshotAsync(previous, previousOnTarget, snapshot, cancellationToken).ConfigureAwait(false);
                run.LastCompleteOnTarget = previousOnTarget;
                run.SnapshotsSent.Add(snapshot.Name);
                previous = snapshot;
            }
            if (plan.CaptureLiveState)
            {
                var name = TemporarySnapshot.NewName();
                run.SourceTemporary = name;
                var live = await source.CreateSnapshotAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
                progress?.Report(new RefreshProgress("sending", "live state", 0, 0));
                await transfer.SendLiveStateAsync(previous, previousOnTarget, live, cancellationToken).ConfigureAwait(false);
                run.LiveStateSent = true;
            }
            else if (run.SnapshotsSent.Count > 0)
            {
                await transfer.FinishWithoutLiveStateAsync(previousOnTarget!, cancellationToken).ConfigureAwait(false);
            }
            await run.DeleteTemporariesAsync(cancellationToken).ConfigureAwait(false);

            var result = run.ToResult(route, plan.Kind, stopwatch.Elapsed);
            DeltaSnapMetrics.BytesSent.Add(result.BytesSent);
            DeltaSnapMetrics.ClustersCompared.Add(result.ClustersCompared);
            DeltaSnapMetrics.Duration.Record(stopwatch.Elapsed.TotalSeconds);
            Log.RefreshCompleted(_logger, source.Address, target.Address, stopwatch.Elapsed.TotalSeconds, result.BytesSent, result.BytesWritten);
            return result;
        }
        catch (Exception e)
        {
            DeltaSnapMetrics.Failures.Add(1);
            Log.RefreshFailed(_logger, e, source.Address, target.Address);
            await run.CleanUpAfterFailureAsync().ConfigureAwait(false);
            throw;
        }
    }
}
