using DeltaSnap.Devices;

namespace DeltaSnap.Testing.Devices;

/// <summary>Wraps a device and counts what passes through it: bytes read and written, reads per offset.</summary>
public sealed class CountingBlockDevice(BlockDevice inner) : BlockDevice
{
    private long _bytesRead;
    private long _bytesWritten;
    private long _bytesUnmapped;
    private long _reads;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, int> _readsByOffset = new();

    public BlockDevice Inner { get; } = inner;
    public long BytesRead => Interlocked.Read(ref _bytesRead);
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);
    public long BytesUnmapped => Interlocked.Read(ref _bytesUnmapped);
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>The most times any one offset was read.</summary>
    public int MaxReadsOfOneOffset => _readsByOffset.IsEmpty ? 0 : _readsByOffset.Values.Max();

    public override long Length => Inner.Length;
    public override bool IsReadOnly => Inner.IsReadOnly;
    public override bool CanReportAllocation => Inner.CanReportAllocation;
    public override bool CanResize => Inner.CanResize;

    protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        await Inner.ReadAsync(offset, buffer, cancellationToken);
        Interlocked.Add(ref _bytesRead, buffer.Length);
        Interlocked.Increment(ref _reads);
        _readsByOffset.AddOrUpdate(offset, 1, (_, n) => n + 1);
    }

    protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await Inner.WriteAsync(offset, data, cancellationToken);
        Interlocked.Add(ref _bytesWritten, data.Length);
    }

    protected override async ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken)
    {
        await Inner.UnmapAsync(range, cancellationToken);
        Interlocked.Add(ref _bytesUnmapped, range.Length);
    }

    protected override Task FlushCoreAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    protected override Task SetLengthCoreAsync(long length, CancellationToken cancellationToken) => Inner.SetLengthAsync(length, cancellationToken);

    protected override IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(ByteRange range, CancellationToken cancellationToken) =>
        Inner.GetAllocatedRangesAsync(range, cancellationToken);
}
