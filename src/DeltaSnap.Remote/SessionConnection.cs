using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.RateLimiting;
using DeltaSnap.Remote.Transports;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote;

/// <summary>
/// One end of a session's connection: the banner exchange, then frames. Reads frames in one loop (control messages go to
/// <see cref="ControlReceived"/>, data frames to their channel), writes frames one at a time, sends heartbeats and ends
/// the session when the peer falls silent. Shared by the client and the server.
/// </summary>
internal sealed class SessionConnection : IAsyncDisposable
{
    public const int ProtocolVersion = 1;
    public const string BannerPrefix = "DELTASNAP-SESSION/";
    public const int MaxBannerLength = 256;

    /// <summary>Bytes a data channel may have in flight (sent, not yet credited back): 2 MiB.</summary>
    public const int ChannelWindow = 2 << 20;

    /// <summary>Payloads from this size on are written after their frame header instead of copied behind it.</summary>
    private const int SeparatePayload = 64 << 10;

    /// <summary>The largest payload of a data-error or close frame: 64 KiB.</summary>
    public const int MaxErrorFrame = 64 << 10;

    private readonly Stream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _life = new();
    private readonly ConcurrentDictionary<uint, DataChannel> _channels = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private readonly byte[] _headerBuffer = new byte[FrameHeader.Size];
    private RateLimiter? _limiter;
    private Task? _readLoop;
    private Task? _heartbeatLoop;
    private long _wireSent;
    private long _wireReceived;
    private long _lastReceived;
    private int _maxMessageBytes;
    private Exception? _failure;
    private int _closed;

    public SessionConnection(Stream stream, string peerName, int maxMessageBytes, TimeSpan heartbeatInterval, TimeSpan peerTimeout, ILogger logger)
    {
        _stream = stream;
        PeerName = peerName;
        _maxMessageBytes = maxMessageBytes;
        HeartbeatInterval = heartbeatInterval;
        PeerTimeout = peerTimeout;
        _logger = logger;
        _lastReceived = Stopwatch.GetTimestamp();
    }

    public string PeerName { get; }

    public ILogger Logger => _logger;

    public TimeSpan HeartbeatInterval { get; }

    public TimeSpan PeerTimeout { get; }

    public SessionCompression Compression { get; set; }

    public long WireBytesSent => Interlocked.Read(ref _wireSent);

    public long WireBytesReceived => Interlocked.Read(ref _wireReceived);

    /// <summary>Fires when the session ends (normally or not).</summary>
    public CancellationToken Ending => _life.Token;

    /// <summary>Completes when the read loop ended: normally after a close frame or end of stream, faulted with the failure otherwise.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Why the session ended, once it did abnormally.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Called from the read loop for every control message; must not block (start work and return).</summary>
    public Action<ControlMessage>? ControlReceived { get; set; }

    /// <summary>Called once when the session ends (with the failure, or null for a normal end).</summary>
    public Action<Exception?>? SessionEnded { get; set; }

    public int MaxMessageBytes
    {
        get => _maxMessageBytes;
        set => _maxMessageBytes = value;
    }

