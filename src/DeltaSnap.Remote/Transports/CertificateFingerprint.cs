using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// SHA-256 fingerprints of certificates, the form peers are pinned and named by: 64 lower-case hex digits of the
/// SHA-256 of the certificate's DER encoding (what <c>openssl x509 -noout -fingerprint -sha256</c> prints, without the colons).
/// </summary>
public static class CertificateFingerprint
{
    /// <summary>The SHA-256 fingerprint of <paramref name="certificate"/>: 64 lower-case hex digits.</summary>
    public static string Sha256(X509Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexStringLower(SHA256.HashData(certificate.GetRawCertData()));
    }

    /// <summary>
    /// Reads a fingerprint as people write it: hex digits in any case, optionally separated by colons or spaces and
    /// prefixed with <c>sha256:</c> or <c>SHA256 Fingerprint=</c>. Gives the canonical form (64 lower-case hex digits).
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out string? fingerprint)
    {
        fingerprint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var s = text.Trim();
        var equals = s.LastIndexOf('=');
        if (equals >= 0 && s.StartsWith("sha256", StringComparison.OrdinalIgnoreCase))
        {
            s = s[(equals + 1)..];
        }
        else if (s.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
        {
            s = s["sha256:".Length..];
        }
        var hex = new string([.. s.Where(c => c is not (':' or ' '))]);
        if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
        {
            return false;
        }
        fingerprint = hex.ToLowerInvariant();
        return true;
    }

    /// <summary>The common name (CN) of <paramref name="certificate"/>'s subject, or its whole subject when it has none.</summary>
    public static string CommonName(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return string.IsNullOrEmpty(name) ? certificate.Subject : name;
    }
}
