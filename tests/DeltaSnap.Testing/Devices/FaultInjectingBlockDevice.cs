using DeltaSnap.Devices;

namespace DeltaSnap.Testing.Devices;

/// <summary>
/// Wraps a device and fails on purpose: the write (or read) after the first <c>N</c> succeeds throws an
/// <see cref="IOException"/>, as a full disk or a dying device would (Pipelines' ThrowAfterNWritesStream).
/// </summary>
public sealed class FaultInjectingBlockDevice(BlockDevice inner, int writesBeforeFault = int.MaxValue, int readsBeforeFault = int.MaxValue) : BlockDevice
{
    private int _writes;
    private int _reads;

    public BlockDevice Inner { get; } = inner;

    /// <summary>
    /// Whether disposing this device disposes <see cref="Inner"/> too: set by whoever hands out the wrapper in place of a
    /// device it opened (<see cref="FaultInjectingVolume"/>), so that a backend's handle (an RBD image and its watch) is
    /// closed when the caller disposes what it was given, not when the finalizer runs.
    /// </summary>
    public bool OwnsInner { get; init; }
    public int Writes => Volatile.Read(ref _writes);
    public bool Faulted { get; private set; }

    public override long Length => Inner.Length;
    public override bool CanReportAllocation => Inner.CanReportAllocation;
    public override bool CanResize => Inner.CanResize;

    protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _reads) > readsBeforeFault)
        {
            Faulted = true;
            throw new IOException($"Injected read fault at offset {offset}.");
        }
        return Inner.ReadAsync(offset, buffer, cancellationToken);
    }

    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _writes) > writesBeforeFault)
        {
            Faulted = true;
            throw new IOException($"Injected write fault at offset {offset} (No space left on device).");
        }
        return Inner.WriteAsync(offset, data, cancellationToken);
    }

    protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken) => Inner.UnmapAsync(range, cancellationToken);

    protected override Task FlushCoreAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    protected override Task SetLengthCoreAsync(long length, CancellationToken cancellationToken) => Inner.SetLengthAsync(length, cancellationToken);

    protected override IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(ByteRange range, CancellationToken cancellationToken) =>
        Inner.GetAllocatedRangesAsync(range, cancellationToken);

    protected override async ValueTask DisposeCoreAsync()
    {
        if (OwnsInner)
        {
            await Inner.DisposeAsync().ConfigureAwait(false);
        }
        await base.DisposeCoreAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && OwnsInner)
        {
            Inner.Dispose(); // after DisposeCoreAsync, a second dispose of Inner does nothing
        }
        base.Dispose(disposing);
    }
}
