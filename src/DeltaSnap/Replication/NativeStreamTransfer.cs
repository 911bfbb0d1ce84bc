using System.IO.Pipelines;
using DeltaSnap.Delta;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Replication;

/// <summary>
/// The native route: the source backend's own incremental stream, carried as native records of a delta stream
/// (so it crosses any transport with per-record CRCs and a checked end) and piped with backpressure into the
/// target backend's receiver, which checks the stream's base before writing anything.
/// </summary>
internal sealed class NativeStreamTransfer(RefreshRun run) : SnapshotTransfer(run)
{
    public override async Task<SnapshotInfo> SendSnapshotAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        var (received, bytes) = await TransferAsync(previous, previousOnTarget, snapshot, snapshot.Name, cancellationToken).ConfigureAwait(false);
        Diagnostics.Log.SnapshotSent(Run.Logger, Run.Target.Address, snapshot.Name, bytes);
        return received;
    }

    public override async Task SendLiveStateAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo live, CancellationToken cancellationToken)
    {
        Run.TargetTemporary = live.Name;
        await TransferAsync(previous, previousOnTarget, live, LiveStateLabel, cancellationToken).ConfigureAwait(false);
        Run.TargetLiveTouched = true;
        await PromoteAsync(live.Name, cancellationToken).ConfigureAwait(false);
    }

    public override Task FinishWithoutLiveStateAsync(SnapshotInfo lastOnTarget, CancellationToken cancellationToken)
    {
        Run.TargetLiveTouched = true;
        return PromoteAsync(lastOnTarget.Name, cancellationToken);
    }

    private Task PromoteAsync(string snapshot, CancellationToken cancellationToken) =>
        Run.StepAsync(Diagnostics.DiagnosticNames.PromoteSpan, snapshot, () => Run.Target.PromoteAsync(snapshot, cancellationToken));

    private async Task<SnapshotInfo> ReceiveFramedAsync(DeltaStreamReader reader, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, CancellationToken token)
    {
        var received = await reader.ReadHeaderAsync(token).ConfigureAwait(false);
        if (received.PayloadKind != Run.Target.Driver.NativePayloadKind)
        {
            throw new DeltaStreamException($"The stream carries {received.PayloadKind}, but {Run.Target.Address} receives {Run.Target.Driver.NativePayloadKind}.");
        }
        var native = reader.AsNativeStream();
        var request = new NativeReceiveRequest { Snapshot = snapshot, TargetBase = previousOnTarget };
        var info = await Run.Target.ReceiveAsync(native, request, token).ConfigureAwait(false);
        // Read on to the trailer, so the stream's end is checked even when the receiver stopped at its own end record.
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

    private static DeltaStreamSnapshot Describe(SnapshotInfo snapshot) => new(snapshot.Name, snapshot.Identity, snapshot.CreatedUtc);

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

    /// <summary>Moves one snapshot's native stream; returns the snapshot the target made and the stream's size.</summary>
    private async Task<(SnapshotInfo Received, long Bytes)> TransferAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, string label, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = linked.Token;
        var pipe = NativeStreamPipe.NewPipe();
        var header = new DeltaStreamHeader(Run.Source.Driver.NativePayloadKind, 0, ClusterLayout.DefaultClusterSize, Checksums.ChecksumAlgorithm.Crc32C,
            Describe(snapshot), previous is null ? null : Describe(previous));
        var writer = new DeltaStreamWriter(pipe.Writer, header, leaveOpen: true);
        var total = await EstimateAsync(previous, snapshot, token).ConfigureAwait(false);
        var progress = Run.Progress;
        progress?.Report(new RefreshProgress(SendingStage, label, 0, total));
        // The bytes are reported as the source writes them: with the pipe's backpressure, at most 16 MiB ahead of the receiver.
        var counter = new CountingWriteStream(writer.AsNativeStream(),
            progress is null ? null : done => progress.Report(new RefreshProgress(SendingStage, label, done, total)));

        var send = Task.Run(async () =>
        {
            try
            {
                await Run.Source.SendAsync(previous?.Name, snapshot.Name, counter, Run.Options.Native, token).ConfigureAwait(false);
                await writer.CompleteAsync(ReadOnlyMemory<byte>.Empty, token).ConfigureAwait(false);
                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e).ConfigureAwait(false);
                await linked.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }, token);

        var receive = Task.Run(async () =>
        {
            try
            {
                SnapshotInfo info;
                // The reader is disposed before the pipe is completed under it.
                using (var reader = new DeltaStreamReader(pipe.Reader, new DeltaStreamReaderOptions { LeaveOpen = true }))
                {
                    info = await ReceiveFramedAsync(reader, previousOnTarget, snapshot, token).ConfigureAwait(false);
                }
                await pipe.Reader.CompleteAsync().ConfigureAwait(false);
                return info;
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
            await Task.WhenAll(send, receive).ConfigureAwait(false);
        }
        catch
        {
            // Report the first real failure, not the cancellation it caused on the other side.
            var failures = new[] { send, receive }.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).ToList();
            var primary = failures.FirstOrDefault(e => e is not OperationCanceledException) ?? failures.FirstOrDefault();
            if (primary is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(primary);
            }
            throw;
        }
        Run.AddSent(counter.BytesWritten);
        Run.AddRead(counter.BytesWritten);
        Run.AddWritten(counter.BytesWritten);
        return (await receive.ConfigureAwait(false), counter.BytesWritten);
    }
}

/// <summary>
/// Pipes one snapshot's native stream from a source volume straight into a target volume's checked receive, in this
/// process, with backpressure: what the replicator's native route does for each snapshot, without the delta-stream
/// framing a transport needs and without a refresh plan. For tools that drive single transfers with exact bases
/// (benchmarks against the backend's own pipeline, tests of wrong bases).
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
        var counter = new CountingWriteStream(pipe.Writer.AsStream(leaveOpen: true));
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
internal sealed class CountingWriteStream(Stream inner, Action<long>? written = null) : Stream
{
    public long BytesWritten { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => BytesWritten; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        BytesWritten += count;
        written?.Invoke(BytesWritten);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        BytesWritten += buffer.Length;
        written?.Invoke(BytesWritten);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
