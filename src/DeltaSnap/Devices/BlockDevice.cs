namespace DeltaSnap.Devices;

/// <summary>
/// A fixed-length array of bytes with positional reads and writes: a raw block device, an image file, a
/// snapshot opened by a driver, or memory. Public methods validate their arguments, then call the
/// protected <c>…Core</c> methods that implementations override. Reads and writes at distinct offsets
/// may run concurrently.
/// </summary>
public abstract class BlockDevice : IAsyncDisposable, IDisposable
{
    private int _disposed;

    /// <summary>Initializes the device.</summary>
    protected BlockDevice()
    {
    }

    /// <summary>The length of the device in bytes.</summary>
    public abstract long Length { get; }

    /// <summary>Whether writes, unmaps and resizes are refused.</summary>
    public virtual bool IsReadOnly => false;

    /// <summary>
    /// Whether <see cref="GetAllocatedRangesAsync"/> reports real allocation (holes, unallocated
    /// clusters). When false it reports the whole device as allocated.
    /// </summary>
    public virtual bool CanReportAllocation => false;

    /// <summary>
    /// Whether <see cref="ReadSynchronously"/> reads without going through the thread pool (files: <c>pread</c>).
    /// The checksum scan uses it: an asynchronous file read on Unix is a synchronous one queued to the thread pool,
    /// and that hop cost a fifth of the scan's CPU time at 128 KiB reads (measured in-process, one core).
    /// </summary>
    internal virtual bool CanReadSynchronously => false;

    /// <summary>
    /// For the checksum scan: a reader of the device's bytes straight from a memory map of the page cache, without a
    /// copy, or null where that is not safe or not possible (then read with <see cref="ReadSynchronously"/>). Read-only
    /// image files on Linux, under a read lease: see <see cref="FileReadLease"/>.
    /// </summary>
    internal virtual MappedReads? OpenMappedReads() => null;

    /// <summary>Whether <see cref="SetLengthAsync"/> is supported.</summary>
    public virtual bool CanResize => false;

    /// <summary>Reads exactly <c>buffer.Length</c> bytes at <paramref name="offset"/> on the calling thread; only when <see cref="CanReadSynchronously"/>.</summary>
    internal void ReadSynchronously(long offset, Span<byte> buffer)
    {
        CheckRange(offset, buffer.Length);
        if (!CanReadSynchronously)
        {
            ThrowHelper.ThrowInvalidOperation("The device cannot read synchronously.");
        }
        ReadSynchronouslyCore(offset, buffer);
    }

    /// <summary>Reads exactly <c>buffer.Length</c> bytes on the calling thread; devices that say <see cref="CanReadSynchronously"/> override it.</summary>
    private protected virtual void ReadSynchronouslyCore(long offset, Span<byte> buffer) =>
        ThrowHelper.ThrowInvalidOperation("The device cannot read synchronously.");

