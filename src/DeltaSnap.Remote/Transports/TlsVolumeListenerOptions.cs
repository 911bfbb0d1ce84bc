using System.Security.Cryptography.X509Certificates;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// How a <see cref="TlsVolumeListener"/> accepts clients: its own certificate, and which client certificates it trusts
/// (pinned SHA-256 fingerprints, or chains to the given certificate authorities: never the system's store). Every client
/// must present a trusted certificate; what each may then do is <see cref="VolumeServerOptions.Authorize"/>'s decision.
/// </summary>
public sealed record TlsVolumeListenerOptions
{
    /// <summary>The server's certificate with its private key (<c>X509Certificate2.CreateFromPemFile(cert, key)</c>).</summary>
    public X509Certificate2? ServerCertificate { get; init; }

    /// <summary>Intermediate certificates sent with <see cref="ServerCertificate"/>; empty by default.</summary>
    public IReadOnlyList<X509Certificate2> ServerCertificateChain { get; init; } = [];

    /// <summary>SHA-256 fingerprints of the client certificates trusted as they are (pinned).</summary>
    public IReadOnlyList<string> TrustedClientSha256 { get; init; } = [];

    /// <summary>Certificate authorities a client certificate may chain to.</summary>
    public IReadOnlyList<X509Certificate2> TrustedAuthorities { get; init; } = [];

    /// <summary>How many sessions may run at once (default 8); a connection beyond them is closed at once, before its handshake, and logged.</summary>
    public int MaxConcurrentSessions { get; init; } = 8;

    /// <summary>How long a client's TLS handshake may take (default 10 s); a connection that stalls is closed.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    internal CertificateTrust Validate()
    {
        if (ServerCertificate is null)
        {
            throw new ArgumentException("A TLS listener needs its own certificate.", nameof(ServerCertificate));
        }
        if (!ServerCertificate.HasPrivateKey)
        {
            throw new ArgumentException($"The server certificate {ServerCertificate.Subject} has no private key.", nameof(ServerCertificate));
        }
        if (MaxConcurrentSessions < 1)
        {
            throw new ArgumentException("At least one session must be allowed.", nameof(MaxConcurrentSessions));
        }
        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("The handshake timeout must be positive.", nameof(HandshakeTimeout));
        }
        return new CertificateTrust(TrustedClientSha256, TrustedAuthorities, "client certificate");
    }
}
