using DeltaSnap.Checksums;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Testing.Devices;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Testing;

/// <summary>
/// Wraps a real volume (same driver, so the replicator picks the same route) and breaks transfers into it:
/// a native receive sees its stream drop after <see cref="FailReceiveAfterBytes"/>, a writable device fails
/// after <see cref="FailDeviceAfterWrites"/> writes.
/// </summary>
public sealed class FaultInjectingVolume(Volume inner) : Volume(inner.Driver, inner.Name, inner.Kind)
{
    public Volume Inner { get; } = inner;

    /// <summary>Bytes a native receive gets before its stream throws (null: no fault).</summary>
    public long? FailReceiveAfterBytes { get; set; }

    /// <summary>Writes a writable device takes before it throws (null: no fault).</summary>
    public int? FailDeviceAfterWrites { get; set; }

    public override string Address => Inner.Address;

    protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => Inner.GetSizeAsync(cancellationToken);

    protected override Task ResizeCoreAsync(long size, CancellationToken cancellationToken) => Inner.ResizeAsync(size, cancellationToken);

    protected override Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken) => Inner.GetLineageAsync(cancellationToken);

    protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken) =>
        Inner.CreateSnapshotAsync(name, options, cancellationToken);

    protected override Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken) => Inner.DeleteSnapshotAsync(name, cancellationToken);

    protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken) => Inner.RollbackAsync(name, cancellationToken);

    protected override Task RenameSnapshotCoreAsync(string name, string newName, CancellationToken cancellationToken) =>
        Inner.RenameSnapshotAsync(name, newName, cancellationToken);

    protected override async Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken)
    {
        var device = await Inner.OpenDeviceAsync(snapshot, writable, cancellationToken);
        return writable && FailDeviceAfterWrites is { } n ? new FaultInjectingBlockDevice(device, n) { OwnsInner = true } : device;
    }

    protected override Task<string> GetPathCoreAsync(string? snapshot, CancellationToken cancellationToken) => Inner.GetPathAsync(snapshot, cancellationToken);

    protected override Task SendCoreAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions options, CancellationToken cancellationToken) =>
        Inner.SendAsync(baseSnapshot, snapshot, destination, options, cancellationToken);

    // No header of its own: the inner volume's ReceiveAsync reads and checks it.
    protected override Task<NativeReceiveTarget> ReadNativeReceiveTargetCoreAsync(NativeReceiveRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(new NativeReceiveTarget(SnapshotLineage.Empty));

    protected override Task<SnapshotInfo> ReceiveCoreAsync(Stream source, NativeReceiveRequest request, NativeStreamHeader? header, NativeReceiveTarget target, CancellationToken cancellationToken) =>
        Inner.ReceiveAsync(FailReceiveAfterBytes is { } n ? new ThrowAfterNBytesStream(source, n) : source, request, cancellationToken);

    protected override Task PromoteCoreAsync(string snapshot, CancellationToken cancellationToken) => Inner.PromoteAsync(snapshot, cancellationToken);

    protected override Task<RangeSet> GetChangedRangesCoreAsync(string? baseSnapshot, string snapshot, CancellationToken cancellationToken) =>
        Inner.GetChangedRangesAsync(baseSnapshot, snapshot, cancellationToken);

    protected override Task<ClusterChecksums?> GetStoredChecksumsCoreAsync(string snapshot, ClusterChecksumOptions options, CancellationToken cancellationToken) =>
        Inner.GetStoredChecksumsAsync(snapshot, options, cancellationToken);

    protected override Task StoreChecksumsCoreAsync(string snapshot, ClusterChecksums map, CancellationToken cancellationToken) =>
        Inner.StoreChecksumsAsync(snapshot, map, cancellationToken);
}
