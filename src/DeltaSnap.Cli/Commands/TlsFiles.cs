using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DeltaSnap.Remote.Transports;

namespace DeltaSnap.Cli.Commands;

/// <summary>The PEM files and fingerprints of <c>serve --cert/--key/--trust</c> and <c>refresh --tls-cert/--tls-key/--tls-trust</c>.</summary>
internal static class TlsFiles
{
    /// <summary>A certificate with its private key from PEM files; certificates after the first in <paramref name="certificateFile"/> are its chain.</summary>
    public static (X509Certificate2 Certificate, IReadOnlyList<X509Certificate2> Chain) LoadCertificate(string certificateFile, string keyFile)
    {
        try
        {
            var certificate = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
            var all = new X509Certificate2Collection();
            all.ImportFromPemFile(certificateFile);
            var chain = all.Skip(1).ToList();
            return (certificate, chain);
        }
        catch (CryptographicException e)
        {
            throw new UsageException($"Cannot load the certificate {certificateFile} with the key {keyFile}: {e.Message.TrimEnd('.')} (both PEM; the key unencrypted and matching the certificate).", e);
        }
    }

    /// <summary>
    /// What <c>--trust</c> values say: a SHA-256 fingerprint pins a certificate; a PEM file's certificate authorities
    /// (basic constraints CA) are trusted as issuers, and its other certificates are pinned.
    /// </summary>
    public static (IReadOnlyList<string> Pinned, IReadOnlyList<X509Certificate2> Authorities) LoadTrust(IEnumerable<string> values)
    {
        var pinned = new List<string>();
        var authorities = new List<X509Certificate2>();
        foreach (var value in values)
        {
            if (CertificateFingerprint.TryParse(value, out var fingerprint))
            {
                pinned.Add(fingerprint);
                continue;
            }
            if (!File.Exists(value))
            {
                throw new UsageException($"'{value}' is neither a SHA-256 fingerprint (64 hex digits) nor a PEM file of certificates.");
            }
            var certificates = new X509Certificate2Collection();
            try
            {
                certificates.ImportFromPemFile(value);
            }
            catch (CryptographicException e)
            {
                throw new UsageException($"Cannot read the certificates in {value}: {e.Message}", e);
            }
            if (certificates.Count == 0)
            {
                throw new UsageException($"{value} holds no PEM certificate.");
            }
            foreach (var certificate in certificates)
            {
                if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
                {
                    authorities.Add(certificate);
                }
                else
                {
                    pinned.Add(CertificateFingerprint.Sha256(certificate));
                }
            }
        }
        return (pinned, authorities);
    }
}
