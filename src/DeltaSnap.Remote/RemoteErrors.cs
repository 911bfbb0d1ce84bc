using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Remote;

/// <summary>How failures cross the session: the sender's exception type name and message; well-known types are rebuilt on the other side.</summary>
internal static class RemoteErrors
{
    public static ControlMessage ToMessage(long id, Exception error)
    {
        var reason = error switch
        {
            UnauthorizedAccessException => "unauthorized",
            OperationCanceledException => "cancelled",
            SessionException s => s.Reason.ToString(),
            _ => null,
        };
        var type = error is SessionException { RemoteExceptionType: { } remote } ? remote : error.GetType().FullName;
        return new ControlMessage { Type = "error", Id = id, ErrorType = type, Message = error.Message, Reason = reason };
    }

    /// <summary>The exception a caller sees for the peer's error message.</summary>
    public static Exception ToException(ControlMessage message, string peer)
    {
        var text = $"{message.Message} (on {peer})";
        if (message.Reason == "unauthorized")
        {
            return new SessionException(SessionErrorReason.Unauthorized, $"{peer} refused: {message.Message}") { RemoteExceptionType = message.ErrorType };
        }
        return message.ErrorType switch
        {
            "DeltaSnap.Drivers.InvalidNameException" => new InvalidNameException(text),
            "System.ArgumentException" or "System.ArgumentNullException" or "System.ArgumentOutOfRangeException" => new ArgumentException(text),
            "System.FormatException" => new FormatException(text),
            "System.NotSupportedException" => new NotSupportedException(text),
            "System.InvalidOperationException" => new InvalidOperationException(text),
            "System.OperationCanceledException" or "System.Threading.Tasks.TaskCanceledException" => new OperationCanceledException(text),
            "DeltaSnap.Drivers.VolumeNotFoundException" => new VolumeNotFoundException(text),
            // A missing container (an lvol store file, a directory) is what callers create a target for.
            "System.IO.FileNotFoundException" => new FileNotFoundException(text),
            "System.IO.DirectoryNotFoundException" => new DirectoryNotFoundException(text),
            "DeltaSnap.NativeStreamMismatchException" => new NativeStreamMismatchException(text),
            "DeltaSnap.CorruptDataException" => new CorruptDataException(text),
            // A program the server ran failed (rsync --server on the rsync route): the message holds its command line, exit code and stderr.
            "DeltaSnap.BackendCommandException" => new BackendCommandException(text),
            "DeltaSnap.Lineage.NoCommonBaseException" => new NoCommonBaseException(text),
            "DeltaSnap.Replication.VerificationFailedException" => new Replication.VerificationFailedException(text),
            // Earlier servers name it in DeltaSnap.Replication, where it first was.
            "DeltaSnap.RefreshInProgressException" or "DeltaSnap.Replication.RefreshInProgressException" => new RefreshInProgressException(text),
            _ => new SessionException(SessionErrorReason.PeerError, $"{peer} failed: {message.Message} ({message.ErrorType})")
            {
                RemoteExceptionType = message.ErrorType,
            },
        };
    }
}
