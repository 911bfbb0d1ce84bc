using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Replication;

/// <summary>
/// The route for file system volumes of different backends: each snapshot's tree is made consistent on the
/// target's live tree by a <see cref="TreeSynchronizer"/>, then the target snapshot is taken, recording which
/// source snapshot it was made from so that the next refresh finds the common base by identity. A target that receives
/// trees aside (StagedTrees: a dir: volume without reflinks) gets each snapshot synchronized straight into a fresh
/// directory that hard-links the unchanged files of its newest snapshot, and its live tree replaced whole at the end.
/// </summary>
/// <remarks>
/// <para>
/// Exposing a source snapshot's tree can take several backend commands (ZFS without <c>.zfs/snapshot</c> clones and
/// mounts a view, and destroys it afterwards): the first snapshot's tree is exposed while the target prepares, the live
/// state is captured and exposed while the snapshots before it are synchronized (on a source with cheap copy-on-write
/// snapshots; after the first snapshot's tree is exposed, so that two commands never change the source dataset at once);
/// <see cref="FinishAsync"/> waits for all of it and releases what was exposed and not used before the temporary
/// snapshots are deleted.
/// </para>
/// A volume on another machine (<see cref="DriverCapabilities.RemoteTrees"/>) has no local path: the synchronizer then
/// runs its client half here and its server half there, through the volume (push or pull). A target that receives trees
/// aside does so on either machine: pulled into a local staging directory, or pushed into one on the server
/// (<see cref="Volume.ReceiveTreeServerAsync"/>). Two remote volumes (a relay) are refused before anything changes: the
/// synchronizer's two halves would both run elsewhere.
/// </remarks>
internal sealed class TreeTransfer : SnapshotTransfer
{
    private const string SynchronizingStage = "synchronizing";

    private readonly TreeSynchronizer _synchronizer;

    /// <summary>Source snapshot paths being exposed ahead of their synchronization, by snapshot name.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task<string>> _prefetched = new(StringComparer.Ordinal);

    /// <summary>Releases of source snapshot paths left running while the refresh goes on.</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<Task> _releases = new();

    public TreeTransfer(RefreshRun run, TreeSynchronizer synchronizer)
        : base(run)
    {
        _synchronizer = synchronizer;
        if (run.Source.Driver.Has(DriverCapabilities.RemoteTrees) && run.Target.Driver.Has(DriverCapabilities.RemoteTrees))
        {
            throw new NotSupportedException(
                $"Refreshing {run.Target.Address} from {run.Source.Address} needs the rsync route between two other machines: run the refresh on one of them.");
        }
        run.TargetLiveReplacedWhole = Staged || StagedThere;
    }

