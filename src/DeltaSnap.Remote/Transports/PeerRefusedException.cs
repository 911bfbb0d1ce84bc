namespace DeltaSnap.Remote.Transports;

/// <summary>
/// A transport refused its peer, or the peer refused us, before any volume was touched: a certificate that is not
/// trusted (or none), a server that is not the one pinned, a peer that closed the connection right after the TLS
/// handshake (it did not trust our certificate), or an ssh login that was refused.
/// </summary>
public sealed class PeerRefusedException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public PeerRefusedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public PeerRefusedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public PeerRefusedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
