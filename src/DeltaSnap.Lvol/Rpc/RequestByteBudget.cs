namespace DeltaSnap.Lvol;

/// <summary>
/// Bytes of request text one connection may hold in running requests. Only the connection's read loop takes
/// (one waiter at a time); finished requests give back.
/// </summary>
internal sealed class RequestByteBudget(int capacity)
{
    private readonly Lock _sync = new();
    private int _used;
    private TaskCompletionSource? _waiter;

    /// <summary>Waits until <paramref name="bytes"/> (at most the capacity) are free, and takes them.</summary>
    public async ValueTask TakeAsync(int bytes, CancellationToken cancellationToken)
    {
        bytes = Math.Min(bytes, capacity);
        while (true)
        {
            TaskCompletionSource waiter;
            lock (_sync)
            {
                if (capacity - _used >= bytes)
                {
                    _used += bytes;
                    return;
                }
                waiter = _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Gives back what <see cref="TakeAsync"/> took.</summary>
    public void Return(int bytes)
    {
        bytes = Math.Min(bytes, capacity);
        TaskCompletionSource? waiter;
        lock (_sync)
        {
            _used -= bytes;
            waiter = _waiter;
            _waiter = null;
        }
        waiter?.TrySetResult();
    }
}
