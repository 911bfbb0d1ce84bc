using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace DeltaSnap.Devices;

/// <summary>
/// A sparse device in memory, kept as pages that exist only once written: for tests, samples and small
/// volumes. It reports allocation per page, so it behaves like a sparse file.
/// </summary>
public sealed class MemoryBlockDevice : BlockDevice
{
    private readonly ConcurrentDictionary<long, byte[]> _pages = new();
    private readonly int _pageShift;
    private long _length;

    /// <summary>Creates a device of <paramref name="length"/> bytes that reads as zeros.</summary>
    /// <param name="length">The length in bytes.</param>
    /// <param name="pageSize">The allocation granularity: a power of two from 512 bytes to 64 MiB.</param>
    public MemoryBlockDevice(long length, int pageSize = 4096)
    {
        ThrowHelper.ThrowIfNegative(length);
        if (pageSize < 512 || pageSize > ClusterLayout.MaxClusterSize || !System.Numerics.BitOperations.IsPow2(pageSize))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(pageSize), pageSize, "The page size must be a power of two from 512 bytes to 64 MiB.");
        }
        _length = length;
        PageSize = pageSize;
        _pageShift = System.Numerics.BitOperations.Log2((uint)pageSize);
    }

    /// <summary>Creates a device holding a copy of <paramref name="content"/> (every page allocated).</summary>
    public MemoryBlockDevice(ReadOnlySpan<byte> content, int pageSize = 4096)
        : this(content.Length, pageSize)
    {
        for (long offset = 0; offset < content.Length; offset += pageSize)
        {
            var page = new byte[pageSize];
            content.Slice((int)offset, (int)Math.Min(pageSize, content.Length - offset)).CopyTo(page);
            _pages[offset >> _pageShift] = page;
        }
    }

    /// <summary>The allocation granularity in bytes.</summary>
    public int PageSize { get; }

    /// <summary>The bytes of memory the allocated pages hold.</summary>
    public long AllocatedBytes => (long)_pages.Count * PageSize;

    /// <inheritdoc />
    public override long Length => Volatile.Read(ref _length);

    /// <inheritdoc />
    public override bool CanReportAllocation => true;

    /// <inheritdoc />
    public override bool CanResize => true;

    /// <summary>A copy of the whole content.</summary>
    public byte[] ToArray()
    {
        var result = new byte[Length];
        Read(0, result);
        return result;
    }

    /// <inheritdoc />
    protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Read(offset, buffer.Span);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var span = data.Span;
        while (!span.IsEmpty)
        {
            var index = offset >> _pageShift;
            var within = (int)(offset & (PageSize - 1));
            var n = Math.Min(span.Length, PageSize - within);
            var page = _pages.GetOrAdd(index, static (_, size) => new byte[size], PageSize);
            span[..n].CopyTo(page.AsSpan(within));
            span = span[n..];
            offset += n;
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        for (var offset = range.Offset; offset < range.End;)
        {
            var index = offset >> _pageShift;
            var within = (int)(offset & (PageSize - 1));
            var n = (int)Math.Min(range.End - offset, PageSize - within);
            if (n == PageSize)
            {
                _pages.TryRemove(index, out _);
            }
            else if (_pages.TryGetValue(index, out var page))
            {
                page.AsSpan(within, n).Clear();
            }
            offset += n;
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    protected override Task SetLengthCoreAsync(long length, CancellationToken cancellationToken)
    {
        var old = Length;
        if (length < old)
        {
            foreach (var index in _pages.Keys.Where(i => (i << _pageShift) >= length).ToList())
            {
                _pages.TryRemove(index, out _);
            }
            var tail = (int)(length & (PageSize - 1));
            if (tail != 0 && _pages.TryGetValue(length >> _pageShift, out var page))
            {
                page.AsSpan(tail).Clear();
            }
        }
        Volatile.Write(ref _length, length);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override async IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(
        ByteRange range, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        var set = new RangeSet();
        foreach (var index in _pages.Keys)
        {
            var page = new ByteRange(index << _pageShift, PageSize).Intersect(range);
            set.Add(page);
        }
        foreach (var r in set)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return r;
        }
    }

    private void Read(long offset, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var index = offset >> _pageShift;
            var within = (int)(offset & (PageSize - 1));
            var n = Math.Min(buffer.Length, PageSize - within);
            if (_pages.TryGetValue(index, out var page))
            {
                page.AsSpan(within, n).CopyTo(buffer);
            }
            else
            {
                buffer[..n].Clear();
            }
            buffer = buffer[n..];
            offset += n;
        }
    }
}
