using System.Globalization;
using DeltaSnap.Drivers;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// The peer part of a remote address: <c>ssh://[user@]host[:port]/INNER</c> or <c>tls://host:port/INNER</c>. Its
/// <see cref="Key"/> (<c>[user@]host[:port]</c>) is the <see cref="VolumeAddress.Location"/>, INNER the
/// <see cref="VolumeAddress.Name"/>.
/// </summary>
internal sealed record RemotePeerAddress(string Scheme, string? User, string Host, int? Port)
{
    /// <summary>The peer as <c>[user@]host[:port]</c> (IPv6 addresses in brackets).</summary>
    public string Key =>
        (User is null ? "" : User + "@") + (Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host)
        + (Port is { } p ? ":" + p.ToString(CultureInfo.InvariantCulture) : "");

    /// <summary>How the peer is named in volume addresses and messages: <c>scheme://[user@]host[:port]</c>.</summary>
    public string Name => Scheme + "://" + Key;

    /// <summary>Parses the part after <c>scheme:</c>: <c>//AUTHORITY/INNER</c>.</summary>
    /// <exception cref="FormatException">It is not of that form.</exception>
    /// <exception cref="InvalidNameException">The host or user name is hostile (a leading '-', spaces, control characters).</exception>
    public static (RemotePeerAddress Peer, string Inner) Parse(string scheme, string rest, string syntax)
    {
        if (!rest.StartsWith("//", StringComparison.Ordinal))
        {
            throw new FormatException($"'{scheme}:{rest}' is not a remote address: expected {syntax}.");
        }
        var slash = rest.IndexOf('/', 2);
        if (slash < 0 || slash == rest.Length - 1)
        {
            throw new FormatException($"'{scheme}:{rest}' names no volume after the host: expected {syntax}, the volume as the server names it (zfs:pool/vm).");
        }
        var inner = rest[(slash + 1)..];
        var colon = inner.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new FormatException($"'{scheme}:{rest}': '{inner}' is not a volume address (scheme:…, such as zfs:pool/vm or lvol:/srv/a.lvs#vm).");
        }
        return (ParseKey(scheme, rest[2..slash], syntax), inner);
    }

    /// <summary>Parses <c>[user@]host[:port]</c>.</summary>
    public static RemotePeerAddress ParseKey(string scheme, string authority, string syntax)
    {
        string? user = null;
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            user = authority[..at];
            authority = authority[(at + 1)..];
            PeerNames.ValidateUser(user);
        }
        string host;
        string? portText = null;
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"'{authority}' is not a host: an IPv6 address ends with ']'.");
            }
            host = authority[1..close];
            var after = authority[(close + 1)..];
            if (after.Length > 0)
            {
                portText = after.StartsWith(':') ? after[1..] : throw new FormatException($"'{authority}' is not host:port.");
            }
        }
        else
        {
            var colon = authority.LastIndexOf(':');
            host = colon < 0 ? authority : authority[..colon];
            portText = colon < 0 ? null : authority[(colon + 1)..];
        }
        PeerNames.ValidateHost(host);
        int? port = null;
        if (portText is not null)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                throw new FormatException($"'{portText}' is not a port (1 to 65535) in {syntax}.");
            }
            port = p;
        }
        return new RemotePeerAddress(scheme, user, host, port);
    }
}
