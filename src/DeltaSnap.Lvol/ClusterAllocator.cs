using System.Numerics;

namespace DeltaSnap.Lvol;

/// <summary>
/// The store's allocator of physical clusters: which are in use (mapped by an lvol or holding the committed
/// metadata), which were freed since the last commit (not reusable until the commit that frees them is durable: the
/// metadata on disk may still point at them), and which are free. It owns that state; the store's metadata journal
/// drives its commit steps (<see cref="BeginCommit"/>, <see cref="EndCommit"/>, <see cref="AbortCommit"/>). Not
/// thread-safe: the store calls it under its lock.
/// </summary>
internal sealed class ClusterAllocator
{
    private ulong[] _used = new ulong[16];
    private ulong[] _pending = new ulong[16];
    private ulong[] _committing = new ulong[16];
    private long _hint;

    public ClusterAllocator(long count, long capacity)
    {
        Capacity = capacity;
        Count = count;
        EnsureWords(count);
    }

    /// <summary>
    /// The allocator of a committed metadata copy: cluster <c>p</c> of <paramref name="count"/> is in use when bit
    /// <c>p % 8</c> of byte <c>p / 8</c> of <paramref name="bitmap"/> is set (the form <see cref="UsedBitmap"/> writes).
    /// </summary>
    public static ClusterAllocator FromBitmap(ReadOnlySpan<byte> bitmap, long count, long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan((long)bitmap.Length, (count + 7) >> 3, nameof(bitmap));
        var allocator = new ClusterAllocator(count, capacity);
        for (long p = 0; p < count; p++)
        {
            if ((bitmap[(int)(p >> 3)] & (1 << (int)(p & 7))) != 0)
            {
                allocator.MarkUsed(p);
            }
        }
        return allocator;
    }

    /// <summary>The number of physical clusters the store file spans (the high-water mark).</summary>
    public long Count { get; private set; }

    /// <summary>The most clusters the store may hold; 0 for no limit.</summary>
    public long Capacity { get; }

    public long UsedCount
    {
        get
        {
            long n = 0;
            foreach (var w in _used)
            {
                n += BitOperations.PopCount(w);
            }
            return n;
        }
    }

    public long FreeCount => Capacity > 0 ? Capacity - UsedCount - PendingCount : long.MaxValue;

    private long PendingCount
    {
        get
        {
            long n = 0;
            for (var i = 0; i < _pending.Length; i++)
            {
                n += BitOperations.PopCount((_pending[i] | _committing[i]) & ~_used[i]);
            }
            return n;
        }
    }

    public bool IsUsed(long p) => p < Count && Get(_used, p);

    public void MarkUsed(long p)
    {
        if (p >= Count)
        {
            Count = p + 1;
            EnsureWords(Count);
        }
        Set(_used, p, true);
    }

    /// <summary>Allocates one cluster.</summary>
    /// <exception cref="LvolException">ENOSPC: the store is at its capacity.</exception>
    public long Allocate()
    {
        var p = FindFree(_hint);
        if (p < 0)
        {
            p = _hint == 0 ? -1 : FindFree(0);
        }
        if (p < 0)
        {
            if (Capacity > 0 && Count >= Capacity)
            {
                throw new LvolException(LvolErrno.ENOSPC, $"The store has no free cluster left (capacity {Capacity} clusters).");
            }
            p = Count;
        }
        MarkUsed(p);
        _hint = p + 1;
        return p;
    }

    /// <summary>Allocates <paramref name="count"/> contiguous clusters (for the metadata blob), extending the store when no free run is long enough.</summary>
    public long AllocateRun(long count)
    {
        long runStart = -1, run = 0;
        for (long p = 0; p < Count; p++)
        {
            if (IsFree(p))
            {
                if (run == 0)
                {
                    runStart = p;
                }
                if (++run == count)
                {
                    break;
                }
            }
            else
            {
                run = 0;
            }
        }
        if (run < count)
        {
            // Extend: reuse a free run touching the end, if any.
            runStart = run > 0 && runStart + run == Count ? runStart : Count;
        }
        if (Capacity > 0 && runStart + count > Capacity)
        {
            throw new LvolException(LvolErrno.ENOSPC, $"The store has no room for {count} metadata cluster(s) (capacity {Capacity} clusters).");
        }
        for (var p = runStart; p < runStart + count; p++)
        {
            MarkUsed(p);
        }
        return runStart;
    }

    /// <summary>Frees a cluster; it becomes reusable once the next commit is durable.</summary>
    public void Free(long p)
    {
        Set(_used, p, false);
        Set(_pending, p, true);
    }

    /// <summary>Frees a cluster for immediate reuse (it was never durable in any metadata copy).</summary>
    public void FreeNow(long p) => Set(_used, p, false);

    /// <summary>Frees clusters <c>[start, start + count)</c> for immediate reuse.</summary>
    public void FreeNow(long start, long count)
    {
        for (var p = start; p < start + count; p++)
        {
            FreeNow(p);
        }
    }

    /// <summary>Called when a commit starts: the frees so far become the ones that commit makes durable.</summary>
    public void BeginCommit()
    {
        for (var i = 0; i < _pending.Length; i++)
        {
            _committing[i] |= _pending[i];
            _pending[i] = 0;
        }
    }

    /// <summary>Called when a commit is durable: its frees are reusable.</summary>
    public void EndCommit() => Array.Clear(_committing);

    /// <summary>Called when a commit failed: its frees wait for the next one.</summary>
    public void AbortCommit()
    {
        for (var i = 0; i < _pending.Length; i++)
        {
            _pending[i] |= _committing[i];
            _committing[i] = 0;
        }
    }

    /// <summary>The in-use bitmap as bytes (bit <c>p</c> in byte <c>p / 8</c>, least significant first).</summary>
    public byte[] UsedBitmap(long count)
    {
        var bytes = new byte[(count + 7) >> 3];
        for (var i = 0; i < bytes.Length; i++)
        {
            var w = i >> 3;
            bytes[i] = w < _used.Length ? (byte)(_used[w] >> ((i & 7) * 8)) : (byte)0;
        }
        return bytes;
    }

    private bool IsFree(long p) => !Get(_used, p) && !Get(_pending, p) && !Get(_committing, p);

    private long FindFree(long from)
    {
        for (var w = (int)(from >> 6); w < (int)((Count + 63) >> 6); w++)
        {
            var busy = _used[w] | _pending[w] | _committing[w];
            if (w == (int)(from >> 6))
            {
                busy |= (1UL << (int)(from & 63)) - 1;
            }
            if (busy != ulong.MaxValue)
            {
                var p = ((long)w << 6) + BitOperations.TrailingZeroCount(~busy);
                return p < Count ? p : -1;
            }
        }
        return -1;
    }

    private void EnsureWords(long count)
    {
        var words = (int)((count + 63) >> 6);
        if (words > _used.Length)
        {
            var size = Math.Max(words, _used.Length * 2);
            Array.Resize(ref _used, size);
            Array.Resize(ref _pending, size);
            Array.Resize(ref _committing, size);
        }
    }

    private static bool Get(ulong[] bits, long p) => (p >> 6) < bits.Length && (bits[p >> 6] & (1UL << (int)(p & 63))) != 0;

    private static void Set(ulong[] bits, long p, bool value)
    {
        if (value)
        {
            bits[p >> 6] |= 1UL << (int)(p & 63);
        }
        else if ((p >> 6) < bits.Length)
        {
            bits[p >> 6] &= ~(1UL << (int)(p & 63));
        }
    }
}
