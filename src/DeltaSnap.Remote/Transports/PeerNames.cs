using System.Globalization;
using DeltaSnap.Drivers;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// Checks host and user names before they reach <c>ssh</c>'s argument list or a socket: a name that starts with
/// <c>-</c> would be read as an option, and spaces, control characters or shell metacharacters have no place in one.
/// </summary>
internal static class PeerNames
{
    /// <summary>Throws <see cref="InvalidNameException"/> (an <see cref="ArgumentException"/>) unless <paramref name="host"/> is a host name, an IPv4 address or a bracket-less IPv6 address.</summary>
    public static void ValidateHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.Length == 0 || host.Length > 253)
        {
            throw new InvalidNameException($"'{Printable(host)}' is not a host name.", nameof(host));
        }
        if (host[0] == '-')
        {
            throw new InvalidNameException($"The host name '{Printable(host)}' starts with '-' (it would be read as an option).", nameof(host));
        }
        foreach (var c in host)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':'))
            {
                throw new InvalidNameException($"The host name '{Printable(host)}' holds {Describe(c)}: a host name is letters, digits, '.', '-' and '_' (or an IP address).", nameof(host));
            }
        }
    }

    /// <summary>Throws <see cref="InvalidNameException"/> (an <see cref="ArgumentException"/>) unless <paramref name="user"/> is a plain user name.</summary>
    public static void ValidateUser(string user)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (user.Length == 0 || user.Length > 64 || user[0] == '-'
            || !user.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
        {
            throw new InvalidNameException($"'{Printable(user)}' is not a user name: letters, digits, '.', '-' and '_', not starting with '-'.", nameof(user));
        }
    }

    private static string Describe(char c) => char.IsControl(c) || char.IsWhiteSpace(c)
        ? string.Create(CultureInfo.InvariantCulture, $"the character U+{(int)c:X4}")
        : $"'{c}'";

    private static string Printable(string s) => new([.. s.Select(c => char.IsControl(c) ? '?' : c)]);
}
