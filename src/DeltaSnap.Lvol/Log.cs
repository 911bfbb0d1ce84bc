using Microsoft.Extensions.Logging;

namespace DeltaSnap.Lvol;

/// <summary>Every log message of DeltaSnap.Lvol. Event ids 2000–2999 belong to it; names are frozen once shipped.</summary>
internal static partial class Log
{
    [LoggerMessage(2001, LogLevel.Information, "Created lvol store {Path} with {ClusterSize}-byte clusters")]
    public static partial void StoreCreated(ILogger logger, string path, int clusterSize);

    [LoggerMessage(2002, LogLevel.Debug, "Opened lvol store {Path} at metadata sequence {Sequence} with {Count} lvol(s)")]
    public static partial void StoreOpened(ILogger logger, string path, ulong sequence, int count);

    [LoggerMessage(2003, LogLevel.Warning, "Lvol store {Path}: metadata damaged, opened the older copy at sequence {Sequence}: {Damage}")]
    public static partial void MetadataFallback(ILogger logger, string path, ulong sequence, string damage);

    [LoggerMessage(2004, LogLevel.Error, "Lvol store {Path}: a metadata commit failed; the last committed state stays on disk")]
    public static partial void CommitFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(2010, LogLevel.Debug, "Created lvol {Name} ({Size} bytes, thin {Thin})")]
    public static partial void LvolCreated(ILogger logger, string name, long size, bool thin);

    [LoggerMessage(2011, LogLevel.Debug, "Snapshot {Snapshot} of lvol {Name} created")]
    public static partial void SnapshotCreated(ILogger logger, string name, string snapshot);

    [LoggerMessage(2012, LogLevel.Debug, "Deleted lvol {Name} (merged into {Child})")]
    public static partial void LvolDeleted(ILogger logger, string name, string? child);

    [LoggerMessage(2013, LogLevel.Debug, "A receive into {Volume} failed; the data write still in flight then failed too")]
    public static partial void ReceiveWriteAbandoned(ILogger logger, string volume, Exception exception);

    [LoggerMessage(2020, LogLevel.Information, "Registered checksums of snapshot {Name}: {Clusters} cluster(s), snapshot checksum {Checksum}")]
    public static partial void ChecksumsRegistered(ILogger logger, string name, long clusters, ulong checksum);

    [LoggerMessage(2021, LogLevel.Information, "Checksum registration of {Name} stopped")]
    public static partial void ChecksumStopped(ILogger logger, string name);

    [LoggerMessage(2030, LogLevel.Information, "Shallow copy {OperationId} of {Source} finished: {Copied} copied, {Unmapped} unmapped of {Total} cluster(s)")]
    public static partial void ShallowCopyFinished(ILogger logger, uint operationId, string source, long copied, long unmapped, long total);

    [LoggerMessage(2031, LogLevel.Warning, "Shallow copy {OperationId} of {Source} failed")]
    public static partial void ShallowCopyFailed(ILogger logger, Exception exception, uint operationId, string source);

    [LoggerMessage(2040, LogLevel.Information, "JSON-RPC server for {Stores} listening on {Socket}")]
    public static partial void RpcListening(ILogger logger, string stores, string socket);

    [LoggerMessage(2041, LogLevel.Debug, "JSON-RPC {Method} failed with {Code}: {Message}")]
    public static partial void RpcFailed(ILogger logger, string method, int code, string message);

    [LoggerMessage(2042, LogLevel.Warning, "JSON-RPC connection ended with an error")]
    public static partial void RpcConnectionFailed(ILogger logger, Exception exception);

    [LoggerMessage(2043, LogLevel.Warning, "JSON-RPC connection refused: {MaxConnections} connections are served already")]
    public static partial void RpcConnectionRefused(ILogger logger, int maxConnections);

    [LoggerMessage(2044, LogLevel.Warning, "JSON-RPC request longer than {MaxRequestBytes} bytes; the connection is closed")]
    public static partial void RpcRequestTooLarge(ILogger logger, int maxRequestBytes);

    [LoggerMessage(2045, LogLevel.Error, "JSON-RPC {Method} failed unexpectedly; answered with an internal error")]
    public static partial void RpcMethodCrashed(ILogger logger, Exception exception, string method);
}
