using System.Security.Cryptography.X509Certificates;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// How <see cref="TlsTransport"/> connects to a <c>deltasnap serve --listen</c> server: TLS 1.3 only, with a client
/// certificate (the server requires one), the server trusted by a pinned SHA-256 fingerprint or through the given
/// certificate authorities (never the system's store).
/// </summary>
public sealed record TlsTransportOptions
{
    /// <summary>This client's certificate, with its private key (<c>X509Certificate2.CreateFromPemFile(cert, key)</c>).</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Certificates sent with <see cref="ClientCertificate"/> so that the server can build its chain (intermediates); empty by default.</summary>
    public IReadOnlyList<X509Certificate2> ClientCertificateChain { get; init; } = [];

    /// <summary>SHA-256 fingerprints of the server certificates trusted as they are (pinned; any host name).</summary>
    public IReadOnlyList<string> TrustedServerSha256 { get; init; } = [];

    /// <summary>Certificate authorities a server certificate may chain to; it must then be issued for the host name connected to.</summary>
    public IReadOnlyList<X509Certificate2> TrustedAuthorities { get; init; } = [];

    /// <summary>How long the TCP connection may take (default 10 s, as zrepl's dial timeout).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the TLS handshake may take (default 10 s).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    internal CertificateTrust Validate()
    {
        if (ClientCertificate is null)
        {
            throw new ArgumentException("A TLS connection needs a client certificate (the server requires one).", nameof(ClientCertificate));
        }
        if (!ClientCertificate.HasPrivateKey)
        {
            throw new ArgumentException($"The client certificate {ClientCertificate.Subject} has no private key.", nameof(ClientCertificate));
        }
        if (ConnectTimeout <= TimeSpan.Zero || HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("The connect and handshake timeouts must be positive.", nameof(ConnectTimeout));
        }
        return new CertificateTrust(TrustedServerSha256, TrustedAuthorities, "server certificate");
    }
}
