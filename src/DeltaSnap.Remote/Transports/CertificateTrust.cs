using System.Security.Cryptography.X509Certificates;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// Decides whether a peer's certificate is trusted: its SHA-256 fingerprint is pinned, or it chains to one of the
/// given certificate authorities (and nothing else: the system's store is never consulted, revocation is not checked).
/// </summary>
internal sealed class CertificateTrust
{
    private readonly HashSet<string> _pinned;
    private readonly X509Certificate2Collection _authorities;

    public CertificateTrust(IEnumerable<string> pinnedSha256, IEnumerable<X509Certificate2> authorities, string what)
    {
        _pinned = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in pinnedSha256)
        {
            if (!CertificateFingerprint.TryParse(text, out var fingerprint))
            {
                throw new ArgumentException($"'{text}' is not a SHA-256 certificate fingerprint (64 hex digits).", what);
            }
            _pinned.Add(fingerprint);
        }
        _authorities = [.. authorities];
        if (_pinned.Count == 0 && _authorities.Count == 0)
        {
            throw new ArgumentException($"No {what} is trusted: pin certificates by SHA-256 fingerprint or give certificate authorities.", what);
        }
    }

    /// <summary>Whether <paramref name="certificate"/> is trusted; otherwise why not.</summary>
    /// <param name="certificate">The peer's certificate.</param>
    /// <param name="presented">The chain the peer presented (intermediates), if any.</param>
    /// <param name="hostName">For a server: the name it must carry when trusted through an authority; null for a client.</param>
    /// <param name="reason">Why it is not trusted.</param>
    public bool IsTrusted(X509Certificate2 certificate, X509Chain? presented, string? hostName, out string reason)
    {
        var fingerprint = CertificateFingerprint.Sha256(certificate);
        if (_pinned.Contains(fingerprint))
        {
            reason = "";
            return true;
        }
        if (_authorities.Count == 0)
        {
            reason = "its fingerprint is not pinned";
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                if (!element.Certificate.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
                {
                    chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }
        }
        if (!chain.Build(certificate))
        {
            var status = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            reason = "it does not chain to a trusted certificate authority" + (status.Length > 0 ? $" ({status})" : "");
            return false;
        }
        if (hostName is not null && !certificate.MatchesHostname(hostName, allowWildcards: true, allowCommonName: true))
        {
            reason = $"it is not issued for {hostName}";
            return false;
        }
        reason = "";
        return true;
    }
}
