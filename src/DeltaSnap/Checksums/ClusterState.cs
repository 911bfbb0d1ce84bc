namespace DeltaSnap.Checksums;

/// <summary>What a cluster holds. The numeric values are part of the persisted format.</summary>
public enum ClusterState : byte
{
    /// <summary>Not allocated in the layer that was read: reads as zeros, was not read.</summary>
    Unallocated = 0,

    /// <summary>Allocated, and every byte is zero.</summary>
    Zero = 1,

    /// <summary>Allocated, and holds at least one non-zero byte.</summary>
    Data = 2,
}

/// <summary>How far a checksum computation has come.</summary>
/// <param name="ClustersDone">Clusters finished (read and hashed, or skipped as unallocated).</param>
/// <param name="ClusterCount">Clusters in all.</param>
/// <param name="BytesRead">Bytes read from the device so far.</param>
public readonly record struct ChecksumProgress(long ClustersDone, long ClusterCount, long BytesRead);
