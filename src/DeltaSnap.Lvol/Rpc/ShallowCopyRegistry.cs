using System.Collections.Concurrent;
using DeltaSnap.Copy;

namespace DeltaSnap.Lvol;

/// <summary>
/// The shallow copies started over JSON-RPC, by operation id (1, 2, … per process, as SPDK numbers them). An entry
/// is freed by the read that reports it <c>complete</c> or <c>error</c>; later reads find nothing (-19).
/// </summary>
internal sealed class ShallowCopyRegistry
{
    private static int _lastId;
    private readonly ConcurrentDictionary<uint, Entry> _entries = new();

    /// <summary>Registers a running copy; returns its id.</summary>
    public uint Add(ShallowCopyOperation operation) => Add(new Entry(operation, null, 0));

    /// <summary>Registers a copy that failed before it started (SPDK reports those through the status too); returns its id.</summary>
    public uint AddFailed(LvolErrno errno, long totalClusters) => Add(new Entry(null, errno, totalClusters));

    /// <summary>The status of copy <paramref name="id"/>; a terminal one frees the entry.</summary>
    public SpdkShallowCopyStatus? TryRead(uint id)
    {
        if (!_entries.TryGetValue(id, out var entry))
        {
            return null;
        }
        var status = entry.Read();
        if (status.State != "in progress" && !_entries.TryRemove(id, out _))
        {
            return null; // a concurrent read took the terminal status first
        }
        return status;
    }

    /// <summary>Stops every running copy and waits for it to end.</summary>
    public async Task StopAllAsync()
    {
        foreach (var operation in _entries.Values.Select(e => e.Operation).OfType<ShallowCopyOperation>())
        {
            operation.Cancel();
            try
            {
                await operation.Completion.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or DeltaSnapException or IOException)
            {
                // It failed or was stopped; its status says which, and nobody is left to ask.
            }
        }
    }

    private uint Add(Entry entry)
    {
        var id = (uint)Interlocked.Increment(ref _lastId);
        _entries[id] = entry;
        return id;
    }

    private sealed record Entry(ShallowCopyOperation? Operation, LvolErrno? FailedWith, long FailedTotal)
    {
        public SpdkShallowCopyStatus Read()
        {
            if (Operation is not { } operation)
            {
                return new SpdkShallowCopyStatus
                {
                    State = "error",
                    CopiedClusters = 0,
                    TotalClusters = (ulong)FailedTotal,
                    Error = SpdkErrno.Strerror(FailedWith!.Value),
                };
            }
            // The state first: counts read after a terminal state are final.
            var state = operation.State;
            return new SpdkShallowCopyStatus
            {
                State = state switch
                {
                    ShallowCopyState.Complete => "complete",
                    ShallowCopyState.Error => "error",
                    _ => "in progress",
                },
                CopiedClusters = (ulong)operation.CopiedClusters,
                UnmappedClusters = (ulong)operation.UnmappedClusters,
                TotalClusters = (ulong)operation.TotalClusters,
                Error = state != ShallowCopyState.Error ? null : operation.Error switch
                {
                    LvolException le => SpdkErrno.Strerror(le.Errno),
                    OperationCanceledException => SpdkErrno.Strerror(LvolErrno.ECANCELED),
                    _ => SpdkErrno.Strerror(LvolErrno.EIO),
                },
            };
        }
    }
}
