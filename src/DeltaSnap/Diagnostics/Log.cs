using Microsoft.Extensions.Logging;

namespace DeltaSnap.Diagnostics;

/// <summary>Every log message of the core package. Event ids 1000–1999 belong to it; names are frozen once shipped.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Creating {Scheme} volume {Name} ({Kind}, {Size} bytes)")]
    public static partial void VolumeCreating(ILogger logger, string scheme, string name, string kind, long size);

    [LoggerMessage(1002, LogLevel.Information, "Deleting {Scheme} volume {Name}")]
    public static partial void VolumeDeleting(ILogger logger, string scheme, string name);

    [LoggerMessage(1010, LogLevel.Debug, "Creating snapshot {Snapshot} of {Volume}")]
    public static partial void SnapshotCreating(ILogger logger, string volume, string snapshot);

    [LoggerMessage(1011, LogLevel.Debug, "Deleting snapshot {Snapshot} of {Volume}")]
    public static partial void SnapshotDeleting(ILogger logger, string volume, string snapshot);

    [LoggerMessage(1012, LogLevel.Debug, "Rolling {Volume} back to {Snapshot}")]
    public static partial void SnapshotRollingBack(ILogger logger, string volume, string snapshot);

    [LoggerMessage(1020, LogLevel.Debug, "Sending {Volume}@{Snapshot} natively, incremental from {Base}")]
    public static partial void NativeSending(ILogger logger, string volume, string? @base, string snapshot);

    [LoggerMessage(1022, LogLevel.Debug, "Sending {Volume}@{Snapshot} natively, incremental from {Base}, after the first {Prefix} bytes")]
    public static partial void NativeSendingAfterPrefix(ILogger logger, string volume, string? @base, string snapshot, long prefix);

    [LoggerMessage(1021, LogLevel.Debug, "Receiving {Snapshot} into {Volume}, incremental from {Base}")]
    public static partial void NativeReceiving(ILogger logger, string volume, string? @base, string snapshot);

    [LoggerMessage(1030, LogLevel.Debug, "Opening a {Scheme} driver for {Location}")]
    public static partial void DriverOpening(ILogger logger, string scheme, string location);

    [LoggerMessage(1031, LogLevel.Debug, "Opening {Scheme} volume {Address}")]
    public static partial void VolumeOpening(ILogger logger, string scheme, string address);

    [LoggerMessage(1032, LogLevel.Debug, "Creating {Scheme} volume {Address}")]
    public static partial void VolumeCreatingAt(ILogger logger, string scheme, string address);

    [LoggerMessage(1100, LogLevel.Information, "Refreshing {Target} from {Source}: {Kind} by the {Route} route, {Count} snapshot(s) to send, live state {Live}")]
    public static partial void RefreshStarting(ILogger logger, string source, string target, string kind, string route, int count, bool live);

    [LoggerMessage(1101, LogLevel.Information, "Refreshed {Target} from {Source} in {Seconds:F2} s: {BytesSent} bytes sent, {BytesWritten} written")]
    public static partial void RefreshCompleted(ILogger logger, string source, string target, double seconds, long bytesSent, long bytesWritten);

    [LoggerMessage(1102, LogLevel.Error, "Refresh of {Target} from {Source} failed; cleaning up")]
    public static partial void RefreshFailed(ILogger logger, Exception exception, string source, string target);

    [LoggerMessage(1103, LogLevel.Warning, "Cleanup after refresh of {Target}: could not {Action}")]
    public static partial void CleanupFailed(ILogger logger, Exception exception, string target, string action);

    [LoggerMessage(1104, LogLevel.Information, "Removing leftover temporary snapshot {Snapshot} of {Volume}")]
    public static partial void LeftoverRemoving(ILogger logger, string volume, string snapshot);

    [LoggerMessage(1106, LogLevel.Debug, "Planned refresh of {Target} from {Source}: {Kind}, base {Base}, {Send} to send, {Delete} to delete on the target")]
    public static partial void RefreshPlanned(ILogger logger, string source, string target, string kind, string? @base, int send, int delete);

    [LoggerMessage(1105, LogLevel.Debug, "Sent {Snapshot} to {Target}: {Bytes} bytes")]
    public static partial void SnapshotSent(ILogger logger, string target, string snapshot, long bytes);
    [LoggerMessage(1107, LogLevel.Information, "Resuming the copy into {Target} from {Base}: a checkpoint of {Saved:O} says {Bytes} bytes of {To} had been written; the target's live state is compared instead of rolled back")]
    public static partial void ResumeFound(ILogger logger, string target, string? @base, DateTimeOffset saved, long bytes, string to);

    [LoggerMessage(1108, LogLevel.Warning, "Discarding the resume checkpoint of {Target}: {Reason}; the refresh starts over from the target's newest complete snapshot")]
    public static partial void ResumeDiscarded(ILogger logger, string target, string reason);

    [LoggerMessage(1109, LogLevel.Information, "Kept the partial copy in {Target}'s live state for the next refresh to resume ({Bytes} bytes written)")]
    public static partial void ResumeKept(ILogger logger, string target, long bytes);

    [LoggerMessage(1110, LogLevel.Information, "Resuming the native transfer of {To} into {Target} from {Base}: a checkpoint of {Saved:O} says {Bytes} bytes of its stream are spooled; the source sends only what follows them once their digest matches")]
    public static partial void NativeResumeFound(ILogger logger, string target, string? @base, DateTimeOffset saved, long bytes, string to);

    [LoggerMessage(1111, LogLevel.Information, "Kept {Bytes} bytes of the stream of {To} spooled in {Spool} for the next refresh of {Target} to resume")]
    public static partial void SpoolKept(ILogger logger, string target, string to, long bytes, string spool);

    [LoggerMessage(1112, LogLevel.Warning, "Refreshing {Target} without its lock: {Path} cannot be used ({Reason}); nothing keeps a second refresh of it from running at once")]
    public static partial void RefreshLockUnavailable(ILogger logger, string target, string path, string reason);
}
