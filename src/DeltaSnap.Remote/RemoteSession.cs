using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote;

/// <summary>
/// The active side of a session: connects to a <see cref="VolumeServer"/> over a duplex stream and opens the server's
/// volumes as <see cref="RemoteVolume"/>s, which the <see cref="DeltaSnap.Replication.Replicator"/> refreshes like local
/// ones (push: the target is remote; pull: the source is; relay: both). Requests run concurrently. Disposing closes the
/// session (the server then releases everything it opened for it) but not the stream.
/// <para>
/// On a stream of <see cref="Transports.TlsTransport"/> or <see cref="Transports.SshTransport"/>, a session that fails
/// is reported as the transport saw it, by the handshake and by every request: <see cref="Transports.PeerRefusedException"/>
/// for a server that did not accept this client's certificate or an ssh login that was refused,
/// <see cref="Transports.PeerUnreachableException"/> with what ssh said when it ended; otherwise a
/// <see cref="SessionException"/>.
/// </para>
/// </summary>
public sealed class RemoteSession : IAsyncDisposable
{
    private readonly ClientSession _session;

    private RemoteSession(ClientSession session) => _session = session;

    /// <summary>
    /// Runs the handshake on <paramref name="connection"/>: banners, version and features, compression. The session then
    /// sends heartbeats and watches the server's until disposed.
    /// </summary>
    /// <param name="connection">A connected duplex stream; the caller disposes it after the session.</param>
    /// <param name="options">Compression preference, bandwidth limit, timeouts; null for the defaults.</param>
    /// <param name="loggerFactory">Where to log; null for nowhere.</param>
    /// <param name="cancellationToken">Cancels the handshake.</param>
    /// <exception cref="SessionException">The peer is not a DeltaSnap server, shares no version or compression, or did not answer within the handshake timeout.</exception>
    /// <exception cref="Transports.PeerRefusedException">The transport says the peer refused this client (a TLS server that did not accept its certificate, an ssh login that was refused).</exception>
    /// <exception cref="Transports.PeerUnreachableException">The transport says the peer is not there (ssh ended before the session started).</exception>
    public static async Task<RemoteSession> ConnectAsync(Stream connection, RemoteSessionOptions? options = null, ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var session = await ClientSession.ConnectAsync(connection, options ?? new RemoteSessionOptions(), loggerFactory, cancellationToken).ConfigureAwait(false);
        return new RemoteSession(session);
    }

    /// <summary>The compression the peers agreed on.</summary>
    public SessionCompression Compression => _session.Connection.Compression;

    /// <summary>The bytes this side wrote to the connection (banners, frame headers and payloads).</summary>
    public long WireBytesSent => _session.Connection.WireBytesSent;

    /// <summary>The bytes this side read from the connection.</summary>
    public long WireBytesReceived => _session.Connection.WireBytesReceived;

    /// <summary>How the peer is named in addresses and messages (<see cref="RemoteSessionOptions.PeerName"/>, or <c>remote</c>).</summary>
    public string PeerName => _session.PeerName;

    /// <summary>Whether the session has ended (it failed, the server closed it, or it was disposed).</summary>
    internal bool HasEnded => _session.Connection.Failure is not null;

    /// <summary>The schemes of the backends the server offers, in its order.</summary>
    public IReadOnlyList<string> RemoteSchemes => _session.RemoteSchemes;

    /// <summary>Opens an existing volume on the server.</summary>
    /// <param name="address">The address as the server's resolver understands it (<c>lvol:/srv/a.lvs#vm</c>).</param>
    /// <param name="cancellationToken">Cancels the request (on the server too).</param>
    /// <returns>A <see cref="RemoteVolume"/>; disposing its <see cref="Volume.Driver"/> releases it on the server.</returns>
    /// <exception cref="FormatException">The server cannot parse the address.</exception>
    /// <exception cref="VolumeNotFoundException">There is no such volume.</exception>
    /// <exception cref="SessionException">The server refused it (<see cref="SessionErrorReason.Unauthorized"/>) or the session failed.</exception>
    public Task<Volume> OpenVolumeAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        return _session.OpenVolumeAsync(address, create: null, cancellationToken);
    }

    /// <summary>Creates a volume on the server.</summary>
    /// <param name="address">The address as the server's resolver understands it.</param>
    /// <param name="options">The kind and size.</param>
    /// <param name="cancellationToken">Cancels the request (on the server too).</param>
    /// <returns>A <see cref="RemoteVolume"/>; disposing its <see cref="Volume.Driver"/> releases it on the server.</returns>
    /// <exception cref="ArgumentException">The server's backend refuses the name or the options.</exception>
    /// <exception cref="SessionException">The server refused it (<see cref="SessionErrorReason.Unauthorized"/>) or the session failed.</exception>
    public Task<Volume> CreateVolumeAsync(string address, VolumeCreateOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        ArgumentNullException.ThrowIfNull(options);
        return _session.OpenVolumeAsync(address, options, cancellationToken);
    }

    /// <summary>Whether the volume exists on the server.</summary>
    /// <exception cref="FormatException">The server cannot parse the address.</exception>
    /// <exception cref="SessionException">The server refused it (<see cref="SessionErrorReason.Unauthorized"/>) or the session failed.</exception>
    public Task<bool> VolumeExistsAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        return _session.VolumeExistsAsync(address, cancellationToken);
    }

    /// <summary>
    /// Opens a driver on the server for a backend's location (<c>lvol</c>, <c>/srv/a.lvs</c>), to list, create, open and
    /// delete its volumes. Requests through it are authorised against the address <c>scheme:location</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The server has no such backend, or it cannot open the location.</exception>
    /// <exception cref="SessionException">The server refused it or the session failed.</exception>
    public Task<VolumeDriver> OpenDriverAsync(string scheme, string location, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        ArgumentException.ThrowIfNullOrEmpty(location);
        return _session.OpenDriverAsync(scheme, location, cancellationToken);
    }

    /// <summary>Closes the session: tells the server, stops the heartbeats. Requests in flight fail with <see cref="SessionErrorReason.ConnectionLost"/>.</summary>
    public ValueTask DisposeAsync() => _session.DisposeAsync();
}
