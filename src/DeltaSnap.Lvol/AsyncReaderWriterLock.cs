namespace DeltaSnap.Lvol;

/// <summary>
/// A small writer-preferring async reader/writer lock: data I/O holds it shared, structural changes (snapshot,
/// delete, merge, rollback) hold it exclusively so that no read or write runs against a map that is changing.
/// </summary>
internal sealed class AsyncReaderWriterLock
{
    private readonly object _sync = new();
    private readonly Queue<TaskCompletionSource> _writers = new();
    private TaskCompletionSource _readersWaiting = NewSource();
    private int _waitingReaders;
    private int _state; // > 0: readers inside; -1: a writer inside

    public Task EnterReadAsync()
    {
        lock (_sync)
        {
            if (_state >= 0 && _writers.Count == 0)
            {
                _state++;
                return Task.CompletedTask;
            }
            _waitingReaders++;
            return _readersWaiting.Task;
        }
    }

    public Task EnterWriteAsync()
    {
        lock (_sync)
        {
            if (_state == 0)
            {
                _state = -1;
                return Task.CompletedTask;
            }
            var waiter = NewSource();
            _writers.Enqueue(waiter);
            return waiter.Task;
        }
    }

    public void ExitRead()
    {
        TaskCompletionSource? wake = null;
        lock (_sync)
        {
            _state--;
            if (_state == 0 && _writers.Count > 0)
            {
                _state = -1;
                wake = _writers.Dequeue();
            }
        }
        wake?.SetResult();
    }

    public void ExitWrite()
    {
        TaskCompletionSource? wake = null;
        lock (_sync)
        {
            if (_writers.Count > 0)
            {
                wake = _writers.Dequeue();
            }
            else if (_waitingReaders > 0)
            {
                _state = _waitingReaders;
                _waitingReaders = 0;
                wake = _readersWaiting;
                _readersWaiting = NewSource();
            }
            else
            {
                _state = 0;
            }
        }
        wake?.SetResult();
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
