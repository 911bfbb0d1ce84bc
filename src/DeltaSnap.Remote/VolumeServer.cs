using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Remote;

/// <summary>
/// The passive side of a session (zrepl's passive side; <c>deltasnap serve</c> runs one): serves the requests of one
/// connected <see cref="RemoteSession"/> on volumes it opens through its own <see cref="VolumeResolver"/>, checking each
/// request with <see cref="VolumeServerOptions.Authorize"/>. One server serves any number of sessions at once.
/// </summary>
public sealed class VolumeServer
{
    private readonly VolumeResolver _resolver;
    private readonly VolumeServerOptions _options;
    private readonly ILoggerFactory _loggerFactory;

    /// <summary>Creates a server for the volumes <paramref name="resolver"/> can open.</summary>
    /// <param name="resolver">Opens the volumes clients name (its registered backends are what the server offers).</param>
    /// <param name="options">Timeouts, limits, compression and authorisation; null for the defaults (everything allowed).</param>
    /// <param name="loggerFactory">Where to log; null for nowhere.</param>
    /// <exception cref="ArgumentNullException"><paramref name="resolver"/> is null.</exception>
    public VolumeServer(VolumeResolver resolver, VolumeServerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        _resolver = resolver;
        _options = options ?? new VolumeServerOptions();
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
    }

    /// <summary>The options the server runs with.</summary>
    public VolumeServerOptions Options => _options;

    /// <summary>
    /// Serves one session on <paramref name="connection"/> to its end: the handshake, then requests until the client closes
    /// the session, the connection ends, the peer falls silent or <paramref name="cancellationToken"/> fires. On any end,
    /// every device and driver the session opened is disposed and receives in flight are aborted. Does not dispose the stream.
    /// </summary>
    /// <param name="connection">A connected duplex stream (TLS, an ssh channel's stdio, a <see cref="DuplexPipe"/> end).</param>
    /// <param name="peer">Who the transport authenticated.</param>
    /// <param name="cancellationToken">Ends the session (the client's calls in flight fail with <see cref="SessionErrorReason.ConnectionLost"/>).</param>
    /// <returns>Completes when the session ended normally (the client closed it or the connection ended between requests).</returns>
    /// <exception cref="SessionException">The handshake failed, the peer broke the protocol or fell silent.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public Task ServeAsync(Stream connection, PeerIdentity peer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(peer);
        return ServerSession.RunAsync(_resolver, _options, connection, peer, _loggerFactory, cancellationToken);
    }
}
