namespace DeltaSnap.Delta;

/// <summary>
/// Where a delta goes: a target device (<see cref="BlockDeviceSink"/>) or a delta stream on its way through a
/// transport (the delta stream writer). Calls come in ascending, non-overlapping offset order.
/// </summary>
public abstract class DeltaSink
{
    /// <summary>Initializes the sink.</summary>
    protected DeltaSink()
    {
    }

    /// <summary>Bytes of data written so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Bytes unmapped or zeroed so far.</summary>
    public long BytesUnmapped { get; private set; }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>.</summary>
    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNegative(offset);
        if (data.IsEmpty)
        {
            return;
        }
        await WriteCoreAsync(offset, data, cancellationToken).ConfigureAwait(false);
        BytesWritten += data.Length;
    }

    /// <summary>Makes <paramref name="range"/> read as zeros, releasing its storage where the target can.</summary>
    public async ValueTask UnmapAsync(ByteRange range, CancellationToken cancellationToken = default)
    {
        if (range.IsEmpty)
        {
            return;
        }
        await UnmapCoreAsync(range, cancellationToken).ConfigureAwait(false);
        BytesUnmapped += range.Length;
    }

    /// <summary>Writes the data.</summary>
    protected abstract ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Unmaps the range.</summary>
    protected abstract ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken);
}

/// <summary>A sink that writes straight to a block device.</summary>
public sealed class BlockDeviceSink(Devices.BlockDevice device) : DeltaSink
{
    /// <summary>The target device.</summary>
    public Devices.BlockDevice Device { get; } = device ?? throw new ArgumentNullException(nameof(device));

    /// <inheritdoc />
    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        Device.WriteAsync(offset, data, cancellationToken);

    /// <inheritdoc />
    protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken) =>
        Device.UnmapAsync(range, cancellationToken);
}
