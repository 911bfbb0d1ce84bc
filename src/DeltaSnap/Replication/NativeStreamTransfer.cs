using System.Buffers;
using System.IO.Pipelines;
using DeltaSnap.Delta;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Replication;

/// <summary>
/// The native route: the source backend's own incremental stream, piped with backpressure into the target backend's
/// receiver, which checks the stream's base before writing anything. The pipe is in this process (a remote volume's
/// session carries the native stream itself, docs/transport.md), so the stream is not wrapped in delta-stream frames
/// here: their CRCs would be written and checked again in the same memory, a pass over every byte each, and protect
/// nothing the backend's own stream and the session's transport do not (the lvol diff stream's and Btrfs's CRC-32Cs and
/// ZFS's checksums are checked where the stream is received; TLS authenticates every byte that crosses the wire). A
/// failed send fails the pipe, so the receiver never takes a cut stream for a whole one. With a checkpoint directory and
/// a source whose streams are reproducible (<see cref="DriverCapabilities.ReproducibleNativeStream"/>), the stream is
/// spooled into a file next to the checkpoint first and received from there once complete, so an interrupted transfer
/// continues after what was spooled (<see cref="Volume.SendAfterPrefixAsync"/>).
/// </summary>
internal sealed class NativeStreamTransfer(RefreshRun run) : SnapshotTransfer(run)
{
    public override async Task<SnapshotInfo> SendSnapshotAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        var (received, bytes) = await TransferAsync(previous, previousOnTarget, snapshot, liveState: false, cancellationToken).ConfigureAwait(false);
        // Complete: the received snapshot marks it (the next refresh has it as its base).
        DeleteCheckpoint();
        Diagnostics.Log.SnapshotSent(Run.Logger, Run.Target.Address, snapshot.Name, bytes);
        return received;
    }

    public override async Task SendLiveStateAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo live, CancellationToken cancellationToken)
    {
        // The target has the capture to delete once its receive begins (a spooled stream is received only when complete).
        await TransferAsync(previous, previousOnTarget, live, liveState: true, cancellationToken, receiving: () => Run.TargetTemporary = live.Name).ConfigureAwait(false);
        await PromoteCaptureAsync(live.Name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends again the live-state capture of an interrupted refresh (<paramref name="capture"/>, a temporary snapshot
    /// its checkpoint kept on the source), continuing its spooled stream; returns what the target received. The
    /// checkpoint stays until the live state is promoted (<see cref="PromoteCaptureAsync"/>, or a newer capture's
    /// <see cref="SendLiveStateAsync"/>), so a failure before then loses nothing spooled.
    /// </summary>
    public async Task<SnapshotInfo> ResendCaptureAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo capture, CancellationToken cancellationToken)
    {
        Run.ResumedTemporary = capture.Name;
        var (received, bytes) = await TransferAsync(previous, previousOnTarget, capture, liveState: true, cancellationToken).ConfigureAwait(false);
        Run.ResumedTemporaryOnTarget = true;
        Diagnostics.Log.SnapshotSent(Run.Logger, Run.Target.Address, capture.Name, bytes);
        return received;
    }

    /// <summary>Makes the received capture <paramref name="snapshot"/> the target's live state; its transfer's checkpoint is done with then.</summary>
    public async Task PromoteCaptureAsync(string snapshot, CancellationToken cancellationToken)
    {
        Run.TargetLiveTouched = true;
        await PromoteAsync(snapshot, cancellationToken).ConfigureAwait(false);
        DeleteCheckpoint();
    }

    public override Task FinishWithoutLiveStateAsync(SnapshotInfo lastOnTarget, CancellationToken cancellationToken)
    {
        Run.TargetLiveTouched = true;
        return PromoteAsync(lastOnTarget.Name, cancellationToken);
    }

    /// <summary>
    /// Whether the transfer of a stream incremental from <paramref name="previous"/> is spooled and checkpointed: a
    /// checkpoint directory, a source whose streams are reproducible, and a base that outlives the refresh (a stream from
    /// a temporary snapshot, the short step from a resent capture to a new one, is not worth a checkpoint).
    /// </summary>
    public static bool Spools(RefreshRun run, SnapshotInfo? previous) =>
        run.Options.CheckpointDirectory is not null
        && run.Source.Driver.Has(DriverCapabilities.ReproducibleNativeStream)
        && (previous is null || !TemporarySnapshot.IsTemporary(previous.Name));

    private void DeleteCheckpoint()
    {
        if (Run.Options.CheckpointDirectory is { } directory && Run.CheckpointedTransfer)
        {
            RefreshCheckpoint.Delete(directory, Run.Target.Address);
            Run.CheckpointedTransfer = false;
            Run.CheckpointedSourceSnapshot = null;
        }
    }

    private Task PromoteAsync(string snapshot, CancellationToken cancellationToken) =>
        Run.StepAsync(Diagnostics.DiagnosticNames.PromoteSpan, snapshot, () => Run.Target.PromoteAsync(snapshot, cancellationToken));

    /// <summary>Refuses a source whose native stream is not the kind the target receives (the replicator picks the native route only when they match).</summary>
    private void CheckPayloadKinds()
    {
        var sent = Run.Source.Driver.NativePayloadKind;
        if (sent != Run.Target.Driver.NativePayloadKind)
        {
            throw new DeltaStreamException($"The stream carries {sent}, but {Run.Target.Address} receives {Run.Target.Driver.NativePayloadKind}.");
        }
    }

    /// <summary>Receives <paramref name="native"/> into the target and checks that the receiver read all of it.</summary>
    private async Task<SnapshotInfo> ReceiveAllAsync(Stream native, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, CancellationToken token)
    {
        var request = new NativeReceiveRequest { Snapshot = snapshot, TargetBase = previousOnTarget };
        var info = await Run.Target.ReceiveAsync(native, request, token).ConfigureAwait(false);
        // Read on to the end, so the stream's end is checked even when the receiver stopped at its own end record.
        var rest = new byte[4096];
        long unread = 0;
        for (int n; (n = await native.ReadAsync(rest, token).ConfigureAwait(false)) > 0;)
        {
            unread += n;
        }
        if (unread > 0)
        {
            throw new DeltaStreamException($"{Run.Target.Address} finished receiving {snapshot.Name} with {unread} bytes of the stream unread.");
        }
        return info;
    }

    /// <summary>
    /// The size a native stream will roughly have, for progress: the ranges the source says changed, where it can tell
    /// (lvol, RBD); 0 (unknown) otherwise, or when nobody asked for progress. An estimate: the stream adds its framing
    /// and leaves out blocks whose content did not change.
    /// </summary>
    private async Task<long> EstimateAsync(SnapshotInfo? previous, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        if (Run.Progress is null || !Run.Source.Driver.Has(DriverCapabilities.ChangedRanges))
        {
            return 0;
        }
        try
        {
            return (await Run.Source.GetChangedRangesAsync(previous?.Name, snapshot.Name, cancellationToken).ConfigureAwait(false)).TotalLength;
        }
        catch (Exception e) when (e is DeltaSnapException or IOException or NotSupportedException)
        {
            return 0; // progress without a total; the send itself reports what is really wrong
        }
    }

    /// <summary>
    /// Moves one snapshot's native stream; returns the snapshot the target made and the bytes the source sent.
    /// <paramref name="receiving"/> is called when the target's receive is about to begin.
    /// </summary>
    private async Task<(SnapshotInfo Received, long Bytes)> TransferAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, bool liveState,
        CancellationToken cancellationToken, Action? receiving = null)
    {
        if (Spools(Run, previous))
        {
            return await TransferSpooledAsync(previous, previousOnTarget, snapshot, liveState, Run.Options.CheckpointDirectory!, receiving, cancellationToken).ConfigureAwait(false);
        }
        receiving?.Invoke();
        var (received, _, bytes) = await PipeAsync(previous, snapshot, liveState ? LiveStateLabel : snapshot.Name,
            async (destination, token) =>
            {
                await Run.Source.SendAsync(previous?.Name, snapshot.Name, destination, Run.Options.Native, token).ConfigureAwait(false);
                return true;
            },
            (native, token) => ReceiveAllAsync(native, previousOnTarget, snapshot, token),
            cancellationToken).ConfigureAwait(false);
        Run.AddSent(bytes);
        Run.AddRead(bytes);
        Run.AddWritten(bytes);
        return (received, bytes);
    }

    /// <summary>
    /// Runs <paramref name="send"/> (the source's side, writing the native stream) and <paramref name="receive"/> (the
    /// target's side, reading it) concurrently over an in-memory pipe; the first real failure of either is reported, not
    /// the cancellation it caused on the other side. The receiving side's stream is the pipe's own, so a receiver that
    /// copies it on (a remote volume's upload) takes the pipe's buffers as they are, without a copy in between.
    /// </summary>
    /// <returns>What the receiving side returned, what the sending side returned, and the native bytes sent.</returns>
    private async Task<(T Received, bool Sent, long Bytes)> PipeAsync<T>(SnapshotInfo? previous, SnapshotInfo snapshot, string label,
        Func<Stream, CancellationToken, Task<bool>> send, Func<Stream, CancellationToken, Task<T>> receive, CancellationToken cancellationToken)
    {
        CheckPayloadKinds();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = linked.Token;
        var pipe = NativeStreamPipe.NewPipe();
        var total = await EstimateAsync(previous, snapshot, token).ConfigureAwait(false);
        var progress = Run.Progress;
        progress?.Report(new RefreshProgress(SendingStage, label, 0, total));
        // The bytes are reported as the source writes them: with the pipe's backpressure, at most 16 MiB ahead of the receiver.
        var counter = new CountingPipeWriteStream(pipe.Writer,
            progress is null ? null : done => progress.Report(new RefreshProgress(SendingStage, label, done, total)));

        var sending = Task.Run(async () =>
        {
            try
            {
                var sent = await send(counter, token).ConfigureAwait(false);
                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
                return sent;
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e).ConfigureAwait(false);
                await linked.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }, token);

        var receiving = Task.Run(async () =>
        {
            try
            {
                var result = await receive(pipe.Reader.AsStream(leaveOpen: true), token).ConfigureAwait(false);
                await pipe.Reader.CompleteAsync().ConfigureAwait(false);
                return result;
            }
            catch (Exception e)
            {
                await pipe.Reader.CompleteAsync(e).ConfigureAwait(false);
                await linked.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }, token);

        try
        {
            await Task.WhenAll(sending, receiving).ConfigureAwait(false);
        }
        catch
        {
            // Report the first real failure, not the cancellation it caused on the other side.
            var failures = new Task[] { sending, receiving }.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).ToList();
            var primary = failures.FirstOrDefault(e => e is not OperationCanceledException) ?? failures.FirstOrDefault();
            if (primary is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(primary);
            }
            throw;
        }
        return (await receiving.ConfigureAwait(false), await sending.ConfigureAwait(false), counter.BytesWritten);
    }

    /// <summary>
    /// The spooled transfer: the stream goes into the spool file next to the checkpoint (synced and recorded with its
    /// length and running digest every checkpoint interval, and when the transfer fails), and is received from there
    /// once complete. A checkpoint of the same transfer makes the source send only what follows the spooled bytes, after
    /// checking their digest; a spool that is damaged, or that the source's stream does not begin with, is discarded with
    /// a warning and the stream is spooled from its start.
    /// </summary>
    private async Task<(SnapshotInfo Received, long Bytes)> TransferSpooledAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, bool liveState,
        string directory, Action? receiving, CancellationToken cancellationToken)
    {
        var checkpoint = new RefreshCheckpoint
        {
            Route = RefreshCheckpoint.NativeRoute,
            Source = Run.Source.Address,
            Target = Run.Target.Address,
            BaseName = previousOnTarget?.Name,
            BaseIdentity = previousOnTarget?.Identity.ToString(),
            SourceBaseName = previous?.Name,
            SourceBaseIdentity = previous?.Identity.ToString(),
            ToName = snapshot.Name,
            ToIdentity = snapshot.Identity.ToString(),
            ToIsLiveState = liveState,
        };
        var resume = TakeResume(checkpoint);
        Directory.CreateDirectory(directory);
        var spool = new NativeStreamSpool(RefreshCheckpoint.SpoolPathOf(directory, Run.Target.Address));
        await using (spool.ConfigureAwait(false))
        {
            if (resume is not null)
            {
                var damage = await spool.ContinueAsync(resume.SpoolBytes, resume.SpoolDigest, cancellationToken).ConfigureAwait(false);
                if (damage is not null)
                {
                    Diagnostics.Log.ResumeDiscarded(Run.Logger, Run.Target.Address, damage);
                }
            }
            else
            {
                await spool.DiscardAsync(cancellationToken).ConfigureAwait(false);
            }
            // Durable before the first byte is spooled; from here on the source snapshot the checkpoint names is kept.
            Run.CheckpointedTransfer = true;
            Run.CheckpointedSourceSnapshot = TemporarySnapshot.IsTemporary(snapshot.Name) ? snapshot.Name : null;
            await spool.SaveAsync(checkpoint, directory, complete: false, cancellationToken).ConfigureAwait(false);
            var resumedAt = spool.Length;
            long sent;
            try
            {
                var (matched, bytes) = await FetchAsync(previous, snapshot, liveState, spool, checkpoint, directory, cancellationToken).ConfigureAwait(false);
                sent = bytes;
                if (!matched)
                {
                    Diagnostics.Log.ResumeDiscarded(Run.Logger, Run.Target.Address,
                        $"the source's stream of {snapshot.Name} does not begin with the {resumedAt} bytes spooled in {spool.Path} (the snapshots changed, or the spool holds another stream)");
                    await spool.DiscardAsync(cancellationToken).ConfigureAwait(false);
                    await spool.SaveAsync(checkpoint, directory, complete: false, cancellationToken).ConfigureAwait(false);
                    resumedAt = 0;
                    (_, bytes) = await FetchAsync(previous, snapshot, liveState, spool, checkpoint, directory, cancellationToken).ConfigureAwait(false);
                    sent += bytes;
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever was spooled is kept for the next refresh: synced, and recorded with its digest.
                Run.AddSent(spool.SentThisRun);
                try
                {
                    using var limit = new CancellationTokenSource(Run.Options.CleanupTimeout);
                    await spool.SaveAsync(checkpoint, directory, complete: false, limit.Token).ConfigureAwait(false);
                    Diagnostics.Log.SpoolKept(Run.Logger, Run.Target.Address, snapshot.Name, spool.Length, spool.Path);
                }
                catch (Exception saving) when (saving is not OutOfMemoryException)
                {
                    Diagnostics.Log.CleanupFailed(Run.Logger, saving, Run.Target.Address, $"record the spooled stream of {snapshot.Name} in its checkpoint");
                }
                throw;
            }
            await spool.SaveAsync(checkpoint, directory, complete: true, cancellationToken).ConfigureAwait(false);
            if (resumedAt > 0)
            {
                Run.Resumed = true;
            }
            var total = spool.Length;
            receiving?.Invoke();
            var received = await ReceiveAllAsync(spool.OpenForReceive(), previousOnTarget, snapshot, cancellationToken).ConfigureAwait(false);
            Run.AddSent(sent);
            Run.AddRead(total);
            Run.AddWritten(total);
            return (received, sent);
        }
    }

    /// <summary>
    /// Appends the rest of the source's stream to the spool: everything when the spool is empty, else what follows its
    /// bytes (the source checks their digest first). Returns whether the source's stream began with the spooled bytes,
    /// and the bytes it sent.
    /// </summary>
    private async Task<(bool Matched, long Bytes)> FetchAsync(SnapshotInfo? previous, SnapshotInfo snapshot, bool liveState, NativeStreamSpool spool, RefreshCheckpoint checkpoint,
        string directory, CancellationToken cancellationToken)
    {
        var prefix = spool.Length;
        var digest = spool.Digest;
        var (_, matched, bytes) = await PipeAsync(previous, snapshot, liveState ? LiveStateLabel : snapshot.Name,
            async (destination, token) =>
            {
                if (prefix == 0)
                {
                    await Run.Source.SendAsync(previous?.Name, snapshot.Name, destination, Run.Options.Native, token).ConfigureAwait(false);
                    return true;
                }
                return await Run.Source.SendAfterPrefixAsync(previous?.Name, snapshot.Name, prefix, digest, destination, Run.Options.Native, token).ConfigureAwait(false);
            },
            async (native, token) =>
            {
                await spool.AppendAsync(native, Run.Options.CheckpointInterval, t => spool.SaveAsync(checkpoint, directory, complete: false, t), token).ConfigureAwait(false);
                return true;
            },
            cancellationToken).ConfigureAwait(false);
        return (matched, bytes);
    }

    /// <summary>
    /// The checkpoint of an interrupted refresh when it is of this transfer (the replicator matched it with the plan;
    /// this checks the identities once more). It is taken: only the first transfer of a refresh can continue one.
    /// </summary>
    private RefreshCheckpoint? TakeResume(RefreshCheckpoint transfer)
    {
        var resume = Run.Resume;
        if (resume is null || resume.Route != RefreshCheckpoint.NativeRoute)
        {
            return null;
        }
        Run.Resume = null;
        if (resume.ToIdentity != transfer.ToIdentity || resume.SourceBaseIdentity != transfer.SourceBaseIdentity || resume.BaseIdentity != transfer.BaseIdentity)
        {
            Diagnostics.Log.ResumeDiscarded(Run.Logger, Run.Target.Address,
                $"it spooled the stream of {resume.ToName} from {resume.SourceBaseName ?? "nothing"}, but the refresh sends {transfer.ToName} from {transfer.SourceBaseName ?? "nothing"} first");
            return null;
        }
        return resume;
    }
}

