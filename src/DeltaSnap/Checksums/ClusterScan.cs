using System.Buffers;
using DeltaSnap.Devices;

namespace DeltaSnap.Checksums;

/// <summary>
/// One pass of <see cref="ClusterChecksums.ComputeAsync"/> over a device: hands contiguous segments of clusters to
/// workers, and has each worker read its segment front to back, <see cref="ReadSize"/> bytes at a time, and hash the
/// clusters in place (clusters larger than a read incrementally, piece by piece): straight from a memory map of the
/// page cache where the device offers one (<see cref="BlockDevice.OpenMappedReads"/>: read-only image files under a
/// read lease), else from one pooled buffer it reads into.
/// </summary>
/// <remarks>
/// Segments are contiguous (64 MiB) so that each worker reads sequentially and two workers never share a read;
/// taking them from a counter keeps a worker that the machine slows from holding up the end. Devices that can read
/// synchronously (files: <c>pread</c>) are read on a thread per worker: an asynchronous file read on Unix is a
/// synchronous one queued to the thread pool. Measured (benchmarks/README.md): the read size (128 KiB to 4 MiB)
/// made no difference once the hashing code was JIT-optimized; what made the scan slow in the tool was the hashing
/// running as quick-JIT code; what made it slower than a plain read was the copy out of the page cache, which the map
/// avoids (one core: 0.08 s of CPU per GiB against 0.13 s). Progress is reported outside a mapped access: a worker
/// notices a broken lease before its next piece, so a slow progress callback delays another process's opening of the
/// file for writing by as long as it takes (the kernel stops waiting after <c>lease-break-time</c>), never faults.
/// </remarks>
internal sealed class ClusterScan
{
    /// <summary>The size of one read: whole clusters up to 1 MiB, or a 1 MiB piece of a larger one.</summary>
    internal const int ReadSize = 1 << 20;

    private const long SegmentBytes = 64L << 20;

    // Zero-filled, never written: stands in for the leading zero pieces of a cluster that turns out to hold data.
    private static readonly byte[] Zeros = new byte[64 * 1024];

    private readonly BlockDevice _device;
    private readonly ClusterChecksumsBuilder _builder;
    private readonly AllocationMap _allocated;
    private readonly byte[] _zeroDigest;
    private readonly IProgress<ChecksumProgress>? _progress;
    private readonly long _segmentClusters;
    private readonly long _reportEvery;
    private long _nextSegment = -1;
    private long _done;
    private long _bytesRead;

