using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DeltaSnap.Remote.Transports;

namespace DeltaSnap.Remote.Network.Tests.Support;

/// <summary>A certificate and its key written as PEM files.</summary>
internal sealed record PemCertificate(string CertificateFile, string KeyFile, string Sha256, X509Certificate2 Certificate);

/// <summary>
/// Certificates made for one test run with <see cref="CertificateRequest"/>: a small CA, a server certificate it issues
/// (for the server's IP addresses and localhost), client certificates it issues, self-signed ones (pinned or not).
/// </summary>
internal sealed class TestCertificates
{
    private readonly string _dir;
    private readonly X509Certificate2 _ca;
    private readonly ECDsa _caKey;

    public TestCertificates(string dir)
    {
        _dir = dir;
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=DeltaSnap test CA", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CaFile = Path.Combine(dir, "ca.pem");
        File.WriteAllText(CaFile, _ca.ExportCertificatePem());
    }

    /// <summary>The CA certificate (PEM), for --trust and --tls-trust.</summary>
    public string CaFile { get; }

    /// <summary>A server certificate issued by the CA for <paramref name="addresses"/> and localhost.</summary>
    public PemCertificate Server(string name, params IPAddress[] addresses) => Issue(name, server: true, addresses);

    /// <summary>A client certificate issued by the CA with common name <paramref name="name"/>.</summary>
    public PemCertificate Client(string name) => Issue(name, server: false, []);

    /// <summary>A self-signed client certificate (trusted only when its fingerprint is pinned).</summary>
    public PemCertificate SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2"), new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return Write(name, certificate, key);
    }

    private PemCertificate Issue(string name, bool server, IPAddress[] addresses)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            foreach (var address in addresses)
            {
                names.AddIpAddress(address);
            }
            request.CertificateExtensions.Add(names.Build());
        }
        var serial = new byte[12];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7f;
        // Within the CA's validity (its NotAfter, to the second, was fixed when it was made: on a loaded machine a second
        // or more before this).
        using var issued = request.Create(_ca, DateTimeOffset.UtcNow.AddMinutes(-5), new DateTimeOffset(_ca.NotAfter.ToUniversalTime()).AddMinutes(-1), serial);
        return Write(name, issued, key);
    }

    private PemCertificate Write(string name, X509Certificate2 certificate, ECDsa key)
    {
        var cert = Path.Combine(_dir, name + ".crt");
        var keyFile = Path.Combine(_dir, name + ".key");
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return new PemCertificate(cert, keyFile, CertificateFingerprint.Sha256(certificate), X509Certificate2.CreateFromPemFile(cert, keyFile));
    }
}
