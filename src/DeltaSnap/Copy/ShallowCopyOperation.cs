using System.Buffers;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using DeltaSnap.Delta;
using DeltaSnap.Devices;

namespace DeltaSnap.Copy;

/// <summary>
/// A running shallow copy from a source device to a <see cref="DeltaSink"/>, with Longhorn's semantics and
/// status: <see cref="State"/>, copied / unmapped / total clusters, an <see cref="Error"/>, cancellation and,
/// beyond Longhorn, a <see cref="Checkpoint"/> to resume from.
/// </summary>
/// <remarks>
/// <para>Clusters are read several at a time into pooled buffers (at most twice
/// <see cref="ShallowCopyOptions.MaxDegreeOfParallelism"/> clusters in memory), but reach the sink strictly in
/// ascending offset order through a reorder window, so the sink may be a delta stream. Runs of unmaps that
/// follow each other are sent as one.</para>
/// <para>The checkpoint says what was handed to the sink, not what is durable there: persist it only after
/// flushing the target. When the sink is a <see cref="BlockDeviceSink"/> the operation flushes the device
/// before it reports <see cref="ShallowCopyState.Complete"/>.</para>
/// </remarks>
public sealed class ShallowCopyOperation
{
    // Copy pieces closer than this are read with one call (the gap is read and ignored): fewer, larger reads.
    private const int MaxReadGap = 32 * 1024;

    private readonly BlockDevice _source;
    private readonly DeltaSink _target;
    private readonly ShallowCopyRequest _request;
    private readonly ShallowCopyOptions _options;
    private readonly IProgress<ShallowCopyProgress>? _progress;
    private readonly CancellationTokenSource _cancellation;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _cancellationLock = new();
    private bool _finished;
    private int _state = (int)ShallowCopyState.InProgress;
    private Exception? _error;
    private long _copiedClusters;
    private long _unmappedClusters;
    private long _totalClusters;
    private long _copiedBytes;
    private long _unmappedBytes;
    private long _totalBytes;
    private long _checkpoint;

