namespace DeltaSnap.Delta;

/// <summary>The end of a delta stream: totals the reader has checked, and the sender's whole-volume checksum.</summary>
public sealed class DeltaStreamTrailer
{
    internal DeltaStreamTrailer(long recordCount, long dataBytes, long unmappedBytes, byte[] volumeChecksum)
    {
        RecordCount = recordCount;
        DataBytes = dataBytes;
        UnmappedBytes = unmappedBytes;
        VolumeChecksum = volumeChecksum;
    }

    /// <summary>The number of records before the trailer.</summary>
    public long RecordCount { get; }

    /// <summary>The payload bytes of all data and native records.</summary>
    public long DataBytes { get; }

    /// <summary>The bytes covered by all zero and unmap records.</summary>
    public long UnmappedBytes { get; }

    /// <summary>
    /// The sender's whole-volume checksum of the target snapshot, in the header's algorithm (as
    /// <see cref="Checksums.ClusterChecksums.VolumeChecksum"/> gives it); empty when the sender had none.
    /// </summary>
    public ReadOnlyMemory<byte> VolumeChecksum { get; }

    /// <inheritdoc />
    public override string ToString() =>
        $"{RecordCount} records, {DataBytes} data bytes, {UnmappedBytes} unmapped bytes, checksum {(VolumeChecksum.IsEmpty ? "none" : Convert.ToHexStringLower(VolumeChecksum.Span))}";
}