    /// <summary>Limits the payload bytes this side sends per second (null: no limit).</summary>
    public void SetBandwidthLimit(long? bytesPerSecond)
    {
        if (bytesPerSecond is not { } limit)
        {
            return;
        }
        // Refilled 20 times a second; the bucket holds a tenth of a second's worth (at least one 64 KiB piece).
        var perPeriod = (int)Math.Clamp(limit / 20, 1, int.MaxValue);
        _limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = (int)Math.Clamp(limit / 10, 64 << 10, int.MaxValue),
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = TimeSpan.FromMilliseconds(50),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    // ---- handshake ----

    /// <summary>Writes this side's banner: <c>DELTASNAP-SESSION/1 feature feature…\n</c>.</summary>
    public async Task WriteBannerAsync(IEnumerable<string> features, CancellationToken cancellationToken)
    {
        var line = Encoding.ASCII.GetBytes($"{BannerPrefix}{ProtocolVersion} {string.Join(' ', features)}\n");
        await _stream.WriteAsync(line, cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _wireSent, line.Length);
    }

    /// <summary>Reads the peer's banner (byte by byte, so nothing after it is consumed); returns its version and features.</summary>
    /// <exception cref="SessionException">The peer sent something else, or ended the connection.</exception>
    public async Task<(int Version, string[] Features)> ReadBannerAsync(CancellationToken cancellationToken)
    {
        var line = new byte[MaxBannerLength];
        var length = 0;
        var one = new byte[1];
        while (true)
        {
            var n = await _stream.ReadAsync(one, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new SessionException(SessionErrorReason.ConnectionLost,
                    $"{PeerName} closed the connection before its banner{(length > 0 ? $" (after '{Printable(line.AsSpan(0, length))}')" : "")}.");
            }
            Interlocked.Increment(ref _wireReceived);
            if (one[0] == (byte)'\n')
            {
                break;
            }
            if (length == MaxBannerLength - 1 || one[0] < 0x20 || one[0] > 0x7e || (length < BannerPrefix.Length && one[0] != BannerPrefix[length]))
            {
                line[length++] = one[0];
                // For the message: whatever else of the line arrives at once (a quarter second at most).
                using var more = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                more.CancelAfter(TimeSpan.FromMilliseconds(250));
                try
                {
                    while (length < 64 && one[0] != (byte)'\n' && await _stream.ReadAsync(one, more.Token).ConfigureAwait(false) == 1)
                    {
                        line[length++] = one[0];
                    }
                }
                catch (OperationCanceledException)
                {
                }
                throw new SessionException(SessionErrorReason.ProtocolViolation,
                    $"{PeerName} is not a DeltaSnap session peer: its first bytes '{Printable(line.AsSpan(0, length)).TrimEnd('.')}' are not a '{BannerPrefix}<version>' banner.");
            }
            line[length++] = one[0];
        }
        var text = Encoding.ASCII.GetString(line, 0, length);
        var parts = text[BannerPrefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version))
        {
            throw new SessionException(SessionErrorReason.ProtocolViolation, $"{PeerName} sent the banner '{text}', which names no version.");
        }
        return (version, parts[1..]);
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var builder = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            builder.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
        }
        return builder.ToString();
    }

    /// <summary>Starts the read loop and the heartbeats.</summary>
    public void Start()
    {
        _readLoop = Task.Run(ReadLoopAsync);
        // Its own thread, so that heartbeats go out and silence is noticed even when the thread pool is saturated by
        // hashing and I/O (a heartbeat delayed by the pool would make a busy but healthy peer look dead).
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _heartbeatLoop = done.Task;
        new Thread(() =>
        {
            try
            {
                HeartbeatLoop();
            }
            catch (ObjectDisposedException)
            {
                // Disposed while ending.
            }
            finally
            {
                done.TrySetResult();
            }
        })
        { IsBackground = true, Name = "DeltaSnap session heartbeat" }.Start();
    }

    // ---- writing ----

    public Task SendControlAsync(ControlMessage message, CancellationToken cancellationToken)
    {
        var json = ControlMessageContext.Serialize(message);
        if (json.Length > _maxMessageBytes)
        {
            throw new SessionException(SessionErrorReason.ProtocolViolation,
                $"A {message.Type} message of {json.Length} bytes is over the session's limit of {_maxMessageBytes}.");
        }
        return WriteFrameAsync(new FrameHeader(FrameType.Control, 0, 0, (ulong)json.Length), json, cancellationToken);
    }

    /// <summary>Sends one data frame (at most 1 MiB of payload) on a channel once the peer's window allows it; returns whether it went compressed.</summary>
    public async Task<bool> SendDataAsync(DataChannel channel, ReadOnlyMemory<byte> data, bool precompressed, CancellationToken cancellationToken)
    {
        Debug.Assert(data.Length is > 0 and <= SessionLimits.MaxDataFrame);
        byte[]? compressed = null;
        try
        {
            var payload = data;
            byte flag = 0;
            if (!precompressed && Compression != SessionCompression.None)
            {
                compressed = ArrayPool<byte>.Shared.Rent(FrameCompression.MaxCompressedLength(data.Length));
                var (f, length) = FrameCompression.TryCompress(Compression, data.Span, compressed);
                if (f != 0)
                {
                    flag = f;
                    payload = compressed.AsMemory(0, length);
                }
            }
            await channel.WaitForCreditAsync(payload.Length, cancellationToken).ConfigureAwait(false);
            if (_limiter is not null)
            {
                await AcquireBandwidthAsync(payload.Length, cancellationToken).ConfigureAwait(false);
            }
            await WriteFrameAsync(new FrameHeader(FrameType.Data, flag, channel.Id, (ulong)payload.Length), payload, cancellationToken).ConfigureAwait(false);
            return flag != 0;
        }
        finally
        {
            if (compressed is not null)
            {
                ArrayPool<byte>.Shared.Return(compressed);
            }
        }
    }

    private async Task AcquireBandwidthAsync(int bytes, CancellationToken cancellationToken)
    {
        var limiter = _limiter!;
        while (bytes > 0)
        {
            var piece = Math.Min(bytes, 64 << 10);
            using var lease = await limiter.AcquireAsync(piece, cancellationToken).ConfigureAwait(false);
            bytes -= piece;
        }
    }

    public Task SendDataEndAsync(uint channel, CancellationToken cancellationToken) =>
        WriteFrameAsync(new FrameHeader(FrameType.DataEnd, 0, channel, 0), ReadOnlyMemory<byte>.Empty, cancellationToken);

    public Task SendDataErrorAsync(uint channel, Exception error, CancellationToken cancellationToken)
    {
        var json = ControlMessageContext.Serialize(RemoteErrors.ToMessage(0, error));
        if (json.Length > MaxErrorFrame)
        {
            json = ControlMessageContext.Serialize(new ControlMessage { Type = "error", ErrorType = error.GetType().FullName, Message = error.Message[..1000] });
        }
        return WriteFrameAsync(new FrameHeader(FrameType.DataError, 0, channel, (ulong)json.Length), json, cancellationToken);
    }

    public Task SendCreditAsync(uint channel, long bytes)
    {
        var payload = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(payload, bytes);
        return WriteFrameAsync(new FrameHeader(FrameType.Credit, 0, channel, 8), payload, CancellationToken.None);
    }

    private async Task WriteFrameAsync(FrameHeader header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (_failure is { } failure)
        {
            throw Ended(failure);
        }
        var total = FrameHeader.Size + payload.Length;
        // A large payload goes out as it is, after its header, instead of being copied behind the header first: over TLS
        // the header becomes a record of its own (22 bytes more per frame), which costs less than copying the payload.
        var separate = payload.Length >= SeparatePayload;
        var buffer = ArrayPool<byte>.Shared.Rent(separate ? FrameHeader.Size : total);
        try
        {
            header.Write(buffer);
            if (!separate)
            {
                payload.Span.CopyTo(buffer.AsSpan(FrameHeader.Size));
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _life.Token);
            await _writeLock.WaitAsync(linked.Token).ConfigureAwait(false);
            try
            {
                if (separate)
                {
                    await _stream.WriteAsync(buffer.AsMemory(0, FrameHeader.Size), linked.Token).ConfigureAwait(false);
                    // Once its header is out the payload must follow: only the session's end stops it now.
                    await _stream.WriteAsync(payload, _life.Token).ConfigureAwait(false);
                }
                else
                {
                    await _stream.WriteAsync(buffer.AsMemory(0, total), linked.Token).ConfigureAwait(false);
                }
                await _stream.FlushAsync(linked.Token).ConfigureAwait(false);
                Interlocked.Add(ref _wireSent, total);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (OperationCanceledException) when (_failure is { } f && !cancellationToken.IsCancellationRequested)
        {
            throw Ended(f);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or PeerRefusedException or PeerUnreachableException
            && !cancellationToken.IsCancellationRequested)
        {
            var lost = new SessionException(SessionErrorReason.ConnectionLost, $"Writing to {PeerName} failed: {e.Message}", e);
            Fail(lost);
            throw lost;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // ---- channels ----

    public DataChannel OpenChannel(uint id)
    {
        var channel = new DataChannel(this, id);
        if (!_channels.TryAdd(id, channel))
        {
            throw new SessionException(SessionErrorReason.ProtocolViolation, $"Channel {id} is open already.");
        }
        if (_failure is { } failure)
        {
            channel.Abort(Ended(failure));
        }
        return channel;
    }

    public void CloseChannel(DataChannel channel)
    {
        _channels.TryRemove(new KeyValuePair<uint, DataChannel>(channel.Id, channel));
        channel.Abort(new SessionException(SessionErrorReason.ConnectionLost, $"Channel {channel.Id} was closed."));
    }

    // ---- reading ----

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var header = await ReadHeaderAsync().ConfigureAwait(false);
                if (header is not { } h)
                {
                    Fail(null, endOfStream: true);
                    return;
                }
                Touch();
                switch (h.Type)
                {
                    case FrameType.Control:
                    {
                        var payload = await ReadPayloadAsync((int)h.Length, pooled: false).ConfigureAwait(false);
                        ControlMessage message;
                        try
                        {
                            message = ControlMessageContext.Deserialize(payload);
                        }
                        catch (JsonException e)
                        {
                            throw new SessionException(SessionErrorReason.ProtocolViolation, $"{PeerName} sent a control message that is not valid: {e.Message}", e);
                        }
                        ControlReceived?.Invoke(message);
                        break;
                    }
                    case FrameType.Data:
                    case FrameType.DataEnd:
                    case FrameType.DataError:
                    {
                        var buffer = h.Length == 0 ? null : await ReadPayloadAsync((int)h.Length, pooled: true).ConfigureAwait(false);
                        var frame = new InboundFrame(h.Type, h.Flags, buffer, (int)h.Length);
                        if (_channels.TryGetValue(h.Channel, out var channel))
                        {
                            channel.Deliver(frame);
                        }
                        else
                        {
                            frame.Release(); // A channel closed here already (a cancelled request): its late frames are dropped.
                        }
                        break;
                    }
                    case FrameType.Credit:
                    {
                        var payload = await ReadPayloadAsync(8, pooled: false).ConfigureAwait(false);
                        var bytes = System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(payload);
                        if (bytes <= 0 || bytes > ChannelWindow)
                        {
                            throw new SessionException(SessionErrorReason.ProtocolViolation, $"{PeerName} granted a credit of {bytes} bytes.");
                        }
                        if (_channels.TryGetValue(h.Channel, out var channel))
                        {
                            channel.AddCredit(bytes);
                        }
                        break;
                    }
                    case FrameType.Heartbeat:
                        break;
                    case FrameType.Close:
                    {
                        var payload = h.Length == 0 ? [] : await ReadPayloadAsync((int)h.Length, pooled: false).ConfigureAwait(false);
                        Log.PeerClosed(_logger, PeerName, Encoding.UTF8.GetString(payload));
                        Fail(null, endOfStream: true);
                        return;
                    }
                }
            }
        }
        catch (Exception e) when (e is SessionException or IOException or ObjectDisposedException or OperationCanceledException or NotSupportedException
            or PeerRefusedException or PeerUnreachableException)
        {
            // A transport's own account of a broken connection (a refused certificate, what ssh said) stays under the session's failure.
            if (_life.IsCancellationRequested && _failure is null && Volatile.Read(ref _closed) != 0)
            {
                Fail(null, endOfStream: true);
                return;
            }
            Fail(e as SessionException ?? new SessionException(SessionErrorReason.ConnectionLost, $"Reading from {PeerName} failed: {e.Message}", e));
        }
    }

    /// <summary>Reads and checks a frame header; null at a clean end of stream (between frames).</summary>
    private async Task<FrameHeader?> ReadHeaderAsync()
    {
        var read = 0;
        while (read < FrameHeader.Size)
        {
            var n = await _stream.ReadAsync(_headerBuffer.AsMemory(read), _life.Token).ConfigureAwait(false);
            if (n == 0)
            {
                if (read == 0)
                {
                    return null;
                }
                throw new SessionException(SessionErrorReason.ConnectionLost, $"{PeerName} ended the connection inside a frame header.");
            }
            read += n;
        }
        Interlocked.Add(ref _wireReceived, FrameHeader.Size);
        var header = FrameHeader.Read(_headerBuffer);
        var limit = header.Type switch
        {
            FrameType.Control => (ulong)_maxMessageBytes,
            FrameType.Data => (ulong)FrameCompression.MaxCompressedLength(SessionLimits.MaxDataFrame),
            FrameType.DataEnd or FrameType.Heartbeat => 0UL,
            FrameType.DataError or FrameType.Close => (ulong)MaxErrorFrame,
            FrameType.Credit => 8UL,
            _ => throw new SessionException(SessionErrorReason.ProtocolViolation,
                $"{PeerName} sent a frame of unknown type {(byte)header.Type} (header {Convert.ToHexString(_headerBuffer)})."),
        };
        if (header.Length > limit)
        {
            throw new SessionException(SessionErrorReason.ProtocolViolation,
                $"{PeerName} sent a {header.Type} frame declaring {header.Length} bytes; the limit is {limit}. The session ends.");
        }
        if (header.Type == FrameType.Credit && header.Length != 8)
        {
            throw new SessionException(SessionErrorReason.ProtocolViolation, $"{PeerName} sent a credit frame of {header.Length} bytes instead of 8.");
        }
        if (header.Type == FrameType.Data && header.Length == 0)
        {
            throw new SessionException(SessionErrorReason.ProtocolViolation, $"{PeerName} sent an empty data frame.");
        }
        if (FrameHeader.Reserved(_headerBuffer) != 0 || (header.Type != FrameType.Data && header.Flags != 0) || header.Flags > FrameHeader.FlagZstd)
        {
            throw new SessionException(SessionErrorReason.ProtocolViolation, $"{PeerName} sent a frame header with unknown flags ({Convert.ToHexString(_headerBuffer)}).");
        }
        return header;
    }

    private async Task<byte[]> ReadPayloadAsync(int length, bool pooled)
    {
        var buffer = pooled ? ArrayPool<byte>.Shared.Rent(length) : new byte[length];
        try
        {
            await _stream.ReadExactlyAsync(buffer.AsMemory(0, length), _life.Token).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            if (pooled)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            throw new SessionException(SessionErrorReason.ConnectionLost, $"{PeerName} ended the connection inside a frame of {length} bytes.", e);
        }
        catch
        {
            if (pooled)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            throw;
        }
        Interlocked.Add(ref _wireReceived, length);
        Touch();
        return buffer;
    }

    private void Touch() => Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());

    private void HeartbeatLoop()
    {
        var tick = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 10, Math.Min(HeartbeatInterval.Ticks, PeerTimeout.Ticks / 4)));
        var nextBeat = Stopwatch.GetTimestamp() + (long)(HeartbeatInterval.TotalSeconds * Stopwatch.Frequency);
        var ending = _life.Token.WaitHandle;
        while (!ending.WaitOne(tick))
        {
            var now = Stopwatch.GetTimestamp();
            var silent = Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived), now);
            // A thread pool with work queued may simply not have run this side's read loop yet (a saturated machine, or
            // both ends in one process): the peer is given up to three timeouts then, and one otherwise.
            if (silent > PeerTimeout && (silent > 3 * PeerTimeout || ThreadPool.PendingWorkItemCount == 0))
            {
                Fail(new SessionException(SessionErrorReason.Timeout,
                    $"{PeerName} has been silent for {silent.TotalSeconds:0.#} s (the peer timeout is {PeerTimeout.TotalSeconds:0.#} s); the session ends."));
                return;
            }
            if (now >= nextBeat)
            {
                nextBeat = now + (long)(HeartbeatInterval.TotalSeconds * Stopwatch.Frequency);
                _ = WriteFrameAsync(new FrameHeader(FrameType.Heartbeat, 0, 0, 0), ReadOnlyMemory<byte>.Empty, CancellationToken.None)
                    .ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }
    }

    // ---- ending ----

    /// <summary>Ends the session because of <paramref name="failure"/> (null: normally); every channel and waiter learns it. Runs once.</summary>
    public void Fail(Exception? failure, bool endOfStream = false)
    {
        if (Interlocked.Exchange(ref _closed, 2) == 2)
        {
            return;
        }
        var reported = failure ?? (endOfStream ? new SessionException(SessionErrorReason.ConnectionLost, $"{PeerName} closed the session.") : null);
        if (failure is not null)
        {
            Volatile.Write(ref _failure, failure);
            Log.SessionFailed(_logger, PeerName, failure.Message);
        }
        else
        {
            Volatile.Write(ref _failure, reported);
        }
        try
        {
            _life.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        foreach (var channel in _channels.Values)
        {
            channel.Abort(Ended(reported!));
        }
        SessionEnded?.Invoke(failure);
        if (failure is null)
        {
            _completion.TrySetResult();
        }
        else
        {
            _completion.TrySetException(failure);
        }
    }

    /// <summary>Sends a close frame (best effort, briefly) and ends the session normally.</summary>
    public async Task CloseAsync(string reason)
    {
        if (_failure is null && Volatile.Read(ref _closed) == 0)
        {
            Volatile.Write(ref _closed, 1);
            var payload = Encoding.UTF8.GetBytes(reason);
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await WriteFrameAsync(new FrameHeader(FrameType.Close, 0, 0, (ulong)payload.Length), payload, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SessionException or OperationCanceledException or IOException)
            {
                // The peer is gone already.
            }
        }
        Fail(null, endOfStream: true);
    }

    /// <summary>The exception a call sees once the session ended.</summary>
    public SessionException Ended(Exception failure) => failure as SessionException is { } s
        ? new SessionException(s.Reason, s.Message, s)
        : new SessionException(SessionErrorReason.ConnectionLost, $"The session with {PeerName} ended: {failure.Message}", failure);

    public async ValueTask DisposeAsync()
    {
        Fail(null, endOfStream: true);
        var finished = true;
        foreach (var task in new[] { _readLoop, _heartbeatLoop })
        {
            if (task is null)
            {
                continue;
            }
            try
            {
                // Bounded: a stream whose reads ignore cancellation (some pipes) ends its read when the transport closes.
                await task.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                finished = false;
            }
            catch (Exception e) when (e is OperationCanceledException or SessionException or IOException or ObjectDisposedException)
            {
            }
        }
        _limiter?.Dispose();
        if (finished)
        {
            _life.Dispose();
            _writeLock.Dispose();
        }
    }
}