/// <summary>
/// Pipes one snapshot's native stream from a source volume straight into a target volume's checked receive, in this
/// process, with backpressure: what the replicator's native route does for each snapshot, without a refresh plan. For
/// tools that drive single transfers with exact bases (benchmarks against the backend's own pipeline, tests of wrong bases).
/// </summary>
internal static class NativeStreamPipe
{
    private const long PauseWriterThreshold = 16L << 20;

    /// <summary>
    /// The pipe's segments: as large as a native record, so that a record is one or two segments rather than 256
    /// of the default 4 KiB (whose renting, and allocation once the shared pool ran dry, cost ~0.7 MB per MB moved).
    /// </summary>
    private const int SegmentSize = 1 << 20;

    /// <summary>
    /// Sends <paramref name="snapshot"/> from <paramref name="source"/> (incremental from <paramref name="sourceBase"/>,
    /// or full) into <paramref name="target"/>, whose counterpart of the base is <paramref name="targetBase"/>.
    /// </summary>
    /// <returns>The snapshot the target made, and the size of the stream.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/>, <paramref name="target"/> or <paramref name="snapshot"/> is null.</exception>
    /// <exception cref="DeltaSnapException">The send or the receive failed (the receive's failure is reported first; a stream that does not fit the target changes nothing).</exception>
    public static async Task<NativeStreamPipeResult> TransferAsync(
        Volume source, Volume target, SnapshotInfo? sourceBase, SnapshotInfo? targetBase, SnapshotInfo snapshot, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(source);
        ThrowHelper.ThrowIfNull(target);
        ThrowHelper.ThrowIfNull(snapshot);
        var pipe = NewPipe();
        var counter = new CountingPipeWriteStream(pipe.Writer);
        var send = Task.Run(async () =>
        {
            try
            {
                await source.SendAsync(sourceBase?.Name, snapshot.Name, counter, cancellationToken: cancellationToken).ConfigureAwait(false);
                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e).ConfigureAwait(false);
                throw;
            }
        }, cancellationToken);
        SnapshotInfo received;
        try
        {
            received = await target.ReceiveAsync(pipe.Reader.AsStream(leaveOpen: true), new NativeReceiveRequest { Snapshot = snapshot, TargetBase = targetBase }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await pipe.Reader.CompleteAsync(e).ConfigureAwait(false);
            try
            {
                await send.ConfigureAwait(false);
            }
            catch (Exception) when (!send.IsCompletedSuccessfully)
            {
                // The receive's failure is the one to report; the send failed because the pipe closed under it.
            }
            throw;
        }
        await pipe.Reader.CompleteAsync().ConfigureAwait(false);
        await send.ConfigureAwait(false);
        return new NativeStreamPipeResult(received, counter.BytesWritten);
    }

