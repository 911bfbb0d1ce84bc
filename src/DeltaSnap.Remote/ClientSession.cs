using System.Collections.Concurrent;
using DeltaSnap.Drivers;
using DeltaSnap.Remote.Transports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Remote;

/// <summary>
/// The client's half of a session: the handshake, requests by id with their data channels, and the remote objects' calls.
/// A session that fails is reported as its transport saw it when the transport can say (<see cref="TransportFailure"/>: a
/// refused certificate or ssh login, an ssh that ended), by the handshake and by every request.
/// </summary>
internal sealed class ClientSession : IAsyncDisposable
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource<ControlMessage>> _pending = new();
    private readonly TaskCompletionSource<ControlMessage> _welcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, int> _requestsByOperation = new(StringComparer.Ordinal);
    private readonly Stream _transport;
    private readonly Lazy<Task<Exception?>> _transportAccount;
    private SemaphoreSlim _slots = new(16, 16);
    private long _nextId;
    private int _disposed;

    private ClientSession(SessionConnection connection, Stream transport, ILoggerFactory loggerFactory)
    {
        Connection = connection;
        LoggerFactory = loggerFactory;
        _transport = transport;
        _transportAccount = new(TransportAccountAsync);
    }

    public SessionConnection Connection { get; }

    public ILoggerFactory LoggerFactory { get; }

    public string PeerName => Connection.PeerName;

    public IReadOnlyList<string> RemoteSchemes { get; private set; } = [];

    /// <summary>The features the server announced (its welcome's list; its banner's when the welcome has none).</summary>
    public IReadOnlyList<string> RemoteFeatures { get; private set; } = [];

    /// <summary>Whether the server announced <paramref name="feature"/>.</summary>
    public bool PeerSupports(string feature) => RemoteFeatures.Contains(feature, StringComparer.Ordinal);

    public static async Task<ClientSession> ConnectAsync(Stream stream, RemoteSessionOptions options, ILoggerFactory? loggerFactory, CancellationToken cancellationToken)
    {
        loggerFactory ??= NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger<RemoteSession>();
        var peer = options.PeerName ?? "remote";
        var connection = new SessionConnection(stream, peer, options.MaxMessageBytes, options.HeartbeatInterval, options.PeerTimeout, logger);
        var session = new ClientSession(connection, stream, loggerFactory);
        connection.ControlReceived = session.OnControl;
        connection.SessionEnded = session.OnEnded;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.HandshakeTimeout);
        try
        {
            await connection.WriteBannerAsync(Features, timeout.Token).ConfigureAwait(false);
            var (version, bannerFeatures) = await connection.ReadBannerAsync(timeout.Token).ConfigureAwait(false);
            if (version != SessionConnection.ProtocolVersion)
            {
                throw new SessionException(SessionErrorReason.Incompatible, $"{peer} speaks session protocol version {version}; this side speaks {SessionConnection.ProtocolVersion}.");
            }
            connection.Start();
            await connection.SendControlAsync(new ControlMessage
            {
                Type = "hello",
                Version = SessionConnection.ProtocolVersion,
                Features = Features,
                Compression = options.Compression.Select(Name).ToArray(),
            }, timeout.Token).ConfigureAwait(false);
            var welcome = await session._welcome.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            connection.Compression = Parse(welcome.Compression?.FirstOrDefault())
                ?? throw new SessionException(SessionErrorReason.ProtocolViolation, $"{peer} chose no compression.");
            if (!options.Compression.Contains(connection.Compression))
            {
                throw new SessionException(SessionErrorReason.ProtocolViolation, $"{peer} chose {connection.Compression}, which this side did not offer.");
            }
            var slots = Math.Clamp(welcome.MaxConcurrentRequests ?? 1, 1, 64);
            session._slots = new SemaphoreSlim(slots, slots);
            session.RemoteSchemes = welcome.Schemes ?? [];
            session.RemoteFeatures = welcome.Features ?? bannerFeatures;
            connection.SetBandwidthLimit(options.BandwidthLimit);
            Log.SessionEstablished(logger, peer, SessionConnection.ProtocolVersion, connection.Compression);
            return session;
        }
        catch (Exception e)
        {
            // Disposing ends the session "normally": what failed it is read first.
            var failure = connection.Failure;
            await connection.DisposeAsync().ConfigureAwait(false);
            Exception reported = e switch
            {
                OperationCanceledException when cancellationToken.IsCancellationRequested => e,
                OperationCanceledException => new SessionException(SessionErrorReason.Timeout,
                    $"The handshake with {peer} did not complete within {options.HandshakeTimeout.TotalSeconds:0.#} s.", e),
                SessionException or DeltaSnapException => e,
                _ when failure is SessionException ended => connection.Ended(ended),
                IOException or ObjectDisposedException or NotSupportedException => new SessionException(SessionErrorReason.ConnectionLost,
                    $"The handshake with {peer} failed: {e.Message}", e),
                _ => e,
            };
            if (reported is SessionException sessionFailure && TransportFailure.MayExplain(sessionFailure))
            {
                reported = await TransportFailure.ExplainAsync(stream, reported).ConfigureAwait(false);
            }
            if (ReferenceEquals(reported, e))
            {
                throw;
            }
            throw reported;
        }
    }

    /// <summary>
    /// The feature of a server whose <c>volume.send</c> takes <c>prefixLength</c> and <c>prefixDigest</c>: it checks the
    /// stream's first bytes against the digest where the volume is and sends only what follows (native resume of a pull).
    /// A client never sends those fields to a server that did not announce it (an older server would ignore them and send
    /// the whole stream).
    /// </summary>
    public const string SendAfterPrefixFeature = "send-after-prefix";

    /// <summary>
    /// The feature of a server that knows <c>volume.removeLeftovers</c>. A client never sends it to a server that did not
    /// announce it: an older server would fail the request, and with it every refresh to it.
    /// </summary>
    public const string RemoveLeftoversFeature = "remove-leftovers";

    /// <summary>
    /// The feature of a server that knows <c>volume.lockForRefresh</c>: it takes a volume's refresh lock where the volume
    /// is, so refreshes from other machines, and its own, are kept apart. With an older server the client locks the
    /// remote address on its own machine only.
    /// </summary>
    public const string RefreshLockFeature = "refresh-lock";

    /// <summary>
    /// The feature of a server that knows <c>volume.receiveTree</c>: its file system volumes that receive trees aside
    /// (<see cref="DriverCapabilities.StagedTrees"/>, a <c>dir:</c> volume without reflinks) take a pushed tree in a fresh
    /// directory linked to their newest snapshot. Without it a client sees no <see cref="DriverCapabilities.StagedTrees"/>
    /// on the server's drivers and pushes into the live tree.
    /// </summary>
    public const string ReceiveTreeFeature = "receive-tree";

    /// <summary>The features this implementation announces in its banner and hello.</summary>
    public static readonly string[] Features = ["lz4", "zstd", "credit", "digests", SendAfterPrefixFeature, RemoveLeftoversFeature, RefreshLockFeature, ReceiveTreeFeature];

    public static string Name(SessionCompression compression) => compression.ToString().ToLowerInvariant();

    public static SessionCompression? Parse(string? name) => name switch
    {
        "none" => SessionCompression.None,
        "lz4" => SessionCompression.Lz4,
        "zstd" => SessionCompression.Zstd,
        _ => null,
    };

    private void OnControl(ControlMessage message)
    {
        switch (message.Type)
        {
            case "welcome":
                _welcome.TrySetResult(message);
                break;
            case "ok":
                if (_pending.TryRemove(message.Id, out var ok))
                {
                    ok.TrySetResult(message);
                }
                break;
            case "error":
                if (message.Id == 0)
                {
                    var reason = Enum.TryParse<SessionErrorReason>(message.Reason, out var r) ? r : SessionErrorReason.Incompatible;
                    _welcome.TrySetException(new SessionException(reason, $"{PeerName} refused the session: {message.Message}"));
                }
                else if (_pending.TryRemove(message.Id, out var failed))
                {
                    failed.TrySetException(RemoteErrors.ToException(message, PeerName));
                }
                break;
            default:
                throw new SessionException(SessionErrorReason.ProtocolViolation, $"{PeerName} sent a '{message.Type}' message to a client.");
        }
    }

    private void OnEnded(Exception? failure)
    {
        var error = Connection.Ended(failure ?? new SessionException(SessionErrorReason.ConnectionLost, $"The session with {PeerName} was closed."));
        _welcome.TrySetException(error);
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var pending))
            {
                pending.TrySetException(Connection.Ended(error));
            }
        }
    }

    /// <summary>Takes a request slot, numbers the request and registers the wait for its answer (the caller releases both).</summary>
    private async Task<(long Id, TaskCompletionSource<ControlMessage> Answer)> BeginAsync(ControlMessage request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Connection.Failure is { } ended)
        {
            throw Connection.Ended(ended);
        }
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        _requestsByOperation.AddOrUpdate(request.Op ?? "", 1, (_, n) => n + 1);
        var id = Interlocked.Increment(ref _nextId);
        request.Id = id;
        request.Type = "request";
        var answer = new TaskCompletionSource<ControlMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        return (id, answer);
    }

    /// <summary>A request without data.</summary>
    public Task<ControlMessage> CallAsync(ControlMessage request, CancellationToken cancellationToken) =>
        CallAsync(request, upload: null, download: null, cancellationToken);

    /// <summary>
    /// Sends a request and waits for its answer. With <paramref name="upload"/>, the request's data is written to its
    /// channel meanwhile (then data-end; data-error if the upload fails). With <paramref name="download"/>, the answer's
    /// data is read from the channel before the answer.
    /// </summary>
    public Task<ControlMessage> CallAsync(ControlMessage request, Func<ChannelWriteStream, CancellationToken, Task>? upload,
        Func<ChannelReadStream, CancellationToken, Task>? download, CancellationToken cancellationToken) =>
        ReportedAsTheTransportSawAsync(CallCoreAsync(request, upload, download, cancellationToken));

    private async Task<ControlMessage> CallCoreAsync(ControlMessage request, Func<ChannelWriteStream, CancellationToken, Task>? upload,
        Func<ChannelReadStream, CancellationToken, Task>? download, CancellationToken cancellationToken)
    {
        var (id, answer) = await BeginAsync(request, cancellationToken).ConfigureAwait(false);
        var channel = upload is not null || download is not null ? Connection.OpenChannel((uint)id) : null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            if (Connection.Failure is { } failure)
            {
                throw Connection.Ended(failure);
            }
            await Connection.SendControlAsync(request, cancellationToken).ConfigureAwait(false);
            using var registration = cancellationToken.Register(() =>
            {
                SendCancel(id);
                answer.TrySetCanceled(cancellationToken);
            });
            if (upload is not null)
            {
                var uploading = UploadAsync(channel!, upload, stop.Token);
                if (await Task.WhenAny(uploading, answer.Task).ConfigureAwait(false) == answer.Task)
                {
                    // Answered before the upload ended (the server failed or needed no more): stop sending.
                    await stop.CancelAsync().ConfigureAwait(false);
                    await Observe(uploading).ConfigureAwait(false);
                }
                else if (uploading.IsFaulted || uploading.IsCanceled)
                {
                    _ = answer.Task.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                    await uploading.ConfigureAwait(false); // The local failure is the one to report.
                }
            }
            if (download is not null)
            {
                var stream = new ChannelReadStream(channel!, stop.Token);
                try
                {
                    await download(stream, stop.Token).ConfigureAwait(false);
                    await stream.DrainAsync(stop.Token).ConfigureAwait(false);
                }
                catch (Exception) when (answer.Task.IsFaulted || answer.Task.IsCanceled)
                {
                    await answer.Task.ConfigureAwait(false); // The server's error (or the cancellation) explains the broken stream.
                    throw;
                }
                catch
                {
                    _ = answer.Task.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                    throw;
                }
                finally
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                }
            }
            return await answer.Task.ConfigureAwait(false);
        }
        finally
        {
            _pending.TryRemove(id, out _);
            if (channel is not null)
            {
                Connection.CloseChannel(channel);
            }
            _slots.Release();
        }
    }

    /// <summary>
    /// A request whose channel carries data both ways at once (<c>volume.treeServer</c>): <paramref name="upload"/> writes
    /// the client's side (every write sent at once; data-end when it returns), <paramref name="download"/> reads the
    /// server's to its data-end; then the answer. When the download fails, the request is cancelled on the server and the
    /// failure reported is the upload's own (a local failure), else the server's answer, else the download's.
    /// </summary>
    public Task<ControlMessage> CallDuplexAsync(ControlMessage request, Func<Stream, CancellationToken, Task> upload,
        Func<Stream, CancellationToken, Task> download, CancellationToken cancellationToken) =>
        ReportedAsTheTransportSawAsync(CallDuplexCoreAsync(request, upload, download, cancellationToken));

    private async Task<ControlMessage> CallDuplexCoreAsync(ControlMessage request, Func<Stream, CancellationToken, Task> upload,
        Func<Stream, CancellationToken, Task> download, CancellationToken cancellationToken)
    {
        var (id, answer) = await BeginAsync(request, cancellationToken).ConfigureAwait(false);
        var channel = Connection.OpenChannel((uint)id);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await Connection.SendControlAsync(request, cancellationToken).ConfigureAwait(false);
            using var registration = cancellationToken.Register(() =>
            {
                SendCancel(id);
                answer.TrySetCanceled(cancellationToken);
            });
            var uploading = UploadAsync(channel, upload, stop.Token, flushEachWrite: true);
            Exception? downloadFailure = null;
            var stream = new ChannelReadStream(channel, stop.Token);
            try
            {
                await download(stream, stop.Token).ConfigureAwait(false);
                await stream.DrainAsync(stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                downloadFailure = e;
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            if (downloadFailure is not null)
            {
                if (!answer.Task.IsCompleted)
                {
                    SendCancel(id);
                }
                await stop.CancelAsync().ConfigureAwait(false);
                await Observe(uploading).ConfigureAwait(false);
                if (uploading.Exception?.InnerException is { } uploadFailure and not (SessionException or OperationCanceledException))
                {
                    _ = answer.Task.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(uploadFailure);
                }
                try
                {
                    await answer.Task.ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (OperationCanceledException)
                {
                    // Cancelled here because the download failed: that failure is the one to report.
                }
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(downloadFailure);
            }
            // The server's data-end came before its answer: the answer is in flight or here.
            try
            {
                return await answer.Task.ConfigureAwait(false);
            }
            finally
            {
                // What the client still had to say is moot once the server's side has ended.
                await stop.CancelAsync().ConfigureAwait(false);
                await Observe(uploading).ConfigureAwait(false);
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
            Connection.CloseChannel(channel);
            _slots.Release();
        }
    }

    /// <summary>A request's result; a failure of the session is reported as the transport saw it when it can say.</summary>
    private async Task<ControlMessage> ReportedAsTheTransportSawAsync(Task<ControlMessage> call)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (SessionException e) when (MayHaveTransportAccount(e))
        {
            if (await _transportAccount.Value.ConfigureAwait(false) is { } explained)
            {
                throw explained;
            }
            throw;
        }
    }

    /// <summary>Whether <paramref name="e"/> came from the session's failure (not from closing it here), which the transport may explain.</summary>
    private bool MayHaveTransportAccount(SessionException e) =>
        TransportFailure.MayExplain(e) && Connection.Failure is not null && Volatile.Read(ref _disposed) == 0;

    /// <summary>The transport's account of the session's failure, asked once (every request then reports the same); null when it has none.</summary>
    private async Task<Exception?> TransportAccountAsync()
    {
        var failure = Connection.Failure!;
        var explained = await TransportFailure.ExplainAsync(_transport, failure).ConfigureAwait(false);
        return ReferenceEquals(explained, failure) ? null : explained;
    }

    private void SendCancel(long id) =>
        _ = Connection.SendControlAsync(new ControlMessage { Type = "cancel", Id = id }, CancellationToken.None)
            .ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    private async Task UploadAsync(DataChannel channel, Func<ChannelWriteStream, CancellationToken, Task> upload, CancellationToken cancellationToken, bool flushEachWrite = false)
    {
        var stream = new ChannelWriteStream(Connection, channel, precompressed: false, cancellationToken) { FlushEachWrite = flushEachWrite };
        try
        {
            await upload(stream, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            await Connection.SendDataEndAsync(channel.Id, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && Connection.Failure is null)
        {
            try
            {
                await Connection.SendDataErrorAsync(channel.Id, e, CancellationToken.None).ConfigureAwait(false);
            }
            catch (SessionException)
            {
                // The session ended too.
            }
            throw;
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task Observe(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Secondary: the answer is what counts.
        }
    }

    // ---- the remote objects ----

    public async Task<Volume> OpenVolumeAsync(string address, VolumeCreateOptions? create, CancellationToken cancellationToken)
    {
        var request = create is null
            ? new ControlMessage { Op = "volume.open", Address = address }
            : new ControlMessage { Op = "volume.create", Address = address, Kind = create.Kind, Size = create.Size, Thin = create.Thin };
        var answer = await CallAsync(request, cancellationToken).ConfigureAwait(false);
        var volume = answer.Volume ?? throw Missing(request.Op!, "volume");
        var driver = new RemoteVolumeDriver(this, volume.Driver ?? throw Missing(request.Op!, "driver"));
        return new RemoteVolume(driver, volume);
    }

    public async Task<bool> VolumeExistsAsync(string address, CancellationToken cancellationToken) =>
        (await CallAsync(new ControlMessage { Op = "volume.exists", Address = address }, cancellationToken).ConfigureAwait(false)).Flag == true;

    public async Task<VolumeDriver> OpenDriverAsync(string scheme, string location, CancellationToken cancellationToken)
    {
        var answer = await CallAsync(new ControlMessage { Op = "driver.open", Scheme = scheme, Location = location }, cancellationToken).ConfigureAwait(false);
        return new RemoteVolumeDriver(this, answer.Driver ?? throw Missing("driver.open", "driver"));
    }

    /// <summary>Releases a handle on the server, unless the session ended (the server released it then).</summary>
    public async Task ReleaseAsync(long handle)
    {
        if (Connection.Failure is not null)
        {
            return;
        }
        try
        {
            await CallAsync(new ControlMessage { Op = "release", Handle = handle }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (SessionException)
        {
            // Ended meanwhile: the server released everything.
        }
    }

    public SessionException Missing(string op, string what) =>
        new(SessionErrorReason.ProtocolViolation, $"{PeerName} answered {op} without the {what}.");

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        if (_requestsByOperation.Values.Sum() is var count and > 0)
        {
            // What one command cost in round trips (benchmarks/README.md, "Remote refresh").
            Log.RequestsSent(Connection.Logger, count, PeerName,
                string.Join(", ", _requestsByOperation.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}")));
        }
        await Connection.CloseAsync("client closed the session").ConfigureAwait(false);
        await Connection.DisposeAsync().ConfigureAwait(false);
    }
}