    public ClusterScan(BlockDevice device, ClusterChecksumsBuilder builder, AllocationMap allocated, byte[] zeroDigest,
        int workers, IProgress<ChecksumProgress>? progress)
    {
        _device = device;
        _builder = builder;
        _allocated = allocated;
        _zeroDigest = zeroDigest;
        _progress = progress;
        var count = builder.Layout.ClusterCount;
        var perWorker = (count + workers - 1) / workers;
        _segmentClusters = Math.Clamp(SegmentBytes >> builder.Layout.ClusterShift, 1, Math.Max(1, perWorker));
        _reportEvery = Math.Max(1, count / 100);
    }

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Runs <paramref name="workers"/> workers to the end. Devices that read synchronously get a thread each.</summary>
    public Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        var tasks = new Task[workers];
        for (var w = 0; w < workers; w++)
        {
            tasks[w] = _device.CanReadSynchronously
                ? Task.Factory.StartNew(() => Work(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                : Task.Run(() => WorkAsync(cancellationToken), cancellationToken);
        }
        return Task.WhenAll(tasks);
    }

    private void Work(CancellationToken cancellationToken)
    {
        var worker = new Worker(this);
        var mapped = _device.OpenMappedReads();
        try
        {
            while (worker.TryGetNextRead(out var offset, out var length))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (mapped is not null && mapped.TryBegin(offset, length, out var view))
                {
                    try
                    {
                        worker.Consume(view);
                    }
                    finally
                    {
                        mapped.End();
                    }
                }
                else
                {
                    var data = worker.Buffer.AsSpan(0, length);
                    _device.ReadSynchronously(offset, data);
                    worker.Consume(data);
                }
                worker.ReportConsumed(); // outside the mapped access: a progress callback may take its time
            }
        }
        finally
        {
            mapped?.Dispose();
            worker.Dispose();
        }
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        var worker = new Worker(this);
        try
        {
            while (worker.TryGetNextRead(out var offset, out var length))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var data = worker.Buffer.AsMemory(0, length);
                await _device.ReadAsync(offset, data, cancellationToken).ConfigureAwait(false);
                worker.Consume(data.Span);
                worker.ReportConsumed();
            }
        }
        finally
        {
            worker.Dispose();
        }
    }

    private void ClustersDone(long clusters, long bytes)
    {
        if (bytes > 0)
        {
            Interlocked.Add(ref _bytesRead, bytes);
        }
        var before = Interlocked.Add(ref _done, clusters) - clusters;
        var done = before + clusters;
        var count = _builder.Layout.ClusterCount;
        if (_progress is not null && done / _reportEvery != before / _reportEvery && done < count)
        {
            _progress.Report(new ChecksumProgress(done, count, BytesRead));
        }
    }

    /// <summary>
    /// One worker's state: the segment it reads, the read it asked for, and the cluster it is part-way through when
    /// clusters are larger than a read (hashed incrementally; leading zero pieces are only counted, so an all-zero
    /// cluster is never hashed).
    /// </summary>
    private sealed class Worker : IDisposable
    {
        private readonly ClusterScan _scan;
        private readonly ClusterLayout _layout;
        private readonly ChecksumHasher? _hasher;
        private readonly byte[] _digest;
        private long _next;
        private long _segmentEnd;

        // The read asked for: whole clusters [_first, _first + _clusters), or a piece of cluster _first.
        private long _first;
        private int _clusters;

        // The large cluster in progress: bytes consumed, and whether all of them were zero.
        private int _consumed;
        private bool _allZero = true;

        // Clusters finished by the last Consume (and their bytes), reported by ReportConsumed.
        private long _finishedClusters;
        private long _finishedBytes;
        private byte[]? _buffer;

        public Worker(ClusterScan scan)
        {
            _scan = scan;
            _layout = scan._builder.Layout;
            if (_layout.ClusterSize > ReadSize)
            {
                var builder = scan._builder;
                _hasher = builder.CustomAlgorithm is { } custom ? custom.CreateHasher() : ChecksumHasher.Create(builder.Algorithm);
            }
            _digest = new byte[scan._builder.HashLength];
        }

        /// <summary>
        /// The buffer reads go into, rented on first use (not at all when every read comes from a map). Cluster sizes
        /// and ReadSize are powers of two: a read holds whole small clusters or a piece of a large one.
        /// </summary>
        public byte[] Buffer => _buffer ??= ArrayPool<byte>.Shared.Rent(ReadSize);

        public bool TryGetNextRead(out long offset, out int length)
        {
            if (_hasher is not null && _consumed > 0)
            {
                // The rest of the large cluster in progress.
                offset = _layout.OffsetOf(_first) + _consumed;
                length = Math.Min(ReadSize, _layout.LengthOf(_first) - _consumed);
                return true;
            }
            var skipped = 0L;
            while (true)
            {
                if (_next >= _segmentEnd && !TakeSegment())
                {
                    if (skipped > 0)
                    {
                        _scan.ClustersDone(skipped, 0);
                    }
                    offset = length = 0;
                    return false;
                }
                if (_scan._allocated[_next])
                {
                    break;
                }
                _next++;
                skipped++;
            }
            if (skipped > 0)
            {
                _scan.ClustersDone(skipped, 0);
            }
            _first = _next;
            offset = _layout.OffsetOf(_first);
            if (_hasher is not null)
            {
                _clusters = 1;
                length = Math.Min(ReadSize, _layout.LengthOf(_first));
                return true;
            }
            // Small clusters: as many allocated neighbours as one read holds, each hashed in one call.
            var most = ReadSize >> _layout.ClusterShift;
            var end = _first + 1;
            while (end < _segmentEnd && end - _first < most && _scan._allocated[end])
            {
                end++;
            }
            _clusters = (int)(end - _first);
            length = (int)(_layout.OffsetOf(end - 1) + _layout.LengthOf(end - 1) - offset);
            _next = end;
            return true;
        }

        public void Consume(ReadOnlySpan<byte> data)
        {
            var builder = _scan._builder;
            if (_hasher is null)
            {
                var position = 0;
                for (var i = _first; i < _first + _clusters; i++)
                {
                    var length = _layout.LengthOf(i);
                    builder.SetFromData(i, data.Slice(position, length), _scan._zeroDigest);
                    position += length;
                }
                _finishedClusters = _clusters;
                _finishedBytes = data.Length;
                return;
            }

            if (_allZero && data.ContainsAnyExcept((byte)0))
            {
                AppendZeros(_consumed);
                _allZero = false;
            }
            if (!_allZero)
            {
                _hasher.Append(data);
            }
            _consumed += data.Length;
            var clusterLength = _layout.LengthOf(_first);
            if (_consumed < clusterLength)
            {
                return;
            }
            if (_allZero && clusterLength == _layout.ClusterSize)
            {
                builder.Set(_first, ClusterState.Zero, _scan._zeroDigest);
            }
            else
            {
                if (_allZero)
                {
                    AppendZeros(clusterLength); // a short all-zero tail cluster: its own digest
                }
                _hasher.GetCurrentHash(_digest);
                builder.Set(_first, _allZero ? ClusterState.Zero : ClusterState.Data, _digest);
            }
            _hasher.Reset();
            _consumed = 0;
            _allZero = true;
            _next = _first + 1;
            _finishedClusters = 1;
            _finishedBytes = clusterLength;
        }

        /// <summary>Counts (and reports progress for) the clusters the last <see cref="Consume"/> finished.</summary>
        public void ReportConsumed()
        {
            if (_finishedClusters > 0)
            {
                _scan.ClustersDone(_finishedClusters, _finishedBytes);
                _finishedClusters = 0;
                _finishedBytes = 0;
            }
        }

        public void Dispose()
        {
            if (_buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }
        }

        private void AppendZeros(int count)
        {
            for (; count > 0; count -= Zeros.Length)
            {
                _hasher!.Append(Zeros.AsSpan(0, Math.Min(count, Zeros.Length)));
            }
        }

        private bool TakeSegment()
        {
            var count = _layout.ClusterCount;
            var segment = Interlocked.Increment(ref _scan._nextSegment);
            var start = segment * _scan._segmentClusters;
            if (start >= count)
            {
                return false;
            }
            _next = start;
            _segmentEnd = Math.Min(count, start + _scan._segmentClusters);
            return true;
        }
    }
}