    /// <summary>The in-memory pipe of the native routes: 16 MiB ahead at most, 1 MiB segments.</summary>
    internal static Pipe NewPipe() =>
        new(new PipeOptions(pauseWriterThreshold: PauseWriterThreshold, resumeWriterThreshold: PauseWriterThreshold / 2, minimumSegmentSize: SegmentSize));
}

/// <summary>What <see cref="NativeStreamPipe.TransferAsync"/> moved.</summary>
/// <param name="Received">The snapshot the target made.</param>
/// <param name="Bytes">The size of the native stream.</param>
internal sealed record NativeStreamPipeResult(SnapshotInfo Received, long Bytes);

/// <summary>A write-only stream that counts what passes through it, and tells <paramref name="written"/> the count after each write.</summary>
internal class CountingWriteStream(Stream inner, Action<long>? written = null) : ForwardingWriteStream(inner)
{
    public long BytesWritten { get; private set; }

    public override long Position { get => BytesWritten; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count)
    {
        Inner.Write(buffer, offset, count);
        Count(count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await Inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        Count(buffer.Length);
    }

    protected void Count(int bytes)
    {
        BytesWritten += bytes;
        written?.Invoke(BytesWritten);
    }
}

/// <summary>
/// The native routes' counting stream over their pipe, which also lends the pipe's memory (<see cref="IBufferWriter{T}"/>):
/// a sender that finds it may read or build bytes in place, <see cref="Advance"/> over them and then
/// <see cref="Stream.FlushAsync(CancellationToken)"/> (which waits while the pipe is full), instead of handing over a
/// buffer that the pipe copies. Writes and lent memory may be mixed; memory asked for and not advanced over is not sent.
/// </summary>
internal sealed class CountingPipeWriteStream(PipeWriter pipe, Action<long>? written = null) : CountingWriteStream(pipe.AsStream(leaveOpen: true), written), IBufferWriter<byte>
{
    public void Advance(int count)
    {
        pipe.Advance(count);
        Count(count);
    }

    public Memory<byte> GetMemory(int sizeHint = 0) => pipe.GetMemory(sizeHint);

    public Span<byte> GetSpan(int sizeHint = 0) => pipe.GetSpan(sizeHint);
}
