namespace DeltaSnap.Cli.Output;

/// <summary>One snapshot in <c>deltasnap snapshot list --json</c>.</summary>
/// <param name="Name">The snapshot's name.</param>
/// <param name="Identity">The backend's identity, <c>kind:value</c>.</param>
/// <param name="Created">Creation time, UTC, ISO 8601 at whole seconds.</param>
/// <param name="ReceivedFrom">The source identity it replicates, if recorded.</param>
internal sealed record SnapshotEntry(string Name, string Identity, string Created, string? ReceivedFrom);

/// <summary>What <c>deltasnap plan --json</c> prints.</summary>
/// <param name="Source">The source volume's address.</param>
/// <param name="Target">The target volume's address.</param>
/// <param name="Refused">Why the refresh would be refused, or null.</param>
/// <param name="Kind"><c>upToDate</c>, <c>incremental</c> or <c>full</c>.</param>
/// <param name="Route"><c>nativeStream</c> or <c>checksum</c>.</param>
/// <param name="Base">The common base snapshot (source side), or null.</param>
/// <param name="Send">Snapshots to send, oldest first.</param>
/// <param name="DeleteOnTarget">Target snapshots that would be deleted.</param>
/// <param name="RollBack">Whether the target would be rolled back to the base.</param>
/// <param name="LiveState">Whether the live state would be sent through a temporary snapshot.</param>
/// <param name="Leftovers">Temporary snapshots of interrupted refreshes that would be removed.</param>
internal sealed record PlanReport(
    string Source,
    string Target,
    string? Refused,
    string? Kind,
    string? Route,
    string? Base,
    IReadOnlyList<string> Send,
    IReadOnlyList<string> DeleteOnTarget,
    bool RollBack,
    bool LiveState,
    IReadOnlyList<string> Leftovers);

/// <summary>What <c>deltasnap refresh --json</c> prints: the fields of the library's RefreshResult.</summary>
/// <param name="Route"><c>none</c>, <c>nativeStream</c> or <c>checksum</c>.</param>
/// <param name="Kind"><c>upToDate</c>, <c>incremental</c> or <c>full</c>.</param>
/// <param name="SnapshotsSent">How many snapshots were sent (the live state not counted).</param>
/// <param name="Snapshots">Their names, oldest first.</param>
/// <param name="LiveStateSent">Whether the live state was sent.</param>
/// <param name="BytesRead">Bytes read on both sides.</param>
/// <param name="BytesSent">Bytes that crossed from source to target.</param>
/// <param name="BytesWritten">Bytes written to the target.</param>
/// <param name="ClustersCompared">Clusters whose checksums were compared.</param>
/// <param name="ClustersCopied">Clusters copied in whole or in part.</param>
/// <param name="Seconds">Duration.</param>
/// <param name="Resumed">Whether the refresh continued a partial copy (checksum route with <c>--checkpoint-dir</c>).</param>
internal sealed record RefreshReport(
    string Route,
    string Kind,
    int SnapshotsSent,
    IReadOnlyList<string> Snapshots,
    bool LiveStateSent,
    long BytesRead,
    long BytesSent,
    long BytesWritten,
    long ClustersCompared,
    long ClustersCopied,
    double Seconds,
    bool Resumed = false);
