using System.Runtime.CompilerServices;
using DeltaSnap.Ceph.Interop;
using DeltaSnap.Devices;

namespace DeltaSnap.Ceph;

/// <summary>
/// An RBD image or snapshot as a DeltaSnap block device, through librbd's asynchronous I/O on one image handle:
/// reads, writes and zeroing at distinct offsets run concurrently. Snapshots are read-only; the live image is
/// writable when opened so. Unmapped ranges are zeroed with <c>rbd_aio_write_zeroes</c>, which frees whole objects
/// and punches partial ones (plain <c>rbd_discard</c> may skip parts below the discard granularity, which would
/// leave old data behind). Allocation comes from <c>rbd_diff_iterate2</c> against the beginning of the image.
/// </summary>
public sealed class RbdBlockDevice : BlockDevice
{
    private readonly RbdImage _image;
    private long _length;

    internal RbdBlockDevice(RbdImage image, long length, string? snapshot)
    {
        _image = image;
        _length = length;
        Snapshot = snapshot;
    }

    /// <summary>The image (and snapshot) as <c>pool/image[@snap]</c>.</summary>
    public string Spec => _image.Spec;

    /// <summary>The snapshot this device shows, or null for the live image.</summary>
    public string? Snapshot { get; }

    /// <inheritdoc />
    public override long Length => Volatile.Read(ref _length);

    /// <inheritdoc />
    public override bool IsReadOnly => _image.IsReadOnly;

    /// <inheritdoc />
    public override bool CanReportAllocation => true;

    /// <inheritdoc />
    public override bool CanResize => !_image.IsReadOnly && Snapshot is null;

    internal RbdImage Image => _image;

    /// <summary>Reads the length again after the image was resized or rolled back through <see cref="Image"/>.</summary>
    internal void RefreshLength() => Volatile.Write(ref _length, _image.GetSize());

    /// <inheritdoc />
    protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var n = await _image.ReadAsync(offset, buffer).ConfigureAwait(false);
        if (n != buffer.Length)
        {
            throw new RbdException($"rbd_aio_read2({Spec}, {offset}+{buffer.Length}) returned {n} bytes");
        }
    }

    /// <inheritdoc />
    protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // librbd completes a write with 0 (or the length, in some versions); errors are negative and throw.
        await _image.WriteAsync(offset, data).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // write_zeroes takes a size_t length; split to keep each call bounded.
        const long Step = 1L << 30;
        for (var offset = range.Offset; offset < range.End; offset += Step)
        {
            await _image.WriteZeroesAsync(offset, Math.Min(Step, range.End - offset)).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    protected override Task FlushCoreAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return _image.FlushAsync();
    }

    /// <inheritdoc />
    protected override Task SetLengthCoreAsync(long length, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            _image.Resize(length);
            Volatile.Write(ref _length, length);
        }, cancellationToken);

    /// <inheritdoc />
    protected override async IAsyncEnumerable<ByteRange> GetAllocatedRangesCoreAsync(ByteRange range, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (range.IsEmpty)
        {
            yield break;
        }
        var extents = await Task.Run(() => _image.DiffIterate(null, range.Offset, range.Length, wholeObject: false), cancellationToken).ConfigureAwait(false);
        var pending = default(ByteRange);
        foreach (var extent in extents)
        {
            if (!extent.Exists)
            {
                continue;
            }
            var clipped = new ByteRange(extent.Offset, extent.Length).Intersect(range);
            if (clipped.IsEmpty)
            {
                continue;
            }
            if (!pending.IsEmpty && pending.End >= clipped.Offset)
            {
                pending = ByteRange.FromBounds(pending.Offset, Math.Max(pending.End, clipped.End));
                continue;
            }
            if (!pending.IsEmpty)
            {
                yield return pending;
            }
            pending = clipped;
        }
        if (!pending.IsEmpty)
        {
            yield return pending;
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _image.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeCoreAsync()
    {
        if (!_image.IsReadOnly)
        {
            try
            {
                await _image.FlushAsync().ConfigureAwait(false);
            }
            catch (RbdException)
            {
                // rbd_close flushes again and the error, if any, resurfaces there; dispose must not throw.
            }
        }
        await base.DisposeCoreAsync().ConfigureAwait(false);
    }
}
