using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// The client side of mutual TLS: a TCP connection to a <c>deltasnap serve --listen</c> server, TLS 1.3 only, this
/// side's certificate sent, the server's checked against <see cref="TlsTransportOptions"/> (a pinned fingerprint or
/// the given authorities). The stream it gives carries a session (<see cref="RemoteSession.ConnectAsync"/>).
/// </summary>
public static class TlsTransport
{
    /// <summary>Connects and completes the TLS handshake; the caller disposes the stream (which closes the connection).</summary>
    /// <param name="host">The server's host name or address.</param>
    /// <param name="port">Its port.</param>
    /// <param name="options">The client certificate, what server to trust and the timeouts.</param>
    /// <param name="loggerFactory">Where to log; null for no logging.</param>
    /// <param name="cancellationToken">Cancels the connection attempt.</param>
    /// <returns>The encrypted stream. Its first read reports a server that closes the connection right after the handshake (it did not trust this client) as <see cref="PeerRefusedException"/>.</returns>
    /// <exception cref="ArgumentException">The options are not usable (no client certificate or key, nothing trusted) or the host name is not one.</exception>
    /// <exception cref="PeerUnreachableException">The connection was refused or timed out, or the handshake did not finish in time.</exception>
    /// <exception cref="PeerRefusedException">The server's certificate is not trusted, or the server refused the handshake.</exception>
    public static async Task<Stream> ConnectAsync(string host, int port, TlsTransportOptions options, ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        PeerNames.ValidateHost(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var trust = options.Validate();
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(typeof(TlsTransport));
        var peer = $"{host}:{port}";
        Log.TlsConnecting(logger, peer);

        var client = new TcpClient { NoDelay = true };
        try
        {
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                connectTimeout.CancelAfter(options.ConnectTimeout);
                try
                {
                    await client.ConnectAsync(host, port, connectTimeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new PeerUnreachableException($"Cannot connect to {peer}: no answer within {options.ConnectTimeout.TotalSeconds:0.#} s.");
                }
                catch (SocketException e)
                {
                    throw new PeerUnreachableException($"Cannot connect to {peer}: {e.Message}.", e);
                }
            }
            TcpKeepAlive.Enable(client.Client);

            string? refusal = null;
            var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
            try
            {
                var authentication = new SslClientAuthenticationOptions
                {
                    TargetHost = host,
                    EnabledSslProtocols = SslProtocols.Tls13,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    ClientCertificateContext = SslStreamCertificateContext.Create(options.ClientCertificate!, [.. options.ClientCertificateChain], offline: true),
                    RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
                    {
                        if (certificate is null)
                        {
                            refusal = "it presented no certificate";
                            return false;
                        }
                        using var presented = new X509Certificate2(certificate);
                        if (trust.IsTrusted(presented, chain, host, out var reason))
                        {
                            return true;
                        }
                        refusal = $"its certificate ({CertificateFingerprint.CommonName(presented)}, sha256 {CertificateFingerprint.Sha256(presented)}) is not trusted: {reason}";
                        return false;
                    },
                };
                using var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                handshakeTimeout.CancelAfter(options.HandshakeTimeout);
                try
                {
                    await ssl.AuthenticateAsClientAsync(authentication, handshakeTimeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (refusal is not null && e is AuthenticationException or IOException)
                {
                    Log.TlsServerRefused(logger, peer, refusal);
                    throw new PeerRefusedException($"Refused the server {peer}: {refusal}.", e);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new PeerUnreachableException($"The TLS handshake with {peer} did not finish within {options.HandshakeTimeout.TotalSeconds:0.#} s (is it a deltasnap TLS server?).");
                }
                catch (AuthenticationException e)
                {
                    throw new PeerRefusedException($"The TLS handshake with {peer} failed: {Inner(e)} (it needs TLS 1.3 and a client certificate it trusts).", e);
                }
                catch (IOException e)
                {
                    throw new PeerRefusedException($"The server {peer} ended the TLS handshake: {Inner(e)} (it did not accept this client's certificate, or is not a deltasnap TLS server).", e);
                }
                Log.TlsConnected(logger, peer, ssl.RemoteCertificate is { } c ? CertificateFingerprint.Sha256(c) : "");
                return new TlsSessionStream(ssl, peer, isClient: true);
            }
            catch
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    internal static string Inner(Exception e)
    {
        var message = e.Message.TrimEnd('.');
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!message.Contains(inner.Message.TrimEnd('.'), StringComparison.Ordinal))
            {
                message += ": " + inner.Message.TrimEnd('.');
            }
        }
        return message;
    }
}
