using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// One session per peer for the backends one <c>AddRemote</c> registered: made on first use, shared by every volume
/// opened on that peer, made again after it broke, ended on dispose.
/// </summary>
internal sealed class PeerSessionPool(RemoteTransportOptions options, ILoggerFactory loggerFactory) : IAsyncDisposable
{
    private readonly Dictionary<string, Task<PeerSession>> _sessions = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly ILogger _logger = loggerFactory.CreateLogger<PeerSessionPool>();
    private bool _disposed;

    public async Task<PeerSession> GetAsync(RemotePeerAddress peer, CancellationToken cancellationToken)
    {
        Task<PeerSession> pending;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_sessions.TryGetValue(peer.Name, out pending!) || (pending.IsCompletedSuccessfully && pending.Result.IsBroken) || pending.IsFaulted || pending.IsCanceled)
            {
                pending = ConnectAsync(peer, cancellationToken);
                _sessions[peer.Name] = pending;
            }
        }
        try
        {
            return await pending.ConfigureAwait(false);
        }
        catch
        {
            lock (_lock)
            {
                if (_sessions.TryGetValue(peer.Name, out var current) && current == pending)
                {
                    _sessions.Remove(peer.Name);
                }
            }
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task<PeerSession>[] sessions;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            sessions = [.. _sessions.Values];
            _sessions.Clear();
        }
        foreach (var pending in sessions)
        {
            try
            {
                await (await pending.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is DeltaSnapException or IOException or OperationCanceledException or ArgumentException)
            {
                // It never connected: the caller saw why.
            }
        }
    }

    private async Task<PeerSession> ConnectAsync(RemotePeerAddress peer, CancellationToken cancellationToken)
    {
        var sessionOptions = options.Session with { PeerName = peer.Name };
        Stream connection;
        if (peer.Scheme == RemoteBackend.SshScheme)
        {
            connection = SshTransport.Start(peer.Host, peer.User, peer.Port, options.Ssh, loggerFactory);
        }
        else
        {
            var tls = options.Tls ?? throw new ArgumentException(
                $"{peer.Name}: tls:// addresses need a client certificate and the servers to trust (RemoteTransportOptions.Tls).");
            connection = await TlsTransport.ConnectAsync(peer.Host, peer.Port!.Value, tls, loggerFactory, cancellationToken).ConfigureAwait(false);
        }
        try
        {
            var session = await RemoteSession.ConnectAsync(connection, sessionOptions, loggerFactory, cancellationToken).ConfigureAwait(false);
            Log.SessionOpened(_logger, peer.Name, peer.Scheme, session.Compression.ToString());
            return new PeerSession(peer.Name, connection, session, _logger);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var failure = await PeerSession.TranslateAsync(connection, e).ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            if (ReferenceEquals(failure, e))
            {
                throw;
            }
            throw failure;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>A session with one peer and the transport under it.</summary>
internal sealed class PeerSession(string peerName, Stream connection, RemoteSession session, ILogger logger) : IAsyncDisposable
{
    private int _broken;

    public string PeerName { get; } = peerName;

    /// <summary>Whether the connection failed (the pool then makes a new session for the next volume).</summary>
    public bool IsBroken => Volatile.Read(ref _broken) != 0;

    /// <summary>Runs a request on the session; a failure of the connection marks the session broken and is explained by the transport when it can.</summary>
    public async Task<T> RunAsync<T>(Func<RemoteSession, Task<T>> request)
    {
        try
        {
            return await request(session).ConfigureAwait(false);
        }
        catch (SessionException e) when (e.Reason is SessionErrorReason.ConnectionLost or SessionErrorReason.Timeout or SessionErrorReason.ProtocolViolation)
        {
            Interlocked.Exchange(ref _broken, 1);
            var failure = await TranslateAsync(connection, e).ConfigureAwait(false);
            if (ReferenceEquals(failure, e))
            {
                throw;
            }
            throw failure;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            Log.SessionClosed(logger, PeerName, session.WireBytesSent, session.WireBytesReceived);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What to throw for a session that failed on <paramref name="connection"/>: a refusal the transport saw
    /// (<see cref="PeerRefusedException"/> under the session's exception), what ssh said when it ended, else <paramref name="e"/> itself.
    /// </summary>
    public static async Task<Exception> TranslateAsync(Stream connection, Exception e)
    {
        if (connection is TlsSessionStream { Refusal: { } refusal })
        {
            return refusal;
        }
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is PeerRefusedException or PeerUnreachableException)
            {
                return inner;
            }
        }
        if (connection is SshStream ssh && e is SessionException { Reason: not SessionErrorReason.Unauthorized and not SessionErrorReason.PeerError })
        {
            var described = await ssh.DescribeFailureAsync(TimeSpan.FromSeconds(2), e).ConfigureAwait(false);
            return ssh.HasExited ? described : e;
        }
        return e;
    }
}
