using DeltaSnap.Delta;
using DeltaSnap.Devices;

namespace DeltaSnap.Tests.Copy;

/// <summary>Random sparse volumes and pairs of them for the planner and shallow copy tests.</summary>
internal static class TestVolumes
{
    /// <summary>A sparse device whose allocated runs hold random bytes, with some runs of written zeros.</summary>
    public static async Task<MemoryBlockDevice> RandomSparseAsync(Random random, long length, int pageSize = 4096)
    {
        var device = new MemoryBlockDevice(length, pageSize);
        var runs = random.Next(1, 12);
        for (var i = 0; i < runs && length > 0; i++)
        {
            var offset = random.NextInt64(length);
            var count = (int)Math.Min(length - offset, random.Next(1, 96 * 1024));
            var data = new byte[count];
            if (random.Next(5) != 0)
            {
                random.NextBytes(data);
            }
            await device.WriteAsync(offset, data);
        }
        return device;
    }

    /// <summary>A copy of <paramref name="device"/> with the same allocation (pages in holes stay holes).</summary>
    public static async Task<MemoryBlockDevice> CloneAsync(MemoryBlockDevice device, long? length = null)
    {
        var clone = new MemoryBlockDevice(length ?? device.Length, device.PageSize);
        var end = Math.Min(clone.Length, device.Length);
        foreach (var range in (await device.ReadAllocationAsync()).Intersect(new RangeSet([new ByteRange(0, end)])))
        {
            var data = new byte[range.Length];
            await device.ReadAsync(range.Offset, data);
            await clone.WriteAsync(range.Offset, data);
        }
        return clone;
    }

    /// <summary>
    /// Changes <paramref name="device"/> in a few random places: new data (aligned or not), written zeros,
    /// unmapped ranges.
    /// </summary>
    public static async Task MutateAsync(Random random, BlockDevice device, int changes)
    {
        for (var i = 0; i < changes && device.Length > 0; i++)
        {
            var offset = random.NextInt64(device.Length);
            if (random.Next(2) == 0)
            {
                offset &= ~4095L;
            }
            var length = (int)Math.Min(device.Length - offset, random.Next(1, 40 * 1024));
            switch (random.Next(4))
            {
                case 0:
                    await device.WriteAsync(offset, new byte[length]);
                    break;
                case 1:
                    await device.UnmapAsync(new ByteRange(offset, length));
                    break;
                default:
                    var data = new byte[length];
                    random.NextBytes(data);
                    await device.WriteAsync(offset, data);
                    break;
            }
        }
    }

    public static async Task<byte[]> ReadAllAsync(BlockDevice device)
    {
        var content = new byte[device.Length];
        await device.ReadAsync(0, content);
        return content;
    }

    /// <summary>Carries out a plan directly, without the shallow copy machinery.</summary>
    public static async Task ApplyAsync(DeltaPlan plan, BlockDevice source, BlockDevice target)
    {
        if (target.Length != source.Length)
        {
            await target.SetLengthAsync(source.Length);
        }
        foreach (var range in plan.CopyRanges)
        {
            var data = new byte[range.Length];
            await source.ReadAsync(range.Offset, data);
            await target.WriteAsync(range.Offset, data);
        }
        foreach (var range in plan.UnmapRanges)
        {
            await target.UnmapAsync(range);
        }
    }
}

/// <summary>A sink that writes to a device and fails the test if calls do not come in ascending, non-overlapping order.</summary>
internal sealed class OrderCheckingSink(BlockDevice device) : DeltaSink
{
    private long _end;

    public BlockDevice Device { get; } = device;

    public int Calls { get; private set; }

    public bool OutOfOrder { get; private set; }

    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        Check(offset, data.Length);
        return Device.WriteAsync(offset, data, cancellationToken);
    }

    protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken)
    {
        Check(range.Offset, range.Length);
        return Device.UnmapAsync(range, cancellationToken);
    }

    private void Check(long offset, long length)
    {
        Calls++;
        if (offset < _end)
        {
            OutOfOrder = true;
        }
        _end = offset + length;
    }
}

/// <summary>Wraps a device; each read waits a random short time first, so parallel reads finish out of order. Counts reads in flight.</summary>
internal sealed class JitteryBlockDevice(BlockDevice inner, int seed) : BlockDevice
{
    private readonly Random _random = new(seed);
    private int _inFlight;
    private int _maxInFlight;
    private long _readCalls;

    public int MaxReadsInFlight => Volatile.Read(ref _maxInFlight);

    public long ReadCalls => Interlocked.Read(ref _readCalls);

    public override long Length => inner.Length;

    public override bool CanReportAllocation => inner.CanReportAllocation;

    protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var now = Interlocked.Increment(ref _inFlight);
        int max;
        while (now > (max = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max)
        {
        }
        Interlocked.Increment(ref _readCalls);
        try
        {
            int delay;
            lock (_random)
            {
                delay = _random.Next(3);
            }
            await Task.Delay(delay, cancellationToken);
            await inner.ReadAsync(offset, buffer, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        inner.WriteAsync(offset, data, cancellationToken);

    protected override IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(ByteRange range, CancellationToken cancellationToken) =>
        inner.GetAllocatedRangesAsync(range, cancellationToken);
}

/// <summary>Wraps a device and hides its allocation, like a raw device that cannot report holes.</summary>
internal sealed class OpaqueBlockDevice(BlockDevice inner) : BlockDevice
{
    public override long Length => inner.Length;

    protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken) =>
        inner.ReadAsync(offset, buffer, cancellationToken);

    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        inner.WriteAsync(offset, data, cancellationToken);
}
