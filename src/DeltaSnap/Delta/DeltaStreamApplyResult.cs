namespace DeltaSnap.Delta;

/// <summary>What <see cref="DeltaStream.ApplyAsync"/> did to its target.</summary>
public sealed class DeltaStreamApplyResult
{
    internal DeltaStreamApplyResult(long recordCount, long bytesWritten, long bytesZeroed, long bytesUnmapped, DeltaStreamTrailer trailer)
    {
        RecordCount = recordCount;
        BytesWritten = bytesWritten;
        BytesZeroed = bytesZeroed;
        BytesUnmapped = bytesUnmapped;
        Trailer = trailer;
    }

    /// <summary>The records applied.</summary>
    public long RecordCount { get; }

    /// <summary>The bytes of data records written.</summary>
    public long BytesWritten { get; }

    /// <summary>The bytes of zero records (applied as unmaps).</summary>
    public long BytesZeroed { get; }

    /// <summary>The bytes of unmap records.</summary>
    public long BytesUnmapped { get; }

    /// <summary>The stream's trailer, with the sender's whole-volume checksum to verify the target against.</summary>
    public DeltaStreamTrailer Trailer { get; }
}
