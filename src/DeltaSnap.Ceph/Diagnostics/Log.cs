using Microsoft.Extensions.Logging;

namespace DeltaSnap.Ceph.Diagnostics;

/// <summary>Every log message of DeltaSnap.Ceph. Event ids 5000–5999 belong to it; names are frozen once shipped.</summary>
internal static partial class Log
{
    [LoggerMessage(5001, LogLevel.Information, "Connected to the Ceph cluster as client.{ClientId}")]
    public static partial void Connected(ILogger logger, string clientId);

    [LoggerMessage(5002, LogLevel.Debug, "No Ceph configuration file found; relying on CEPH_ARGS and explicit settings")]
    public static partial void NoConfigFile(ILogger logger);

    [LoggerMessage(5003, LogLevel.Debug, "Disconnecting from the Ceph cluster (client.{ClientId})")]
    public static partial void Disconnecting(ILogger logger, string clientId);

    [LoggerMessage(5010, LogLevel.Debug, "Opened {Spec} ({Mode}, {Size} bytes)")]
    public static partial void DeviceOpened(ILogger logger, string spec, string mode, long size);

    [LoggerMessage(5011, LogLevel.Debug, "Created RBD image {Spec} ({Size} bytes, features 0x{Features:x}, object order {Order})")]
    public static partial void ImageCreated(ILogger logger, string spec, long size, ulong features, int order);

    [LoggerMessage(5012, LogLevel.Debug, "Removed RBD image {Spec}")]
    public static partial void ImageRemoved(ILogger logger, string spec);

    [LoggerMessage(5020, LogLevel.Debug, "Created snapshot {Spec}@{Snapshot} (id {SnapId}), received from {ReceivedFrom}")]
    public static partial void SnapshotCreated(ILogger logger, string spec, string snapshot, ulong snapId, string? receivedFrom);

    [LoggerMessage(5021, LogLevel.Warning, "Ignoring the received-from record of {Spec}@{Snapshot}: {Reason}")]
    public static partial void StaleRecord(ILogger logger, string spec, string snapshot, string reason);

    [LoggerMessage(5022, LogLevel.Warning, "Removing snapshot {Spec}@{Snapshot} again: its received-from record could not be written")]
    public static partial void SnapshotUndone(ILogger logger, Exception exception, string spec, string snapshot);

    [LoggerMessage(5023, LogLevel.Debug, "Rolled {Spec} back to {Snapshot} by {Method} ({Bytes} bytes changed; -1: not counted)")]
    public static partial void RolledBack(ILogger logger, string spec, string snapshot, string method, long bytes);

    [LoggerMessage(5030, LogLevel.Debug, "Changed ranges of {Spec} from {Base}: {Extents} extents, {DataBytes} data bytes, {ZeroBytes} zero bytes")]
    public static partial void ChangedRanges(ILogger logger, string spec, string @base, int extents, long dataBytes, long zeroBytes);

    [LoggerMessage(5040, LogLevel.Information, "Applied rbd diff {From} -> {To} to {Target}: {Written} bytes written, {Zeroed} bytes zeroed")]
    public static partial void DiffApplied(ILogger logger, string? from, string? to, string target, long written, long zeroed);

    [LoggerMessage(5041, LogLevel.Information, "Exported rbd diff {From} -> {To} ({Format}): {Written} data bytes, {Zeroed} zero bytes")]
    public static partial void DiffExported(ILogger logger, string? from, string? to, string format, long written, long zeroed);

    [LoggerMessage(5050, LogLevel.Information, "Sent {Spec}@{Snapshot} natively from {Base}: {Data} data bytes, {Zero} zero bytes, {StreamBytes} stream bytes")]
    public static partial void NativeSent(ILogger logger, string spec, string snapshot, string? @base, long data, long zero, long streamBytes);

    [LoggerMessage(5054, LogLevel.Debug, "Compared {Spec}@{Snapshot}'s extents written since {Base} with it: {Unchanged} bytes of unchanged content not sent, {Covered} bytes listed as coverage")]
    public static partial void NativeContentCompared(ILogger logger, string spec, string snapshot, string @base, long unchanged, long covered);

    [LoggerMessage(5055, LogLevel.Warning, "RBD image {Spec} is listed but cannot be opened (its creation was interrupted); removing it before creating it again")]
    public static partial void HalfCreatedImageRemoving(ILogger logger, string spec);

    [LoggerMessage(5051, LogLevel.Information, "Received {Spec}@{Snapshot} natively from {Base}: {Data} data bytes, {Zero} zero bytes, read back {ReadBack}")]
    public static partial void NativeReceived(ILogger logger, string spec, string snapshot, string? @base, long data, long zero, bool readBack);

    [LoggerMessage(5052, LogLevel.Warning, "Native receive into {Spec} failed; restoring the image to {Base}")]
    public static partial void NativeReceiveRestoring(ILogger logger, Exception exception, string spec, string @base);

    [LoggerMessage(5053, LogLevel.Error, "Could not restore {Spec} after a failed receive")]
    public static partial void NativeRestoreFailed(ILogger logger, Exception exception, string spec);
}
