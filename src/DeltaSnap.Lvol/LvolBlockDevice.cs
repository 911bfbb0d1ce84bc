using System.Runtime.CompilerServices;
using DeltaSnap.Devices;

namespace DeltaSnap.Lvol;

/// <summary>
/// An lvol opened as a block device. Reads fall through the parent chain for clusters (and 4 KiB blocks) the lvol
/// has not written; the first write to a cluster allocates it; unmapping a whole cluster frees it and makes it read
/// zeros even where the parent has data. Writes are durable after <see cref="BlockDevice.FlushAsync"/>.
/// </summary>
public sealed class LvolBlockDevice : BlockDevice
{
    private readonly LvolStore _store;
    private readonly LvolNode _node;
    private readonly bool _writable;

    internal LvolBlockDevice(LvolStore store, LvolNode node, bool writable)
    {
        _store = store;
        _node = node;
        _writable = writable;
    }

    /// <summary>The store the lvol lives in.</summary>
    public LvolStore Store => _store;

    /// <summary>The lvol's name.</summary>
    public string LvolName => _node.Name;

    /// <summary>The lvol's UUID.</summary>
    public Guid LvolUuid => _node.Uuid;

    /// <inheritdoc />
    public override long Length => _node.Size;

    /// <inheritdoc />
    public override bool IsReadOnly => !_writable;

    /// <inheritdoc />
    public override bool CanReportAllocation => true;

    internal LvolNode Node => _node;

    /// <inheritdoc />
    protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken) =>
        _store.DeviceReadAsync(_node, offset, buffer, cancellationToken);

    /// <inheritdoc />
    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        _store.DeviceWriteAsync(_node, offset, data, cancellationToken);

    /// <inheritdoc />
    protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken) =>
        _store.DeviceUnmapAsync(_node, range, cancellationToken);

    /// <inheritdoc />
    protected override Task FlushCoreAsync(CancellationToken cancellationToken) => _store.CommitAsync(cancellationToken);

    /// <inheritdoc />
    protected override async IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(ByteRange range, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var r in _store.GetDataRanges(_node, range))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return r;
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _store.CloseDevice(_node);
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override string ToString() => $"lvol {_store.Name}/{_node.Name}";
}
