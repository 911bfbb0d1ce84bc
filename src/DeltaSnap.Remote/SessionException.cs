namespace DeltaSnap.Remote;

/// <summary>Why a session or one of its requests failed.</summary>
public enum SessionErrorReason
{
    /// <summary>The peer broke the protocol (a bad banner, an unknown frame, a length over the limit, a window overrun); the session ended.</summary>
    ProtocolViolation,

    /// <summary>The operation failed on the peer; <see cref="SessionException.RemoteExceptionType"/> names the peer's exception type.</summary>
    PeerError,

    /// <summary>The peer was silent for longer than the peer timeout, or the handshake took longer than the handshake timeout; the session ended.</summary>
    Timeout,

    /// <summary>The connection closed, or the peer closed the session, while the request was in flight.</summary>
    ConnectionLost,

    /// <summary>The server refused the operation: the peer may not access the volume that way.</summary>
    Unauthorized,

    /// <summary>The peers share no protocol version or no compression.</summary>
    Incompatible,
}

/// <summary>
/// A session failed, or the peer failed a request: see <see cref="Reason"/>. Well-known failures on the peer
/// (a missing volume, a bad name, a native stream that does not fit, no common base) are rethrown as their own types
/// with the peer named in the message; everything else arrives as this exception with <see cref="SessionErrorReason.PeerError"/>.
/// </summary>
public class SessionException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public SessionException()
        : this("The session failed.")
    {
    }

    /// <summary>Creates the exception with a message (reason <see cref="SessionErrorReason.ConnectionLost"/>).</summary>
    public SessionException(string message)
        : this(message, (Exception?)null)
    {
    }

    /// <summary>Creates the exception with a message and a cause (reason <see cref="SessionErrorReason.ConnectionLost"/>).</summary>
    public SessionException(string message, Exception? innerException)
        : this(SessionErrorReason.ConnectionLost, message, innerException)
    {
    }

    /// <summary>Creates the exception with a reason, a message and a cause.</summary>
    public SessionException(SessionErrorReason reason, string message, Exception? innerException = null)
        : base(message, innerException) => Reason = reason;

    /// <summary>Why the session or request failed.</summary>
    public SessionErrorReason Reason { get; }

    /// <summary>The full name of the exception type the peer reported (<see cref="SessionErrorReason.PeerError"/>), else null.</summary>
    public string? RemoteExceptionType { get; init; }

    /// <inheritdoc />
    public override bool IsTransient => Reason is SessionErrorReason.Timeout or SessionErrorReason.ConnectionLost;
}
