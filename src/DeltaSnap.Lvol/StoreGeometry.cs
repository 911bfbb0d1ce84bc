using System.Numerics;

namespace DeltaSnap.Lvol;

/// <summary>
/// Where an lvol store keeps what: its cluster size (and the 4 KiB blocks of a cluster) and the file offset of
/// physical cluster 0. Fixed when the store is created; every piece of the store reads it.
/// </summary>
internal sealed class StoreGeometry
{
    /// <summary>log2 of <see cref="LvolStore.BlockSize"/>.</summary>
    public const int BlockShift = 12;

    public StoreGeometry(int clusterSize, long dataOffset)
    {
        ClusterSize = clusterSize;
        ClusterShift = BitOperations.Log2((uint)clusterSize);
        BlocksPerCluster = clusterSize >> BlockShift;
        WordsPerCluster = BlockBitmap.WordCount(BlocksPerCluster);
        DataOffset = dataOffset;
    }

    public int ClusterSize { get; }

    /// <summary>log2 of <see cref="ClusterSize"/>.</summary>
    public int ClusterShift { get; }

    public int BlocksPerCluster { get; }

    /// <summary>The words of a cluster's block bitmap.</summary>
    public int WordsPerCluster { get; }

    /// <summary>The file offset of physical cluster 0.</summary>
    public long DataOffset { get; }

    /// <summary>How many clusters hold <paramref name="size"/> bytes (the last one may be short).</summary>
    public long ClusterCountOf(long size) => (size + ClusterSize - 1) >> ClusterShift;

    /// <summary>The file offset of physical cluster <paramref name="physical"/>.</summary>
    public long FileOffsetOf(long physical) => DataOffset + (physical << ClusterShift);
}
