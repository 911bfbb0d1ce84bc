using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote;

/// <summary>Every log message of DeltaSnap.Remote. Event ids 8000–8999 belong to it; names are frozen once shipped.</summary>
internal static partial class Log
{
    [LoggerMessage(8001, LogLevel.Information, "Session with {Peer} established: protocol {Version}, compression {Compression}")]
    public static partial void SessionEstablished(ILogger logger, string peer, int version, SessionCompression compression);

    [LoggerMessage(8002, LogLevel.Warning, "Session with {Peer} failed: {Reason}")]
    public static partial void SessionFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(8003, LogLevel.Debug, "{Peer} closed the session: {Reason}")]
    public static partial void PeerClosed(ILogger logger, string peer, string reason);

    [LoggerMessage(8010, LogLevel.Debug, "Request {Id} {Operation} from {Peer}")]
    public static partial void RequestReceived(ILogger logger, long id, string operation, string peer);

    [LoggerMessage(8011, LogLevel.Information, "Request {Id} {Operation} from {Peer} failed: {Message}")]
    public static partial void RequestFailed(ILogger logger, long id, string operation, string peer, string message);

    [LoggerMessage(8012, LogLevel.Warning, "Refused {Operation} on {Address} ({Access}) to {Peer}")]
    public static partial void RequestRefused(ILogger logger, string operation, string address, VolumeAccess access, string peer);

    [LoggerMessage(8013, LogLevel.Information, "Session with {Peer} ended; released {Count} open object(s)")]
    public static partial void SessionReleased(ILogger logger, string peer, int count);
}
