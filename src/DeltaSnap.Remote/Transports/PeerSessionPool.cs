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
            // A failed handshake is reported as the transport saw it (a refused certificate or login): the session explains it.
            var session = await RemoteSession.ConnectAsync(connection, sessionOptions, loggerFactory, cancellationToken).ConfigureAwait(false);
            Log.SessionOpened(_logger, peer.Name, peer.Scheme, session.Compression.ToString());
            return new PeerSession(peer.Name, connection, session, _logger);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>
/// A session with one peer and the transport under it. Its requests' failures are reported as the transport saw them
/// (the session explains them); once it has ended, the pool makes a new one for the next volume.
/// </summary>
internal sealed class PeerSession(string peerName, Stream connection, RemoteSession session, ILogger logger) : IAsyncDisposable
{
    public string PeerName { get; } = peerName;

    public RemoteSession Session { get; } = session;

    /// <summary>Whether the session has ended (its connection failed, or the server closed it).</summary>
    public bool IsBroken => Session.HasEnded;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Session.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            Log.SessionClosed(logger, PeerName, Session.WireBytesSent, Session.WireBytesReceived);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