    public override async Task<SnapshotInfo> SendSnapshotAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        var options = new SnapshotCreateOptions { CreatedUtc = snapshot.CreatedUtc, ReceivedFrom = snapshot.ReceivedFrom ?? snapshot.Identity };
        long bytes;
        SnapshotInfo created;
        if (StagedThere)
        {
            var result = await PushAsideAsync(snapshot, snapshot.Name, snapshot.Name, options, cancellationToken).ConfigureAwait(false);
            bytes = Count(result);
            created = result.ReceivedSnapshot
                ?? throw new InvalidOperationException($"{Run.Target.Address} received {snapshot.Name} aside but named no snapshot.");
        }
        else if (Staged)
        {
            // One synchronization straight into the new snapshot, its unchanged files hard-linked from the previous one.
            bytes = 0;
            created = (await Run.Target.ReceiveTreeAsync(snapshot.Name, options,
                async (staging, token) => bytes = await SynchronizeAsync(snapshot, snapshot.Name, staging.Directory, staging.LinkDirectory, token).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false))!;
        }
        else
        {
            bytes = await SynchronizeIntoLiveAsync(snapshot, snapshot.Name, cancellationToken).ConfigureAwait(false);
            created = await Run.Target.CreateSnapshotAsync(snapshot.Name, options, cancellationToken).ConfigureAwait(false);
        }
        Diagnostics.Log.SnapshotSent(Run.Logger, Run.Target.Address, snapshot.Name, bytes);
        return created;
    }

    public override Task SendLiveStateAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo live, CancellationToken cancellationToken) =>
        StagedThere
            ? PushLiveStateAsync(live, cancellationToken)
        : Staged
            // The new live tree is made aside and replaces the old one only when complete: nothing to roll back on failure.
            ? Run.Target.ReceiveTreeAsync(null, null,
                (staging, token) => SynchronizeAsync(live, LiveStateLabel, staging.Directory, staging.LinkDirectory, token), cancellationToken)
            : SynchronizeIntoLiveAsync(live, LiveStateLabel, cancellationToken);

    private async Task PushLiveStateAsync(SnapshotInfo live, CancellationToken cancellationToken) =>
        Count(await PushAsideAsync(live, LiveStateLabel, null, null, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// In place, the target's live tree was synchronized and then snapshotted: it already is the last snapshot. Staged,
    /// the snapshots were received aside, so the live tree is made the last one now.
    /// </summary>
    public override Task FinishWithoutLiveStateAsync(SnapshotInfo lastOnTarget, CancellationToken cancellationToken) =>
        Staged || StagedThere ? Run.Target.PromoteAsync(lastOnTarget.Name, cancellationToken) : Task.CompletedTask;

    /// <summary>On a local source whose snapshots are cheap (copy-on-write): a tree copy (a <c>dir:</c> snapshot without reflinks) would compete with the transfer for the disk.</summary>
    public override bool CapturesLiveStateEarly =>
        !Run.Source.Driver.Has(DriverCapabilities.RemoteTrees) && Run.Source.Driver.Has(DriverCapabilities.CopyOnWriteTarget);

    /// <inheritdoc />
    public override Task Prefetch(string snapshot, CancellationToken cancellationToken)
    {
        if (Run.Source.Driver.Has(DriverCapabilities.RemoteTrees))
        {
            return Task.CompletedTask;
        }
        var opening = _prefetched.GetOrAdd(snapshot, name => Run.Source.GetPathAsync(name, cancellationToken));
        return opening.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <inheritdoc />
    public override async Task FinishAsync()
    {
        foreach (var snapshot in _prefetched.Keys)
        {
            if (_prefetched.TryRemove(snapshot, out var opening))
            {
                try
                {
                    await opening.ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // Never used; whatever it exposed before failing is released below.
                }
                Release(snapshot);
            }
        }
        while (_releases.TryDequeue(out var release))
        {
            await release.ConfigureAwait(false); // logs its own failure
        }
    }

    /// <summary>
    /// Whether the target receives each tree aside (<see cref="DriverCapabilities.StagedTrees"/>) rather than in its live
    /// tree: a target on this machine, from a source here or pulled from another machine.
    /// </summary>
    private bool Staged =>
        Run.Target.Driver.Has(DriverCapabilities.StagedTrees) && !Run.Target.Driver.Has(DriverCapabilities.RemoteTrees);

    /// <summary>
    /// Whether a target on another machine receives each tree aside (its server has a staged receive,
    /// <see cref="Volume.ReceiveTreeServerAsync"/>), pushed from a source here.
    /// </summary>
    private bool StagedThere =>
        Run.Target.Driver.Has(DriverCapabilities.StagedTrees) && Run.Target.Driver.Has(DriverCapabilities.RemoteTrees)
        && !Run.Source.Driver.Has(DriverCapabilities.RemoteTrees);

    private async Task<long> SynchronizeIntoLiveAsync(SnapshotInfo snapshot, string label, CancellationToken cancellationToken)
    {
        if (Run.Source.Driver.Has(DriverCapabilities.RemoteTrees) || Run.Target.Driver.Has(DriverCapabilities.RemoteTrees))
        {
            return Count(await SynchronizeRemoteAsync(snapshot, label, cancellationToken).ConfigureAwait(false));
        }
        var targetPath = await Run.Target.GetPathAsync(null, cancellationToken).ConfigureAwait(false);
        Run.TargetLiveTouched = true;
        return await SynchronizeAsync(snapshot, label, targetPath, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes the local <paramref name="targetPath"/> equal to the source snapshot's tree (the source here, or pulled).</summary>
    private async Task<long> SynchronizeAsync(SnapshotInfo snapshot, string label, string targetPath, string? linkDirectory, CancellationToken cancellationToken)
    {
        if (Run.Source.Driver.Has(DriverCapabilities.RemoteTrees))
        {
            return Count(await PullAsync(snapshot, label, targetPath, linkDirectory, cancellationToken).ConfigureAwait(false));
        }
        TreeSyncResult result;
        try
        {
            var sourcePath = await SourcePathAsync(snapshot.Name, cancellationToken).ConfigureAwait(false);
            Run.Progress?.Report(new RefreshProgress(SynchronizingStage, label, 0, 0));
            result = await _synchronizer.SynchronizeAsync(new TreeSyncRequest
            {
                SourceDirectory = sourcePath,
                TargetDirectory = targetPath,
                LinkDirectory = linkDirectory,
                TargetIsCopyOnWrite = Run.Target.Driver.Has(DriverCapabilities.CopyOnWriteTarget),
                AllowVanishedFiles = Run.Options.AllowVanishedFiles,
                Progress = ProgressMapping.Map(Run.Progress, (long done) => new RefreshProgress(SynchronizingStage, label, done, 0)),
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // A view mounted to expose the snapshot (ZFS without .zfs/snapshot) is not left behind, even after a failure.
            // Released before the next transfer reads the source: on zfs-fuse a view destroyed while another tree is read
            // stayed busy past the retries under load (measured: the refresh failed and left its temporary snapshot).
            await ReleaseAsync(snapshot.Name).ConfigureAwait(false);
        }
        return Count(result);
    }

    /// <summary>The source snapshot's path: the one exposed ahead (<see cref="Prefetch"/>) or exposed now.</summary>
    private Task<string> SourcePathAsync(string snapshot, CancellationToken cancellationToken) =>
        _prefetched.TryRemove(snapshot, out var opening) ? opening : Run.Source.GetPathAsync(snapshot, cancellationToken);

    private long Count(TreeSyncResult result)
    {
        Run.AddSent(result.BytesSent);
        Run.AddWritten(result.LiteralBytes);
        Run.AddClusters(0, result.FilesTransferred);
        return result.BytesSent;
    }

    /// <summary>Pull (the source is remote: its snapshot is read there) or push (the target is: its live tree is written there), into the target's live tree.</summary>
    private async Task<TreeSyncResult> SynchronizeRemoteAsync(SnapshotInfo snapshot, string label, CancellationToken cancellationToken)
    {
        if (Run.Source.Driver.Has(DriverCapabilities.RemoteTrees))
        {
            var livePath = await Run.Target.GetPathAsync(null, cancellationToken).ConfigureAwait(false);
            Run.TargetLiveTouched = true;
            return await PullAsync(snapshot, label, livePath, linkDirectory: null, cancellationToken).ConfigureAwait(false);
        }
        Run.TargetLiveTouched = true;
        return await PushAsync(snapshot, label, sourcePath => new RemoteTreeSyncRequest
        {
            LocalDirectory = sourcePath,
            RemoteVolume = Run.Target,
            TargetIsCopyOnWrite = Run.Target.Driver.Has(DriverCapabilities.CopyOnWriteTarget),
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Pushes the local source snapshot's tree to the remote target, which receives it aside as
    /// <paramref name="targetSnapshot"/> (or, when null, its live tree) and replaces nothing until it is complete.
    /// </summary>
    private Task<TreeSyncResult> PushAsideAsync(SnapshotInfo snapshot, string label, string? targetSnapshot, SnapshotCreateOptions? options, CancellationToken cancellationToken) =>
        PushAsync(snapshot, label, sourcePath => new RemoteTreeSyncRequest
        {
            LocalDirectory = sourcePath,
            RemoteVolume = Run.Target,
            RemoteReceivesAside = true,
            RemoteSnapshot = targetSnapshot,
            SnapshotOptions = options,
        }, cancellationToken);

    /// <summary>Runs the request <paramref name="request"/> makes of the local source snapshot's tree, and releases that tree after.</summary>
    private async Task<TreeSyncResult> PushAsync(SnapshotInfo snapshot, string label, Func<string, RemoteTreeSyncRequest> request, CancellationToken cancellationToken)
    {
        try
        {
            var sourcePath = await SourcePathAsync(snapshot.Name, cancellationToken).ConfigureAwait(false);
            Run.Progress?.Report(new RefreshProgress(SynchronizingStage, label, 0, 0));
            return await _synchronizer.SynchronizeRemoteAsync(request(sourcePath) with { AllowVanishedFiles = Run.Options.AllowVanishedFiles }, cancellationToken)
                .ConfigureAwait(false);
        }
        finally
        {
            await ReleaseAsync(snapshot.Name).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Makes the local <paramref name="targetPath"/> (the live tree, or a staging directory with the newest snapshot as
    /// <paramref name="linkDirectory"/>) equal to the remote source's snapshot. The remote side releases its own snapshot
    /// view when its server half ends.
    /// </summary>
    private Task<TreeSyncResult> PullAsync(SnapshotInfo snapshot, string label, string targetPath, string? linkDirectory, CancellationToken cancellationToken)
    {
        Run.Progress?.Report(new RefreshProgress(SynchronizingStage, label, 0, 0));
        return _synchronizer.SynchronizeRemoteAsync(new RemoteTreeSyncRequest
        {
            LocalDirectory = targetPath,
            LinkDirectory = linkDirectory,
            RemoteVolume = Run.Source,
            RemoteIsSource = true,
            RemoteSnapshot = snapshot.Name,
            TargetIsCopyOnWrite = Run.Target.Driver.Has(DriverCapabilities.CopyOnWriteTarget),
            AllowVanishedFiles = Run.Options.AllowVanishedFiles,
        }, cancellationToken);
    }

    /// <summary>Starts releasing the source snapshot's path; <see cref="FinishAsync"/> waits for it.</summary>
    private void Release(string snapshot) => _releases.Enqueue(ReleaseAsync(snapshot));

    private async Task ReleaseAsync(string snapshot)
    {
        // Not the caller's token: a cancelled refresh still releases, within the cleanup limit.
        using var timeout = new CancellationTokenSource(Run.Options.CleanupTimeout);
        try
        {
            await Run.Source.ReleasePathAsync(snapshot, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Diagnostics.Log.CleanupFailed(Run.Logger, e, Run.Source.Address, $"release the path of snapshot {snapshot}");
        }
    }
}
