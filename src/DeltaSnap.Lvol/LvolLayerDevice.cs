using System.Runtime.CompilerServices;
using DeltaSnap.Devices;

namespace DeltaSnap.Lvol;

/// <summary>
/// A read-only view of an lvol whose allocation is its own layer's (the clusters it holds itself, holes included):
/// what Longhorn's checksums and shallow copies cover. Reads return the lvol's content.
/// </summary>
internal sealed class LvolLayerDevice(LvolStore store, LvolNode node) : BlockDevice
{
    public override long Length => node.Size;

    public override bool IsReadOnly => true;

    public override bool CanReportAllocation => true;

    protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken) =>
        store.DeviceReadAsync(node, offset, buffer, cancellationToken);

    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    protected override async IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(ByteRange range, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        var first = range.Offset >> store.ClusterShift;
        var end = (range.End + store.ClusterSize - 1) >> store.ClusterShift;
        foreach (var index in store.OwnClusters(node, first, end))
        {
            var r = new ByteRange(index << store.ClusterShift, Math.Min(store.ClusterSize, node.Size - (index << store.ClusterShift))).Intersect(range);
            if (!r.IsEmpty)
            {
                yield return r;
            }
        }
    }
}
