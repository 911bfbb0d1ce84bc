using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// The server side of mutual TLS (<c>deltasnap serve --listen</c>): accepts TCP connections, completes a TLS 1.3
/// handshake that requires a client certificate, refuses any client whose certificate is not trusted before a byte of
/// the session is sent (logged with its fingerprint), and runs <see cref="VolumeServer.ServeAsync"/> for each client
/// it trusts, as the peer its certificate names (<see cref="PeerIdentity"/>: the subject's common name and the
/// certificate's SHA-256 fingerprint), with at most <see cref="TlsVolumeListenerOptions.MaxConcurrentSessions"/> at once.
/// </summary>
public sealed class TlsVolumeListener : IAsyncDisposable
{
    private readonly VolumeServer _server;
    private readonly TlsVolumeListenerOptions _options;
    private readonly CertificateTrust _trust;
    private readonly SslStreamCertificateContext _certificate;
    private readonly ILogger _logger;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly HashSet<Task> _sessions = [];
    private bool _started;
    private int _disposed;

    /// <summary>Creates the listener (not listening yet: <see cref="Start"/> or <see cref="RunAsync"/>).</summary>
    /// <param name="endpoint">The address and port to listen on (port 0: any free port, see <see cref="LocalEndPoint"/>).</param>
    /// <param name="server">Serves each trusted client's session.</param>
    /// <param name="options">The server's certificate, the clients trusted, the limits.</param>
    /// <param name="loggerFactory">Where to log; null for no logging.</param>
    /// <exception cref="ArgumentException">The options are not usable (no certificate or key, nothing trusted).</exception>
    public TlsVolumeListener(IPEndPoint endpoint, VolumeServer server, TlsVolumeListenerOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(options);
        _trust = options.Validate();
        _server = server;
        _options = options;
        _certificate = SslStreamCertificateContext.Create(options.ServerCertificate!, [.. options.ServerCertificateChain], offline: true);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<TlsVolumeListener>();
        _listener = new TcpListener(endpoint);
    }

    /// <summary>The address and port listened on (after <see cref="Start"/>).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>How many sessions are running now.</summary>
    public int ActiveSessions
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    /// <summary>Starts listening (binds the port); connections wait in the backlog until <see cref="RunAsync"/> accepts them.</summary>
    /// <exception cref="SocketException">The address cannot be listened on (in use, not local).</exception>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_started)
        {
            return;
        }
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _started = true;
        Log.TlsListening(_logger, LocalEndPoint.ToString(), CertificateFingerprint.Sha256(_options.ServerCertificate!));
    }

    /// <summary>
    /// Accepts and serves connections until <paramref name="cancellationToken"/> is cancelled or the listener is disposed;
    /// then stops the sessions still running and waits for them.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        Start();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }
                catch (ObjectDisposedException) when (stop.IsCancellationRequested || _disposed != 0)
                {
                    break;
                }
                catch (SocketException e)
                {
                    // A connection reset while it waited in the backlog: nothing to serve.
                    Log.AcceptFailed(_logger, e.Message);
                    continue;
                }
                var remote = client.Client.RemoteEndPoint?.ToString() ?? "?";
                lock (_lock)
                {
                    if (_sessions.Count >= _options.MaxConcurrentSessions)
                    {
                        Log.TooManySessions(_logger, remote, _options.MaxConcurrentSessions);
                        client.Client.Close(0);
                        client.Dispose();
                        continue;
                    }
                    var session = Task.Run(() => ServeConnectionAsync(client, remote, stop.Token), CancellationToken.None);
                    _sessions.Add(session);
                    _ = session.ContinueWith(t =>
                    {
                        lock (_lock)
                        {
                            _sessions.Remove(t);
                        }
                    }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            _listener.Stop();
            Task[] running;
            lock (_lock)
            {
                running = [.. _sessions];
            }
            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    /// <summary>Stops listening and accepting; sessions in <see cref="RunAsync"/> are cancelled.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        Task[] running;
        lock (_lock)
        {
            running = [.. _sessions];
        }
        await Task.WhenAll(running).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task ServeConnectionAsync(TcpClient client, string remote, CancellationToken cancellationToken)
    {
        using var _ = client;
        client.NoDelay = true;
        TcpKeepAlive.Enable(client.Client);
        var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        await using (ssl.ConfigureAwait(false))
        {
            string? refusal = null;
            string? fingerprint = null;
            string? commonName = null;
            var authentication = new SslServerAuthenticationOptions
            {
                ServerCertificateContext = _certificate,
                ClientCertificateRequired = true,
                EnabledSslProtocols = SslProtocols.Tls13,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
                {
                    if (certificate is null)
                    {
                        refusal = "it presented no client certificate";
                        return false;
                    }
                    using var presented = new X509Certificate2(certificate);
                    fingerprint = CertificateFingerprint.Sha256(presented);
                    commonName = CertificateFingerprint.CommonName(presented);
                    if (_trust.IsTrusted(presented, chain, hostName: null, out var reason))
                    {
                        return true;
                    }
                    refusal = $"its certificate ({commonName}) is not trusted: {reason}";
                    return false;
                },
            };
            using (var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                handshakeTimeout.CancelAfter(_options.HandshakeTimeout);
                try
                {
                    await ssl.AuthenticateAsServerAsync(authentication, handshakeTimeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or SocketException)
                {
                    if (refusal is not null)
                    {
                        Log.ClientRefused(_logger, remote, fingerprint ?? "none", refusal);
                    }
                    else if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                    {
                        Log.HandshakeFailed(_logger, remote, $"no TLS handshake within {_options.HandshakeTimeout.TotalSeconds:0.#} s");
                    }
                    else if (!cancellationToken.IsCancellationRequested)
                    {
                        Log.HandshakeFailed(_logger, remote, TlsTransport.Inner(e));
                    }
                    return;
                }
            }
            if (refusal is not null || fingerprint is null || commonName is null)
            {
                // The handshake completed without our check saying yes (it cannot, but never serve such a client).
                Log.ClientRefused(_logger, remote, fingerprint ?? "none", refusal ?? "its certificate was not checked");
                return;
            }
            var peer = new PeerIdentity(commonName, fingerprint);
            Log.ClientAccepted(_logger, remote, commonName, fingerprint);
            try
            {
                await _server.ServeAsync(new TlsSessionStream(ssl, remote, isClient: false), peer, cancellationToken).ConfigureAwait(false);
                Log.SessionEnded(_logger, remote, commonName);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Log.SessionEnded(_logger, remote, commonName);
            }
            catch (Exception e)
            {
                Log.ListenerSessionFailed(_logger, remote, commonName, TlsTransport.Inner(e));
            }
        }
    }
}
