using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote;

/// <summary>
/// Every log message of DeltaSnap.Remote: the session's (event ids 8000–8999) and the transports' (7500–7599, from
/// before they shared this class; their ids and names are kept). Names are frozen once shipped.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(8001, LogLevel.Information, "Session with {Peer} established: protocol {Version}, compression {Compression}")]
    public static partial void SessionEstablished(ILogger logger, string peer, int version, SessionCompression compression);

    [LoggerMessage(8002, LogLevel.Warning, "Session with {Peer} failed: {Reason}")]
    public static partial void SessionFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(8003, LogLevel.Debug, "{Peer} closed the session: {Reason}")]
    public static partial void PeerClosed(ILogger logger, string peer, string reason);

    [LoggerMessage(8004, LogLevel.Debug, "Sent {Count} requests to {Peer} in the session: {Operations}")]
    public static partial void RequestsSent(ILogger logger, int count, string peer, string operations);

    [LoggerMessage(8010, LogLevel.Debug, "Request {Id} {Operation} from {Peer}")]
    public static partial void RequestReceived(ILogger logger, long id, string operation, string peer);

    [LoggerMessage(8011, LogLevel.Information, "Request {Id} {Operation} from {Peer} failed: {Message}")]
    public static partial void RequestFailed(ILogger logger, long id, string operation, string peer, string message);

    [LoggerMessage(8012, LogLevel.Warning, "Refused {Operation} on {Address} ({Access}) to {Peer}")]
    public static partial void RequestRefused(ILogger logger, string operation, string address, VolumeAccess access, string peer);

    [LoggerMessage(8013, LogLevel.Information, "Session with {Peer} ended; released {Count} open object(s)")]
    public static partial void SessionReleased(ILogger logger, string peer, int count);

    [LoggerMessage(8020, LogLevel.Information, "Request {Id}: the native stream of {Address}@{Snapshot} does not begin with the {Prefix} bytes {Peer} holds; nothing was sent")]
    public static partial void PrefixMismatched(ILogger logger, long id, string address, string snapshot, long prefix, string peer);

    [LoggerMessage(8021, LogLevel.Warning, "{Peer} (an older server) cannot skip the {Prefix} bytes of the native stream of {Snapshot} held here: the whole stream crosses the wire and this side drops what it holds")]
    public static partial void PrefixNotSkippedByPeer(ILogger logger, string peer, string snapshot, long prefix);

    [LoggerMessage(8022, LogLevel.Warning, "{Peer} found that the native stream of {Snapshot} does not begin with the {Prefix} bytes held here (digest {Digest}): the source's snapshots changed, or the spool holds another stream")]
    public static partial void PrefixRefusedByPeer(ILogger logger, string peer, string snapshot, long prefix, string digest);

    // ---- transports (7500–7599) ----

    [LoggerMessage(7500, LogLevel.Debug, "Connecting to {Peer} over TLS")]
    public static partial void TlsConnecting(ILogger logger, string peer);

    [LoggerMessage(7501, LogLevel.Information, "Connected to {Peer} over TLS 1.3; its certificate sha256 {Fingerprint}")]
    public static partial void TlsConnected(ILogger logger, string peer, string fingerprint);

    [LoggerMessage(7502, LogLevel.Warning, "Refused the server {Peer}: {Reason}")]
    public static partial void TlsServerRefused(ILogger logger, string peer, string reason);

    [LoggerMessage(7510, LogLevel.Information, "Listening for TLS sessions on {Endpoint}; server certificate sha256 {Fingerprint}")]
    public static partial void TlsListening(ILogger logger, string endpoint, string fingerprint);

    [LoggerMessage(7511, LogLevel.Warning, "Refused the client {Remote} (certificate sha256 {Fingerprint}): {Reason}")]
    public static partial void ClientRefused(ILogger logger, string remote, string fingerprint, string reason);

    [LoggerMessage(7512, LogLevel.Information, "Accepted the client {Remote} as {Peer} (certificate sha256 {Fingerprint})")]
    public static partial void ClientAccepted(ILogger logger, string remote, string peer, string fingerprint);

    [LoggerMessage(7513, LogLevel.Warning, "The TLS handshake with {Remote} failed: {Reason}")]
    public static partial void HandshakeFailed(ILogger logger, string remote, string reason);

    [LoggerMessage(7514, LogLevel.Warning, "Closed the connection from {Remote}: {Limit} sessions are running already")]
    public static partial void TooManySessions(ILogger logger, string remote, int limit);

    [LoggerMessage(7515, LogLevel.Information, "The session with {Remote} ({Peer}) ended")]
    public static partial void SessionEnded(ILogger logger, string remote, string peer);

    [LoggerMessage(7516, LogLevel.Warning, "The session with {Remote} ({Peer}) failed: {Reason}", EventName = "SessionFailed")]
    public static partial void ListenerSessionFailed(ILogger logger, string remote, string peer, string reason);

    [LoggerMessage(7517, LogLevel.Debug, "Accepting a connection failed: {Reason}")]
    public static partial void AcceptFailed(ILogger logger, string reason);

    [LoggerMessage(7520, LogLevel.Debug, "Starting {CommandLine}")]
    public static partial void SshStarting(ILogger logger, string commandLine);

    [LoggerMessage(7521, LogLevel.Information, "ssh to {Peer} ended with exit code {ExitCode}")]
    public static partial void SshEnded(ILogger logger, string peer, int exitCode);

    [LoggerMessage(7530, LogLevel.Information, "Opened a session with {Peer} over {Transport}; compression {Compression}")]
    public static partial void SessionOpened(ILogger logger, string peer, string transport, string compression);

    [LoggerMessage(7531, LogLevel.Information, "Closed the session with {Peer}: {Sent} bytes sent, {Received} received on the wire")]
    public static partial void SessionClosed(ILogger logger, string peer, long sent, long received);
}
