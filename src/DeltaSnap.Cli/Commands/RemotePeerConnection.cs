using System.Globalization;
using System.Runtime.ExceptionServices;
using DeltaSnap.Drivers;
using DeltaSnap.Remote;
using DeltaSnap.Remote.Transports;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// A session of the command's own with one peer (<c>ssh://</c> or <c>tls://</c>), for what the resolver's remote backends
/// do not give: a driver at a location on the server (<see cref="RemoteSession.OpenDriverAsync"/>), which
/// <c>volume list tls://HOST:PORT/SCHEME:LOCATION</c> lists. The resolver's remote backends open, create and check
/// volumes by address only.
/// </summary>
internal static class RemotePeerConnection
{
    /// <summary>Whether <paramref name="address"/> names a volume or location on a peer (<c>ssh://…</c>, <c>tls://…</c>).</summary>
    public static bool IsRemote(string address) =>
        address.StartsWith("ssh:", StringComparison.OrdinalIgnoreCase) || address.StartsWith("tls:", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Connects to the peer of <paramref name="peer"/> (a remote address as the resolver parsed it: scheme,
    /// <c>[user@]host[:port]</c>), runs <paramref name="request"/> on a session with it, and ends the session. A failed
    /// session is reported as the transport saw it: a refused certificate or ssh login, a peer not there.
    /// </summary>
    /// <exception cref="PeerUnreachableException">Nothing answers there.</exception>
    /// <exception cref="PeerRefusedException">A certificate or an ssh login was refused, either way.</exception>
    /// <exception cref="SessionException">The server refused the request, is not a DeltaSnap server, or did not answer in time.</exception>
    public static async Task<T> RunAsync<T>(VolumeAddress peer, RemoteTransportOptions options, ILoggerFactory logging, Func<RemoteSession, Task<T>> request,
        CancellationToken cancellationToken)
    {
        var (user, host, port) = SplitPeer(peer.Location);
        Stream connection = string.Equals(peer.Scheme, "ssh", StringComparison.OrdinalIgnoreCase)
            ? SshTransport.Start(host, user, port, options.Ssh, logging)
            : await TlsTransport.ConnectAsync(host, port ?? throw new UsageException($"{peer.Scheme}://{peer.Location} names no port."),
                options.Tls ?? throw new UsageException("A tls:// address needs --tls-cert, --tls-key and --tls-trust."), logging, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            try
            {
                var session = await RemoteSession.ConnectAsync(connection, options.Session with { PeerName = $"{peer.Scheme}://{peer.Location}" }, logging, cancellationToken).ConfigureAwait(false);
                await using (session.ConfigureAwait(false))
                {
                    return await request(session).ConfigureAwait(false);
                }
            }
            catch (SessionException e)
            {
                ExceptionDispatchInfo.Throw(await ExplainAsync(connection, e).ConfigureAwait(false));
                throw;
            }
        }
    }

    /// <summary>
    /// What to report for a session that failed: the transport's refusal or unreachable peer when one is under it, what
    /// ssh said when it ended; otherwise <paramref name="e"/> itself (a refusal by the server, for one).
    /// </summary>
    private static async Task<Exception> ExplainAsync(Stream connection, SessionException e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is PeerRefusedException or PeerUnreachableException)
            {
                return inner;
            }
        }
        if (connection is SshStream ssh && e.Reason is not (SessionErrorReason.Unauthorized or SessionErrorReason.PeerError))
        {
            var described = await ssh.DescribeFailureAsync(TimeSpan.FromSeconds(2), e).ConfigureAwait(false);
            return ssh.HasExited ? described : e;
        }
        if (connection is not SshStream && e.Reason == SessionErrorReason.ConnectionLost)
        {
            // A TLS server that does not trust this client closes the connection right after the handshake; the session
            // reports a closed connection. Until the client has received a byte, a read of TlsTransport's stream says so
            // (PeerRefusedException), as its documentation promises.
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await connection.ReadAsync(new byte[1], timeout.Token).ConfigureAwait(false);
            }
            catch (PeerRefusedException refused)
            {
                return refused;
            }
            catch (Exception probe) when (probe is IOException or OperationCanceledException or NotSupportedException or InvalidOperationException or ObjectDisposedException)
            {
                // It received something, or the read cannot tell: the session's own failure is the report.
            }
        }
        return e;
    }

    /// <summary>Splits <c>[user@]host[:port]</c> (IPv6 hosts in brackets), which the resolver has parsed and checked already.</summary>
    private static (string? User, string Host, int? Port) SplitPeer(string key)
    {
        string? user = null;
        var at = key.LastIndexOf('@');
        if (at >= 0)
        {
            user = key[..at];
            key = key[(at + 1)..];
        }
        var hostEnd = key.StartsWith('[') ? key.IndexOf(']', StringComparison.Ordinal) + 1 : 0;
        var colon = key.IndexOf(':', hostEnd);
        var host = colon < 0 ? key : key[..colon];
        var port = colon < 0 ? (int?)null : int.Parse(key[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture);
        return (user, host.TrimStart('[').TrimEnd(']'), port);
    }
}
