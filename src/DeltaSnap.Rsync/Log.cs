using Microsoft.Extensions.Logging;

namespace DeltaSnap.Rsync;

/// <summary>Every log message of DeltaSnap.Rsync. Event ids 6000–6999 belong to it; names are frozen once shipped.</summary>
internal static partial class Log
{
    [LoggerMessage(6001, LogLevel.Debug, "Running {Command}")]
    public static partial void ProgramStarting(ILogger logger, string command);

    [LoggerMessage(6002, LogLevel.Debug, "{Command} exited with {ExitCode} after {Milliseconds:F1} ms")]
    public static partial void ProgramFinished(ILogger logger, string command, int exitCode, double milliseconds);

    [LoggerMessage(6003, LogLevel.Warning, "Cancelled: killed {Command}")]
    public static partial void ProgramKilled(ILogger logger, string command);

    [LoggerMessage(6010, LogLevel.Information, "Synchronized {Target} from {Source}: {Files} files ({Literal} bytes of changed data, {Sent} bytes sent)")]
    public static partial void Synchronized(ILogger logger, string source, string target, long files, long literal, long sent);

    [LoggerMessage(6011, LogLevel.Warning, "Some files of {Source} vanished while it was copied to {Target}; accepted because vanished files are allowed")]
    public static partial void FilesVanished(ILogger logger, string source, string target);

    [LoggerMessage(6012, LogLevel.Warning, "This kernel has no Landlock: an rsync that talks to a peer is not confined to the tree it synchronizes")]
    public static partial void PeerRsyncUnconfined(ILogger logger);

    [LoggerMessage(6020, LogLevel.Debug, "Snapshot {Snapshot} of {Volume} made by {Method}")]
    public static partial void SnapshotCopied(ILogger logger, string volume, string snapshot, string method);

    [LoggerMessage(6021, LogLevel.Warning, "Removing the half-made snapshot copy {Path} of {Volume}")]
    public static partial void PartialCopyRemoving(ILogger logger, string volume, string path);
}
