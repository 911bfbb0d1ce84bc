using System.Buffers;
using System.Threading.Channels;

namespace DeltaSnap.Remote;

/// <summary>
/// One request's data stream in each direction. Inbound: frames the read loop delivered, at most
/// <see cref="SessionConnection.ChannelWindow"/> wire bytes not yet consumed (a peer that sends more breaks the protocol);
/// consumed bytes are credited back to the peer. Outbound: the peer's window, refilled by its credit frames.
/// </summary>
internal sealed class DataChannel
{
    private readonly SessionConnection _connection;
    private readonly Channel<InboundFrame> _inbound = Channel.CreateUnbounded<InboundFrame>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private TaskCompletionSource _creditChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _creditLock = new();
    private long _credit = SessionConnection.ChannelWindow;
    private long _inboundBytes;
    private long _uncredited;
    private Exception? _aborted;
    private bool _ended;

    public DataChannel(SessionConnection connection, uint id)
    {
        _connection = connection;
        Id = id;
    }

    public uint Id { get; }

    /// <summary>The most inbound bytes this channel held at once (for the memory-bound tests).</summary>
    public long PeakInboundBytes { get; private set; }

    // ---- inbound ----

    /// <summary>Called by the read loop.</summary>
    public void Deliver(InboundFrame frame)
    {
        if (frame.Type == FrameType.Data)
        {
            var held = Interlocked.Add(ref _inboundBytes, frame.Length);
            if (held > SessionConnection.ChannelWindow)
            {
                frame.Release();
                throw new SessionException(SessionErrorReason.ProtocolViolation,
                    $"{_connection.PeerName} overran the window of channel {Id}: {held} bytes unconsumed, the window is {SessionConnection.ChannelWindow}.");
            }
            PeakInboundBytes = Math.Max(PeakInboundBytes, held);
        }
        if (!_inbound.Writer.TryWrite(frame))
        {
            frame.Release();
        }
    }

