using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Btrfs.Tests;

/// <summary>
/// One native transfer, as the replicator pipes it (send into a pipe, receive from it: <see cref="NativeStreamPipe"/>),
/// for tests that drive single snapshots with exact bases, including wrong ones.
/// </summary>
public static class NativeTransfer
{
    /// <summary>Sends one snapshot through an in-memory pipe into a receive; returns what the target made and the stream's size.</summary>
    public static async Task<(SnapshotInfo Received, long Bytes)> TransferAsync(
        Volume source, Volume target, SnapshotInfo? sourceBase, SnapshotInfo? targetBase, SnapshotInfo snapshot, CancellationToken cancellationToken = default)
    {
        var result = await NativeStreamPipe.TransferAsync(source, target, sourceBase, targetBase, snapshot, cancellationToken);
        return (result.Received, result.Bytes);
    }
}
