namespace DeltaSnap.Remote.Transports;

/// <summary>
/// A transport could not reach its peer: the connection was refused or timed out, the TLS handshake did not finish in
/// time, or <c>ssh</c> ended before the session started. Retrying may succeed.
/// </summary>
public sealed class PeerUnreachableException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public PeerUnreachableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public PeerUnreachableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public PeerUnreachableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override bool IsTransient => true;
}