    /// <summary>The next inbound frame, or null after data-end. Throws the peer's error after data-error, or the session's failure.</summary>
    public async ValueTask<InboundFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        if (_ended)
        {
            return null;
        }
        InboundFrame frame;
        try
        {
            frame = await _inbound.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw _aborted ?? new SessionException(SessionErrorReason.ConnectionLost, $"Channel {Id} was closed.");
        }
        switch (frame.Type)
        {
            case FrameType.DataEnd:
                _ended = true;
                return null;
            case FrameType.DataError:
            {
                var message = ControlMessageContext.Deserialize(frame.Payload.Span);
                frame.Release();
                _ended = true;
                throw RemoteErrors.ToException(message, _connection.PeerName);
            }
            default:
                return frame;
        }
    }

    /// <summary>Marks a frame's bytes consumed and credits them back to the peer in batches of a quarter window.</summary>
    public void Consumed(InboundFrame frame)
    {
        frame.Release();
        Interlocked.Add(ref _inboundBytes, -frame.Length);
        var pending = Interlocked.Add(ref _uncredited, frame.Length);
        if (pending >= SessionConnection.ChannelWindow / 4)
        {
            Interlocked.Add(ref _uncredited, -pending);
            _ = _connection.SendCreditAsync(Id, pending)
                .ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    // ---- outbound ----

    public void AddCredit(long bytes)
    {
        TaskCompletionSource changed;
        lock (_creditLock)
        {
            _credit += bytes;
            changed = _creditChanged;
            _creditChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    public async Task WaitForCreditAsync(int bytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_aborted is { } aborted)
            {
                throw aborted;
            }
            Task changed;
            lock (_creditLock)
            {
                if (_credit >= bytes)
                {
                    _credit -= bytes;
                    return;
                }
                changed = _creditChanged.Task;
            }
            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Ends the channel for good: readers and writers waiting see <paramref name="reason"/>; undelivered frames are returned to the pool.</summary>
    public void Abort(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _aborted, reason, null) is not null)
        {
            return;
        }
        _inbound.Writer.TryComplete(reason);
        while (_inbound.Reader.TryRead(out var frame))
        {
            frame.Release();
        }
        lock (_creditLock)
        {
            _creditChanged.TrySetResult();
        }
    }
}

/// <summary>A read-only stream over a channel's inbound data frames (decompressing them), ending at data-end.</summary>
internal sealed class ChannelReadStream(DataChannel channel, CancellationToken cancellationToken) : Stream
{
    private InboundFrame? _frame;
    private byte[]? _decompressed;
    private ReadOnlyMemory<byte> _current;
    private bool _ended;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken token) => ReadAsync(buffer.AsMemory(offset, count), token).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken token = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        while (_current.IsEmpty)
        {
            ReleaseCurrent();
            if (_ended)
            {
                return 0;
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, cancellationToken);
            var frame = await channel.ReadFrameAsync(linked.Token).ConfigureAwait(false);
            if (frame is null)
            {
                _ended = true;
                return 0;
            }
            _frame = frame;
            if (frame.Flags == 0)
            {
                _current = frame.Payload;
            }
            else
            {
                var length = FrameCompression.DeclaredLength(frame.Payload.Span);
                _decompressed = ArrayPool<byte>.Shared.Rent(length);
                FrameCompression.Decompress(frame.Flags, frame.Payload.Span, _decompressed.AsSpan(0, length));
                _current = _decompressed.AsMemory(0, length);
            }
        }
        var n = Math.Min(buffer.Length, _current.Length);
        _current[..n].CopyTo(buffer);
        _current = _current[n..];
        return n;
    }

    private void ReleaseCurrent()
    {
        if (_frame is not null)
        {
            channel.Consumed(_frame);
            _frame = null;
        }
        if (_decompressed is not null)
        {
            ArrayPool<byte>.Shared.Return(_decompressed);
            _decompressed = null;
        }
    }

    /// <summary>Reads to data-end, discarding, so that the answer that follows is seen (and the peer's error surfaces).</summary>
    public async Task DrainAsync(CancellationToken token)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(64 << 10);
        try
        {
            while (await ReadAsync(scratch, token).ConfigureAwait(false) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current = default;
            ReleaseCurrent();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// A write-only stream that sends what is written as data frames of a channel (flow-controlled), gathering small writes
/// into frames of up to 256 KiB and cutting large ones into frames of 256 KiB (1 MiB when they are compressed). <see cref="FlushAsync(CancellationToken)"/> sends what is gathered.
/// </summary>
internal sealed class ChannelWriteStream(SessionConnection connection, DataChannel channel, bool precompressed, CancellationToken cancellationToken) : Stream
{
    private const int GatherLimit = 256 << 10;

    // After this many large frames in a row that did not shrink, the stream is taken to be compressed already.
    private const int IncompressibleFrames = 4;
    private int _uncompressedInARow;
    private byte[]? _gather;
    private int _gathered;

    public long BytesWritten { get; private set; }

    /// <summary>Sends every write at once (a conversation, rsync's protocol) instead of gathering writes into larger frames.</summary>
    public bool FlushEachWrite { get; init; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => BytesWritten; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken token) => WriteAsync(buffer.AsMemory(offset, count), token).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken token = default)
    {
        BytesWritten += buffer.Length;
        if (_gathered + buffer.Length <= GatherLimit)
        {
            _gather ??= ArrayPool<byte>.Shared.Rent(GatherLimit);
            buffer.CopyTo(_gather.AsMemory(_gathered));
            _gathered += buffer.Length;
            if (FlushEachWrite)
            {
                await FlushAsync(token).ConfigureAwait(false);
            }
            return;
        }
        await FlushAsync(token).ConfigureAwait(false);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, cancellationToken);
        var frame = precompressed || connection.Compression == SessionCompression.None ? SessionLimits.RawDataFrame : SessionLimits.MaxDataFrame;
        while (!buffer.IsEmpty)
        {
            var n = Math.Min(buffer.Length, frame);
            Count(n, await connection.SendDataAsync(channel, buffer[..n], precompressed, linked.Token).ConfigureAwait(false));
            buffer = buffer[n..];
        }
    }

    public override void Flush() => FlushAsync().GetAwaiter().GetResult();

    public override async Task FlushAsync(CancellationToken token)
    {
        if (_gathered == 0)
        {
            return;
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, cancellationToken);
        Count(_gathered, await connection.SendDataAsync(channel, _gather.AsMemory(0, _gathered), precompressed, linked.Token).ConfigureAwait(false));
        _gathered = 0;
    }

    private void Count(int length, bool compressed)
    {
        if (precompressed || length < 64 << 10)
        {
            return;
        }
        _uncompressedInARow = compressed ? 0 : _uncompressedInARow + 1;
        if (_uncompressedInARow >= IncompressibleFrames)
        {
            precompressed = true;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (_gather is not null)
        {
            ArrayPool<byte>.Shared.Return(_gather);
            _gather = null;
        }
        base.Dispose(disposing);
    }
}
