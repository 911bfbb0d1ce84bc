using Microsoft.Extensions.Logging;

namespace DeltaSnap.Btrfs;

/// <summary>Every log message of DeltaSnap.Btrfs. Event ids 4000–4999 belong to it; names are frozen once shipped.</summary>
internal static partial class Log
{
    [LoggerMessage(4001, LogLevel.Debug, "Running {Command}")]
    public static partial void CommandStarting(ILogger logger, string command);

    [LoggerMessage(4002, LogLevel.Debug, "{Command} exited with {ExitCode} after {Milliseconds:F1} ms ({Bytes} bytes streamed)")]
    public static partial void CommandFinished(ILogger logger, string command, int exitCode, double milliseconds, long bytes);

    [LoggerMessage(4010, LogLevel.Debug, "Stream for {Volume}: {Kind} of {Snapshot} (UUID {Uuid}, parent {ParentUuid}), protocol version {Version}")]
    public static partial void StreamChecked(ILogger logger, string volume, string kind, string snapshot, string uuid, string? parentUuid, uint version);

    [LoggerMessage(4011, LogLevel.Warning, "Receive of {Snapshot} into {Volume} failed; removing the half-received subvolume {Path}")]
    public static partial void HalfReceivedRemoving(ILogger logger, string volume, string snapshot, string path);

    [LoggerMessage(4012, LogLevel.Warning, "Removing the half-received subvolume {Path} left by an earlier receive into {Volume}")]
    public static partial void LeftoverHalfReceivedRemoving(ILogger logger, string volume, string path);

    [LoggerMessage(4015, LogLevel.Warning, "Could not remove the half-received subvolume {Path} of {Volume}; the next receive of that name removes it")]
    public static partial void HalfReceivedRemoveFailed(ILogger logger, Exception exception, string volume, string path);

    [LoggerMessage(4013, LogLevel.Information, "Received {Snapshot} into {Volume}: {Bytes} bytes, received UUID {ReceivedUuid}")]
    public static partial void Received(ILogger logger, string volume, string snapshot, long bytes, string receivedUuid);

    [LoggerMessage(4014, LogLevel.Information, "Sent {Snapshot} of {Volume} (incremental from {Base}): {Bytes} bytes")]
    public static partial void Sent(ILogger logger, string volume, string snapshot, string? @base, long bytes);

    [LoggerMessage(4020, LogLevel.Information, "Replacing the live subvolume of {Volume} with a writable snapshot of {Snapshot}")]
    public static partial void LiveReplacing(ILogger logger, string volume, string snapshot);

    [LoggerMessage(4021, LogLevel.Warning, "Could not delete the replaced live subvolume {Path} of {Volume}; a later promote or delete removes it")]
    public static partial void ReplacedLiveDeleteFailed(ILogger logger, Exception exception, string volume, string path);

    [LoggerMessage(4022, LogLevel.Information, "Removing leftover {Path} of {Volume}")]
    public static partial void LeftoverRemoving(ILogger logger, string volume, string path);

    [LoggerMessage(4023, LogLevel.Warning, "This kernel has no Landlock: btrfs receive is not confined to the snapshot directory, and follows whatever paths a stream names")]
    public static partial void ReceiveUnconfined(ILogger logger);

    [LoggerMessage(4030, LogLevel.Debug, "Skipping {Path} in the snapshot directory of {Volume}: {Reason}")]
    public static partial void SnapshotEntrySkipped(ILogger logger, string volume, string path, string reason);
}