    /// <summary>Reads exactly <c>buffer.Length</c> bytes starting at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The bytes are not all inside the device.</exception>
    /// <exception cref="ObjectDisposedException">The device is disposed.</exception>
    public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, buffer.Length);
        return buffer.IsEmpty ? ValueTask.CompletedTask : ReadCoreAsync(offset, buffer, cancellationToken);
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The bytes are not all inside the device.</exception>
    /// <exception cref="InvalidOperationException">The device is read-only.</exception>
    /// <exception cref="ObjectDisposedException">The device is disposed.</exception>
    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, data.Length);
        CheckWritable();
        return data.IsEmpty ? ValueTask.CompletedTask : WriteCoreAsync(offset, data, cancellationToken);
    }

    /// <summary>Discards <paramref name="range"/>: afterwards it reads as zeros and, where the device can, holds no storage.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the device.</exception>
    /// <exception cref="InvalidOperationException">The device is read-only.</exception>
    public ValueTask UnmapAsync(ByteRange range, CancellationToken cancellationToken = default)
    {
        CheckRange(range.Offset, range.Length);
        CheckWritable();
        return range.IsEmpty ? ValueTask.CompletedTask : UnmapCoreAsync(range, cancellationToken);
    }

    /// <summary>Makes every completed write durable.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        CheckDisposed();
        return IsReadOnly ? Task.CompletedTask : FlushCoreAsync(cancellationToken);
    }

    /// <summary>Grows or shrinks the device.</summary>
    /// <exception cref="NotSupportedException">The device cannot be resized (<see cref="CanResize"/> is false).</exception>
    public Task SetLengthAsync(long length, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNegative(length);
        CheckWritable();
        if (!CanResize)
        {
            ThrowHelper.ThrowNotSupported($"{GetType().Name} cannot be resized.");
        }
        return SetLengthCoreAsync(length, cancellationToken);
    }

    /// <summary>
    /// The ascending, disjoint ranges inside <paramref name="range"/> that may hold data. Bytes outside
    /// them read as zeros. A device that cannot tell reports the whole range.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the device.</exception>
    public IAsyncEnumerable<ByteRange> GetAllocatedRangesAsync(ByteRange range, CancellationToken cancellationToken = default)
    {
        CheckRange(range.Offset, range.Length);
        return GetAllocatedRangesCoreAsync(range, cancellationToken);
    }

    /// <summary>Reads the whole allocation of the device into a <see cref="RangeSet"/>.</summary>
    public async Task<RangeSet> ReadAllocationAsync(CancellationToken cancellationToken = default)
    {
        var set = new RangeSet();
        await foreach (var r in GetAllocatedRangesAsync(new ByteRange(0, Length), cancellationToken).ConfigureAwait(false))
        {
            set.Add(r);
        }
        return set;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await DisposeCoreAsync().ConfigureAwait(false);
            Dispose(false);
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>Reads exactly <c>buffer.Length</c> bytes (arguments already validated, length &gt; 0).</summary>
    protected abstract ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Writes the bytes (arguments already validated, length &gt; 0, device writable).</summary>
    protected abstract ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Discards the range. The default writes zeros.</summary>
    protected virtual async ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken)
    {
        var zeros = new byte[(int)Math.Min(range.Length, 1 << 20)];
        for (var offset = range.Offset; offset < range.End; offset += zeros.Length)
        {
            var n = (int)Math.Min(zeros.Length, range.End - offset);
            await WriteCoreAsync(offset, zeros.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Makes completed writes durable. The default does nothing.</summary>
    protected virtual Task FlushCoreAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Resizes the device (only called when <see cref="CanResize"/> is true).</summary>
    protected virtual Task SetLengthCoreAsync(long length, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{GetType().Name} cannot be resized.");

    /// <summary>Reports the allocated ranges inside <paramref name="range"/>. The default reports all of it.</summary>
    protected virtual async IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(
        ByteRange range, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await Task.CompletedTask.ConfigureAwait(false);
        if (!range.IsEmpty)
        {
            yield return range;
        }
    }

    /// <summary>Releases resources.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Releases resources asynchronously; <see cref="Dispose(bool)"/> runs after it with false.</summary>
    protected virtual ValueTask DisposeCoreAsync()
    {
        Dispose(true);
        return ValueTask.CompletedTask;
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> after disposal.</summary>
    protected void CheckDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            ThrowHelper.ThrowObjectDisposed(this);
        }
    }

    private void CheckRange(long offset, long length)
    {
        CheckDisposed();
        if (offset < 0 || length < 0 || offset > Length - length)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(offset), offset, $"[{offset}, +{length}) is not inside the device of {Length} bytes.");
        }
    }

    private void CheckWritable()
    {
        CheckDisposed();
        if (IsReadOnly)
        {
            ThrowHelper.ThrowInvalidOperation($"{GetType().Name} is read-only.");
        }
    }
}
