using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote.Transports;

/// <summary>The transports' log messages (event ids 7500–7599; names frozen once shipped).</summary>
internal static partial class TransportLog
{
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

    [LoggerMessage(7516, LogLevel.Warning, "The session with {Remote} ({Peer}) failed: {Reason}")]
    public static partial void SessionFailed(ILogger logger, string remote, string peer, string reason);

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
