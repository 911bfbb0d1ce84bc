using System.Buffers;
using DeltaSnap.Checksums;
using DeltaSnap.Delta;

namespace DeltaSnap.Remote;

/// <summary>
/// A block device on the server. Reads and writes are requests of at most 1 MiB; small writes are gathered into batches
/// (up to 1 MiB or 256 writes, sent when full and before any other call on the device), so that scattered 4 KiB writes
/// cost a few bytes of framing each. A batch that fails makes the next call and <c>FlushAsync</c> fail.
/// Digests of blocks are computed on the server.
/// </summary>
internal sealed class RemoteBlockDevice : DigestingBlockDevice
{
    private const int MaxBatchBytes = 1 << 20;
    private const int MaxBatchWrites = 256;

    private readonly ClientSession _session;
    private readonly long _handle;
    private readonly bool _readOnly;
    private readonly bool _canReportAllocation;
    private readonly bool _canResize;
    private readonly SemaphoreSlim _batchLock = new(1, 1);
    private readonly List<long[]> _batchRanges = [];
    private byte[]? _batch;
    private int _batchBytes;
    private Exception? _writeFailure;
    private long _length;

    public RemoteBlockDevice(ClientSession session, DeviceMessage message)
    {
        _session = session;
        _handle = message.Handle;
        _length = message.Length;
        _readOnly = message.ReadOnly;
        _canReportAllocation = message.CanReportAllocation;
        _canResize = message.CanResize;
    }

    public override long Length => Interlocked.Read(ref _length);

    public override bool IsReadOnly => _readOnly;

    public override bool CanReportAllocation => _canReportAllocation;

    public override bool CanResize => _canResize;

    protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        await SendBatchAsync(cancellationToken).ConfigureAwait(false);
        while (!buffer.IsEmpty)
        {
            var n = Math.Min(buffer.Length, SessionLimits.MaxDataFrame);
            var piece = buffer[..n];
            await _session.CallAsync(new ControlMessage { Op = "device.read", Handle = _handle, Offset = offset, Length = n }, upload: null, async (stream, token) =>
            {
                var read = await stream.ReadAtLeastAsync(piece, n, throwOnEndOfStream: false, token).ConfigureAwait(false);
                if (read != n)
                {
                    throw new SessionException(SessionErrorReason.ProtocolViolation, $"{_session.PeerName} answered a read of {n} bytes with {read}.");
                }
            }, cancellationToken).ConfigureAwait(false);
            offset += n;
            buffer = buffer[n..];
        }
    }

    protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            var n = Math.Min(data.Length, MaxBatchBytes);
            await AddToBatchAsync(offset, data[..n], cancellationToken).ConfigureAwait(false);
            offset += n;
            data = data[n..];
        }
    }

    private async Task AddToBatchAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _batchLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfWriteFailed();
            if (_batchBytes + data.Length > MaxBatchBytes || _batchRanges.Count == MaxBatchWrites)
            {
                await SendBatchLockedAsync(cancellationToken).ConfigureAwait(false);
            }
            _batch ??= ArrayPool<byte>.Shared.Rent(MaxBatchBytes);
            data.CopyTo(_batch.AsMemory(_batchBytes));
            _batchBytes += data.Length;
            if (_batchRanges.Count > 0 && _batchRanges[^1][0] + _batchRanges[^1][1] == offset)
            {
                _batchRanges[^1][1] += data.Length;
            }
            else
            {
                _batchRanges.Add([offset, data.Length]);
            }
        }
        finally
        {
            _batchLock.Release();
        }
    }

    private async Task SendBatchAsync(CancellationToken cancellationToken)
    {
        if (_batchBytes == 0 && _writeFailure is null)
        {
            return;
        }
        await _batchLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfWriteFailed();
            await SendBatchLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _batchLock.Release();
        }
    }

    private async Task SendBatchLockedAsync(CancellationToken cancellationToken)
    {
        if (_batchBytes == 0)
        {
            return;
        }
        var batch = _batch!;
        var length = _batchBytes;
        var request = new ControlMessage { Op = "device.write", Handle = _handle, Ranges = _batchRanges.ToArray() };
        _batchRanges.Clear();
        _batchBytes = 0;
        try
        {
            await _session.CallAsync(request, (stream, token) => stream.WriteAsync(batch.AsMemory(0, length), token).AsTask(), download: null, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _writeFailure = e;
            throw;
        }
    }

    private void ThrowIfWriteFailed()
    {
        if (_writeFailure is { } failure)
        {
            throw new IOException($"An earlier write to the device on {_session.PeerName} failed: {failure.Message}", failure);
        }
    }

    protected override async ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken)
    {
        await SendBatchAsync(cancellationToken).ConfigureAwait(false);
        await _session.CallAsync(new ControlMessage { Op = "device.unmap", Handle = _handle, Offset = range.Offset, Length = range.Length }, cancellationToken)
            .ConfigureAwait(false);
    }

    protected override async Task FlushCoreAsync(CancellationToken cancellationToken)
    {
        await SendBatchAsync(cancellationToken).ConfigureAwait(false);
        await _session.CallAsync(new ControlMessage { Op = "device.flush", Handle = _handle }, cancellationToken).ConfigureAwait(false);
    }

    protected override async Task SetLengthCoreAsync(long length, CancellationToken cancellationToken)
    {
        await SendBatchAsync(cancellationToken).ConfigureAwait(false);
        await _session.CallAsync(new ControlMessage { Op = "device.setLength", Handle = _handle, Size = length }, cancellationToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _length, length);
    }

    protected override async IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(ByteRange range,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await SendBatchAsync(cancellationToken).ConfigureAwait(false);
        var ranges = new List<ByteRange>();
        await _session.CallAsync(new ControlMessage { Op = "device.allocated", Handle = _handle, Offset = range.Offset, Length = range.Length }, upload: null,
            async (stream, token) =>
            {
                await foreach (var r in RangeCodec.ReadAsync(stream, token).ConfigureAwait(false))
                {
                    ranges.Add(r);
                }
            }, cancellationToken).ConfigureAwait(false);
        foreach (var r in ranges)
        {
            yield return r;
        }
    }

    protected override async ValueTask ReadBlockDigestsCoreAsync(IReadOnlyList<ByteRange> ranges, int blockSize, ChecksumAlgorithm algorithm, int digestLength,
        Memory<byte> destination, CancellationToken cancellationToken)
    {
        await SendBatchAsync(cancellationToken).ConfigureAwait(false);
        var request = new ControlMessage
        {
            Op = "device.digests",
            Handle = _handle,
            BlockSize = blockSize,
            Algorithm = (int)algorithm,
            DigestLength = digestLength,
            Ranges = ranges.Select(r => new[] { r.Offset, r.Length }).ToArray(),
        };
        await _session.CallAsync(request, upload: null, async (stream, token) =>
        {
            var read = await stream.ReadAtLeastAsync(destination, destination.Length, throwOnEndOfStream: false, token).ConfigureAwait(false);
            if (read != destination.Length)
            {
                throw new SessionException(SessionErrorReason.ProtocolViolation, $"{_session.PeerName} sent {read} bytes of digests instead of {destination.Length}.");
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        try
        {
            if (_writeFailure is null && _batchBytes > 0)
            {
                await SendBatchAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SessionException or IOException or DeltaSnapException)
        {
            // Unflushed writes of a device that is being dropped: the caller did not flush.
        }
        finally
        {
            if (_batch is not null)
            {
                ArrayPool<byte>.Shared.Return(_batch);
                _batch = null;
            }
            await _session.ReleaseAsync(_handle).ConfigureAwait(false);
        }
        _batchLock.Dispose();
        await base.DisposeCoreAsync().ConfigureAwait(false);
    }
}
