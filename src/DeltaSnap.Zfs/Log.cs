using Microsoft.Extensions.Logging;

namespace DeltaSnap.Zfs;

/// <summary>Every log message of DeltaSnap.Zfs. Event ids 3000–3999 belong to it; names are frozen once shipped.</summary>
internal static partial class Log
{
    [LoggerMessage(3001, LogLevel.Debug, "Running {CommandLine}")]
    public static partial void CommandStarting(ILogger logger, string commandLine);

    [LoggerMessage(3002, LogLevel.Debug, "{CommandLine} exited with {ExitCode}: {StandardError}")]
    public static partial void CommandFailed(ILogger logger, string commandLine, int exitCode, string standardError);

    [LoggerMessage(3003, LogLevel.Debug, "{CommandLine}: dataset is busy; retrying in {DelayMilliseconds} ms")]
    public static partial void CommandBusy(ILogger logger, string commandLine, double delayMilliseconds);

    [LoggerMessage(3010, LogLevel.Information, "ZFS features of {Program}: {Features}")]
    public static partial void FeaturesDetected(ILogger logger, string program, ZfsFeatures features);

    [LoggerMessage(3020, LogLevel.Debug, "Stream into {Dataset}: {Kind} to GUID {ToGuid} ({ToName}), from GUID {FromGuid}")]
    public static partial void StreamHeaderRead(ILogger logger, string dataset, string kind, ulong toGuid, string toName, ulong fromGuid);

    [LoggerMessage(3021, LogLevel.Warning, "{CommandLine} reported failure ({StandardError}) but snapshot {Snapshot} exists with the stream's GUID {Guid}: the receive completed (a zfs-fuse quirk of forced full receives)")]
    public static partial void ReceiveFailureButComplete(ILogger logger, string commandLine, string standardError, string snapshot, ulong guid);

    [LoggerMessage(3025, LogLevel.Warning, "{CommandLine} failed ({StandardError}) and snapshot {Snapshot} is not there (yet); looking again (attempt {Attempt})")]
    public static partial void ReceiveFailedSnapshotMissing(ILogger logger, string commandLine, string standardError, string snapshot, int attempt);

    [LoggerMessage(3022, LogLevel.Debug, "Lifting {Property}={Value} of {Dataset} for the receive")]
    public static partial void QuotaLifted(ILogger logger, string dataset, string property, string value);

    [LoggerMessage(3023, LogLevel.Error, "Could not restore {Property}={Value} of {Dataset} after the receive")]
    public static partial void QuotaRestoreFailed(ILogger logger, Exception exception, string dataset, string property, string value);

    [LoggerMessage(3024, LogLevel.Information, "Aborting the stale partial receive state of {Dataset}")]
    public static partial void PartialReceiveAborting(ILogger logger, string dataset);

    [LoggerMessage(3030, LogLevel.Debug, "Holding {Snapshot} with tag {Tag}")]
    public static partial void Holding(ILogger logger, string snapshot, string tag);

    [LoggerMessage(3031, LogLevel.Debug, "Releasing tag {Tag} of {Snapshot}")]
    public static partial void Releasing(ILogger logger, string snapshot, string tag);

    [LoggerMessage(3032, LogLevel.Warning, "Could not update the base protection of {Dataset}")]
    public static partial void ProtectFailed(ILogger logger, Exception exception, string dataset);

    [LoggerMessage(3040, LogLevel.Debug, "Snapshot {Snapshot} has no .zfs directory; made the read-only view {View}")]
    public static partial void ViewCreated(ILogger logger, string snapshot, string view);

    [LoggerMessage(3041, LogLevel.Debug, "Destroying the read-only view {View} of {Snapshot}")]
    public static partial void ViewDestroying(ILogger logger, string view, string snapshot);
}
