using System.Globalization;
using DeltaSnap.Remote;
using DeltaSnap.Remote.Transports;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// The rules of <c>serve --authorize FILE</c>: one per line, <c>PEER read|write PREFIX</c>, where PEER is a
/// certificate's common name, its SHA-256 fingerprint, or <c>*</c> (any peer the transport accepted); <c>write</c>
/// allows reading too; PREFIX is compared with the start of the volume's address as the client sent it
/// (<c>lvol:/srv/</c>, <c>zfs:tank/backup/</c>). Blank lines and lines starting with <c>#</c> are ignored. An address
/// with a <c>.</c> or <c>..</c> component is never allowed, so a prefix cannot be escaped.
/// </summary>
internal sealed class PeerAuthorization
{
    private readonly List<Rule> _rules;

    private PeerAuthorization(List<Rule> rules) => _rules = rules;

    /// <summary>The rule count (for the start-up line).</summary>
    public int Count => _rules.Count;

    /// <summary>Reads the rules; a malformed line is a usage error naming the line.</summary>
    public static PeerAuthorization Load(string file)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"Cannot read the authorisation file {file}: {e.Message}", e);
        }
        return Parse(lines, file);
    }

    /// <summary>Parses the rules from lines (<paramref name="source"/> names them in messages).</summary>
    public static PeerAuthorization Parse(IEnumerable<string> lines, string source)
    {
        var rules = new List<Rule>();
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length != 3 || words[1] is not ("read" or "write"))
            {
                throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                    $"{source}:{number}: expected 'PEER read|write PREFIX' (PEER a certificate's common name, its SHA-256 fingerprint or *), found '{line}'."));
            }
            var peer = CertificateFingerprint.TryParse(words[0], out var fingerprint) ? fingerprint : words[0];
            rules.Add(new Rule(peer, fingerprint is not null, words[1] == "write", words[2]));
        }
        return new PeerAuthorization(rules);
    }

    /// <summary>Whether <paramref name="peer"/> may access <paramref name="address"/> so.</summary>
    public bool IsAllowed(PeerIdentity peer, string address, VolumeAccess access)
    {
        if (HasDotComponent(address))
        {
            return false;
        }
        foreach (var rule in _rules)
        {
            var peerMatches = rule.Peer == "*"
                || (rule.IsFingerprint ? string.Equals(rule.Peer, peer.CertificateSha256, StringComparison.Ordinal) : string.Equals(rule.Peer, peer.Name, StringComparison.Ordinal));
            if (peerMatches && (rule.Write || access == VolumeAccess.Read) && address.StartsWith(rule.Prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    private static bool HasDotComponent(string address) =>
        address.Split('/', '#', ':').Any(part => part is "." or "..");

    private sealed record Rule(string Peer, bool IsFingerprint, bool Write, string Prefix);
}