    private ShallowCopyOperation(BlockDevice source, DeltaSink target, ShallowCopyRequest request, ShallowCopyOptions options,
        IProgress<ShallowCopyProgress>? progress, CancellationToken cancellationToken)
    {
        _source = source;
        _target = target;
        _request = request;
        _options = options;
        _progress = progress;
        _checkpoint = options.ResumeFrom;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>Where the operation stands.</summary>
    public ShallowCopyState State => (ShallowCopyState)Volatile.Read(ref _state);

    /// <summary>What stopped the operation (an <see cref="OperationCanceledException"/> after cancellation); null unless <see cref="State"/> is <see cref="ShallowCopyState.Error"/>.</summary>
    public Exception? Error => Volatile.Read(ref _error);

    /// <summary>Clusters done in which at least one byte was written.</summary>
    public long CopiedClusters => Interlocked.Read(ref _copiedClusters);

    /// <summary>Clusters done in which everything was unmapped: unallocated in the source, or read as zeros.</summary>
    public long UnmappedClusters => Interlocked.Read(ref _unmappedClusters);

    /// <summary>Clusters this run has to do: the listed clusters, or those the plan touches, after the resume offset. Known once the work is laid out; 0 before.</summary>
    public long TotalClusters => Interlocked.Read(ref _totalClusters);

    /// <summary>Bytes written to the target.</summary>
    public long CopiedBytes => Interlocked.Read(ref _copiedBytes);

    /// <summary>Bytes unmapped on the target.</summary>
    public long UnmappedBytes => Interlocked.Read(ref _unmappedBytes);

    /// <summary>Bytes this run has to write or unmap (after the resume offset). Known once the work is laid out; 0 before.</summary>
    public long TotalBytes => Interlocked.Read(ref _totalBytes);

    /// <summary>
    /// The offset before which everything has been handed to the target: the end of the last cluster done (or
    /// <see cref="ShallowCopyOptions.ResumeFrom"/> until one is). Pass it as <c>ResumeFrom</c> to finish an
    /// interrupted copy.
    /// </summary>
    public long Checkpoint => Interlocked.Read(ref _checkpoint);

    /// <summary>
    /// Completes when the operation does: successfully, faulted with the failure, or cancelled.
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Starts copying <paramref name="request"/> from <paramref name="source"/> to <paramref name="target"/> in
    /// the background and returns at once.
    /// </summary>
    /// <param name="source">The device to read; should not change while the copy runs (a snapshot).</param>
    /// <param name="target">Where writes and unmaps go, in ascending offset order; at least as long as the source when it is a device.</param>
    /// <param name="request">The clusters or plan to copy; its layout must describe <paramref name="source"/>.</param>
    /// <param name="options">Parallelism, zero detection and the resume offset; null for the defaults.</param>
    /// <param name="progress">Receives the status now and then, and once at the end.</param>
    /// <param name="cancellationToken">Stops the copy, as <see cref="Cancel"/> does.</param>
    /// <exception cref="ArgumentNullException">An argument other than <paramref name="options"/> or <paramref name="progress"/> is null.</exception>
    /// <exception cref="ArgumentException">The request's layout does not describe <paramref name="source"/>.</exception>
    public static ShallowCopyOperation Start(
        BlockDevice source,
        DeltaSink target,
        ShallowCopyRequest request,
        ShallowCopyOptions? options = null,
        IProgress<ShallowCopyProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(source);
        ThrowHelper.ThrowIfNull(target);
        ThrowHelper.ThrowIfNull(request);
        if (request.Layout.VolumeSize != source.Length)
        {
            ThrowHelper.ThrowArgument(nameof(request),
                $"The request describes a volume of {request.Layout.VolumeSize} bytes; the source holds {source.Length}.");
        }
        var operation = new ShallowCopyOperation(source, target, request, options ?? new ShallowCopyOptions(), progress, cancellationToken);
        _ = Task.Run(operation.RunAsync, CancellationToken.None);
        return operation;
    }

    /// <summary>Asks the operation to stop; it ends in <see cref="ShallowCopyState.Error"/> with an <see cref="OperationCanceledException"/>. Does nothing once it has ended.</summary>
    public void Cancel()
    {
        lock (_cancellationLock)
        {
            if (!_finished)
            {
                _cancellation.Cancel();
            }
        }
    }

    /// <summary>The status at this moment, all counters read together.</summary>
    public ShallowCopyProgress GetProgress() =>
        new(State, CopiedClusters, UnmappedClusters, TotalClusters, CopiedBytes, UnmappedBytes, TotalBytes, Checkpoint);

    private async Task RunAsync()
    {
        var cancellationToken = _cancellation.Token;
        Exception? failure = null;
        try
        {
            var work = await CopyWorkList.BuildAsync(_request, _source, _options.ResumeFrom, cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _totalClusters, work.Items.Count);
            Interlocked.Exchange(ref _totalBytes, work.TotalBytes);
            _progress?.Report(GetProgress());
            await CopyAsync(work, cancellationToken).ConfigureAwait(false);
            if (_target is BlockDeviceSink deviceSink)
            {
                await deviceSink.Device.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            failure = e;
        }

        lock (_cancellationLock)
        {
            _finished = true;
        }
        _cancellation.Dispose();
        Volatile.Write(ref _error, failure);
        Volatile.Write(ref _state, (int)(failure is null ? ShallowCopyState.Complete : ShallowCopyState.Error));
        _progress?.Report(GetProgress());
        switch (failure)
        {
            case null:
                _completion.SetResult();
                break;
            case OperationCanceledException canceled:
                _completion.SetCanceled(canceled.CancellationToken);
                break;
            default:
                _completion.SetException(failure);
                break;
        }
    }

    // Readers fill clusters in parallel, bounded by a window of permits; the one writer (this method) takes them in
    // sequence order from the reorder window and hands them to the sink. A permit is held from the moment a
    // cluster is taken until it is written, so clusters in memory never exceed the window.
    private async Task CopyAsync(CopyWorkList work, CancellationToken cancellationToken)
    {
        var items = work.Items;
        if (items.Count == 0)
        {
            return;
        }
        var window = Math.Min(2 * _options.MaxDegreeOfParallelism, items.Count);
        var run = new CopyRun(this, work, window, cancellationToken);
        var readerCount = Math.Min(_options.MaxDegreeOfParallelism, items.Count);
        var readers = new Task[readerCount];
        for (var r = 0; r < readerCount; r++)
        {
            readers[r] = Task.Run(run.ReadLoopAsync, CancellationToken.None);
        }
        var readersDone = Task.WhenAll(readers).ContinueWith(_ => run.Completed.Writer.TryComplete(), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await run.WriteLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            await run.StopAsync().ConfigureAwait(false);
            await readersDone.ConfigureAwait(false);
            run.ReturnUnwrittenBuffers();
            run.Dispose();
        }
        if (run.Failure is not null)
        {
            ExceptionDispatchInfo.Throw(run.Failure);
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    // A cluster read and ready to write: its buffer (null when it has only unmaps) and which copy pieces read as zeros.
    private readonly record struct ReadCluster(int Sequence, byte[]? Buffer);

    /// <summary>The shared state of one copy: the work, the window, the first failure.</summary>
    private sealed class CopyRun : IDisposable
    {
        private readonly ShallowCopyOperation _operation;
        private readonly CopyWorkList _work;
        private readonly int _window;
        private readonly SemaphoreSlim _permits;
        private readonly CancellationTokenSource _stop;
        private readonly bool[] _pieceIsZero;
        private readonly ReadCluster?[] _reorder;
        private readonly int _reportEvery;
        private int _next = -1;
        private Exception? _failure;
        private ByteRange _pendingUnmap;
        private long _lastItemEnd;

        public CopyRun(ShallowCopyOperation operation, CopyWorkList work, int window, CancellationToken cancellationToken)
        {
            _operation = operation;
            _work = work;
            _window = window;
            _permits = new SemaphoreSlim(window, window);
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _pieceIsZero = new bool[work.Pieces.Count];
            _reorder = new ReadCluster?[window];
            _reportEvery = Math.Max(1, work.Items.Count / 100);
            _lastItemEnd = operation._options.ResumeFrom;
        }

        public Channel<ReadCluster> Completed { get; } = Channel.CreateUnbounded<ReadCluster>(new UnboundedChannelOptions { SingleReader = true });

        public Exception? Failure => Volatile.Read(ref _failure);

        public async Task ReadLoopAsync()
        {
            var token = _stop.Token;
            try
            {
                while (true)
                {
                    await _permits.WaitAsync(token).ConfigureAwait(false);
                    var sequence = Interlocked.Increment(ref _next);
                    if (sequence >= _work.Items.Count)
                    {
                        return;
                    }
                    var item = _work.Items[sequence];
                    byte[]? buffer = null;
                    if (item.HasCopies)
                    {
                        buffer = ArrayPool<byte>.Shared.Rent(item.SpanLength);
                        try
                        {
                            await ReadClusterAsync(item, buffer, token).ConfigureAwait(false);
                        }
                        catch
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                            throw;
                        }
                    }
                    // Unbounded, single reader: never blocks. The permit bounds how many wait here.
                    Completed.Writer.TryWrite(new ReadCluster(sequence, buffer));
                }
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        public async Task WriteLoopAsync()
        {
            var items = _work.Items;
            var written = 0;
            try
            {
                while (written < items.Count && await Completed.Reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
                {
                    while (Completed.Reader.TryRead(out var read))
                    {
                        _reorder[read.Sequence % _window] = read;
                    }
                    while (written < items.Count && _reorder[written % _window] is { } ready)
                    {
                        _reorder[written % _window] = null;
                        try
                        {
                            await WriteClusterAsync(items[written], ready.Buffer, _stop.Token).ConfigureAwait(false);
                        }
                        finally
                        {
                            if (ready.Buffer is not null)
                            {
                                ArrayPool<byte>.Shared.Return(ready.Buffer);
                            }
                        }
                        written++;
                        _permits.Release();
                        if (written % _reportEvery == 0 && written < items.Count)
                        {
                            _operation._progress?.Report(_operation.GetProgress());
                        }
                    }
                }
                await FlushUnmapAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        public async Task StopAsync() => await _stop.CancelAsync().ConfigureAwait(false);

        public void ReturnUnwrittenBuffers()
        {
            while (Completed.Reader.TryRead(out var read))
            {
                _reorder[read.Sequence % _window] = read;
            }
            for (var i = 0; i < _reorder.Length; i++)
            {
                if (_reorder[i] is { Buffer: { } buffer })
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                _reorder[i] = null;
            }
        }

        public void Dispose()
        {
            _permits.Dispose();
            _stop.Dispose();
        }

        // Records the first real failure and stops everyone; cancellation caused by stopping is not a failure.
        private void Fail(Exception e)
        {
            if (e is OperationCanceledException && _stop.IsCancellationRequested)
            {
                return;
            }
            Interlocked.CompareExchange(ref _failure, e, null);
            _stop.Cancel();
        }

        // Reads the copy pieces of one cluster into the buffer at their offsets from the item's start, merging
        // pieces separated by small gaps into one read, and notes which pieces read as zeros.
        private async Task ReadClusterAsync(CopyItem item, byte[] buffer, CancellationToken cancellationToken)
        {
            var pieces = _work.Pieces;
            var end = item.FirstPiece + item.PieceCount;
            for (var p = item.FirstPiece; p < end;)
            {
                if (!pieces[p].IsCopy)
                {
                    p++;
                    continue;
                }
                var last = p;
                for (var q = p + 1; q < end && pieces[q].Offset - pieces[last].End <= MaxReadGap; q++)
                {
                    if (pieces[q].IsCopy)
                    {
                        last = q;
                    }
                }
                var start = pieces[p].Offset;
                var length = (int)(pieces[last].End - start);
                await _operation._source.ReadAsync(start, buffer.AsMemory((int)(start - item.SpanStart), length), cancellationToken).ConfigureAwait(false);
                for (var q = p; q <= last; q++)
                {
                    if (pieces[q].IsCopy && _operation._options.DetectZeros)
                    {
                        _pieceIsZero[q] = !buffer.AsSpan((int)(pieces[q].Offset - item.SpanStart), pieces[q].Length).ContainsAnyExcept((byte)0);
                    }
                }
                p = last + 1;
            }
        }

        private async Task WriteClusterAsync(CopyItem item, byte[]? buffer, CancellationToken cancellationToken)
        {
            var operation = _operation;
            var wrote = false;
            for (var p = item.FirstPiece; p < item.FirstPiece + item.PieceCount; p++)
            {
                var piece = _work.Pieces[p];
                if (piece.IsCopy && !_pieceIsZero[p])
                {
                    await FlushUnmapAsync(cancellationToken).ConfigureAwait(false);
                    await operation._target.WriteAsync(piece.Offset, buffer.AsMemory((int)(piece.Offset - item.SpanStart), piece.Length), cancellationToken)
                        .ConfigureAwait(false);
                    Interlocked.Add(ref operation._copiedBytes, piece.Length);
                    wrote = true;
                }
                else if (_pendingUnmap.IsEmpty || _pendingUnmap.End == piece.Offset)
                {
                    _pendingUnmap = ByteRange.FromBounds(_pendingUnmap.IsEmpty ? piece.Offset : _pendingUnmap.Offset, piece.End);
                }
                else
                {
                    await FlushUnmapAsync(cancellationToken).ConfigureAwait(false);
                    _pendingUnmap = new ByteRange(piece.Offset, piece.Length);
                }
            }
            Interlocked.Increment(ref wrote ? ref operation._copiedClusters : ref operation._unmappedClusters);
            _lastItemEnd = item.End;
            if (_pendingUnmap.IsEmpty)
            {
                Interlocked.Exchange(ref operation._checkpoint, item.End);
            }
        }

        // Sends the unmaps held back to be merged; everything done before them is then handed over.
        private async Task FlushUnmapAsync(CancellationToken cancellationToken)
        {
            if (_pendingUnmap.IsEmpty)
            {
                return;
            }
            await _operation._target.UnmapAsync(_pendingUnmap, cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _operation._unmappedBytes, _pendingUnmap.Length);
            _pendingUnmap = default;
            Interlocked.Exchange(ref _operation._checkpoint, _lastItemEnd);
        }
    }
}
