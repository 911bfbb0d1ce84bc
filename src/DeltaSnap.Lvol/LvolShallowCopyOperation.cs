using DeltaSnap.Devices;

namespace DeltaSnap.Lvol;

/// <summary>Where a shallow copy stands.</summary>
public enum LvolShallowCopyState
{
    /// <summary>Still copying.</summary>
    InProgress,

    /// <summary>Every cluster was copied or unmapped.</summary>
    Complete,

    /// <summary>The copy stopped on an error (<see cref="LvolShallowCopyOperation.Error"/>).</summary>
    Error,
}

/// <summary>
/// A running shallow copy (Longhorn's <c>bdev_lvol_start_shallow_copy</c> and <c>bdev_lvol_start_range_shallow_copy</c>):
/// the clusters allocated in a snapshot's own layer are written to a destination device at the same offsets; in a
/// range copy, a listed cluster the snapshot does not hold is unmapped on the destination instead.
/// </summary>
public sealed class LvolShallowCopyOperation
{
    private readonly CancellationTokenSource _cancellation;
    private long _copied;
    private long _unmapped;
    private volatile Exception? _error;
    private volatile bool _finished;

    internal LvolShallowCopyOperation(uint id, string source, BlockDevice destination, long totalClusters, CancellationTokenSource cancellation)
    {
        Id = id;
        Source = source;
        Destination = destination;
        TotalClusters = totalClusters;
        _cancellation = cancellation;
    }

    /// <summary>The operation id (SPDK's <c>operation_id</c>).</summary>
    public uint Id { get; }

    /// <summary>The source snapshot's name.</summary>
    public string Source { get; }

    /// <summary>The device written to.</summary>
    public BlockDevice Destination { get; }

    /// <summary>Clusters to process.</summary>
    public long TotalClusters { get; }

    /// <summary>Clusters written so far.</summary>
    public long CopiedClusters => Interlocked.Read(ref _copied);

    /// <summary>Clusters unmapped so far (range copies only).</summary>
    public long UnmappedClusters => Interlocked.Read(ref _unmapped);

    /// <summary>Bytes written to the destination so far.</summary>
    public long BytesCopied { get; private set; }

    /// <summary>The state now.</summary>
    public LvolShallowCopyState State => _error is not null ? LvolShallowCopyState.Error : _finished ? LvolShallowCopyState.Complete : LvolShallowCopyState.InProgress;

    /// <summary>Why the copy failed, when <see cref="State"/> is <see cref="LvolShallowCopyState.Error"/>.</summary>
    public Exception? Error => _error;

    /// <summary>Completes when the copy has finished, successfully or not (it never faults; see <see cref="State"/>).</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Asks the copy to stop; it ends in <see cref="LvolShallowCopyState.Error"/> with ECANCELED.</summary>
    public void Cancel() => _cancellation.Cancel();

    internal void Run(Func<LvolShallowCopyOperation, CancellationToken, Task> body, Action<LvolShallowCopyOperation> finished)
    {
        Completion = Task.Run(async () =>
        {
            try
            {
                await body(this, _cancellation.Token).ConfigureAwait(false);
                _finished = true;
            }
            catch (OperationCanceledException e)
            {
                _error = new LvolException(LvolErrno.ECANCELED, $"The shallow copy of '{Source}' was cancelled.", e);
            }
            catch (Exception e)
            {
                _error = e;
            }
            finally
            {
                finished(this);
                _cancellation.Dispose();
            }
        });
    }

    internal void AddCopied(long bytes)
    {
        BytesCopied += bytes;
        Interlocked.Increment(ref _copied);
    }

    internal void AddUnmapped() => Interlocked.Increment(ref _unmapped);
}
