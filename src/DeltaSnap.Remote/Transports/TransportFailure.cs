namespace DeltaSnap.Remote.Transports;

/// <summary>
/// What a session that failed on a transport's stream is reported as: the transport's own account when it has one (a
/// server that refused this client's certificate right after the TLS handshake, an ssh login that was refused, an ssh that
/// ended), else the session's failure. <see cref="ClientSession"/> asks it for every failure of a client session, so
/// every user of a session sees <see cref="PeerRefusedException"/> or <see cref="PeerUnreachableException"/> rather than
/// a bare lost connection.
/// </summary>
internal static class TransportFailure
{
    /// <summary>How long to wait for ssh to end before its exit code and standard error explain a failed session.</summary>
    private static readonly TimeSpan SshExitWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The transport's account of <paramref name="failure"/>, a failure of a session on <paramref name="connection"/>;
    /// <paramref name="failure"/> itself when the transport has none (a refusal by the server, a protocol error).
    /// </summary>
    public static async Task<Exception> ExplainAsync(Stream connection, Exception failure)
    {
        if (connection is TlsSessionStream { Refusal: { } refusal })
        {
            return refusal;
        }
        for (var inner = failure; inner is not null; inner = inner.InnerException)
        {
            if (inner is PeerRefusedException or PeerUnreachableException)
            {
                return inner;
            }
        }
        if (connection is SshStream ssh && failure is SessionException { Reason: not SessionErrorReason.Unauthorized and not SessionErrorReason.PeerError })
        {
            var described = await ssh.DescribeFailureAsync(SshExitWait, failure).ConfigureAwait(false);
            return ssh.HasExited ? described : failure;
        }
        return failure;
    }

    /// <summary>Whether a session's failure may have a transport's account: the connection broke, went silent, or carried something else than the protocol.</summary>
    public static bool MayExplain(SessionException failure) =>
        failure.Reason is SessionErrorReason.ConnectionLost or SessionErrorReason.Timeout or SessionErrorReason.ProtocolViolation;
}
