using System.Numerics;

namespace DeltaSnap;

/// <summary>
/// How a volume is cut into clusters: a volume size and a power-of-two cluster size. The last cluster is
/// shorter when the volume size is not a multiple of the cluster size.
/// </summary>
public sealed record ClusterLayout
{
    /// <summary>The smallest cluster size: 4 KiB.</summary>
    public const int MinClusterSize = 4 * 1024;

    /// <summary>The largest cluster size: 64 MiB.</summary>
    public const int MaxClusterSize = 64 * 1024 * 1024;

    /// <summary>The default cluster size: 1 MiB, as Longhorn uses.</summary>
    public const int DefaultClusterSize = 1024 * 1024;

    /// <summary>Creates a layout.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The volume size is negative, or the cluster size is not a power of two from 4 KiB to 64 MiB.</exception>
    public ClusterLayout(long volumeSize, int clusterSize = DefaultClusterSize)
    {
        ThrowHelper.ThrowIfNegative(volumeSize);
        ValidateClusterSize(clusterSize);
        VolumeSize = volumeSize;
        ClusterSize = clusterSize;
        ClusterShift = BitOperations.Log2((uint)clusterSize);
        ClusterCount = (volumeSize + clusterSize - 1) >> ClusterShift;
    }

    /// <summary>The volume size in bytes.</summary>
    public long VolumeSize { get; }

    /// <summary>The cluster size in bytes (a power of two).</summary>
    public int ClusterSize { get; }

    /// <summary>log2 of <see cref="ClusterSize"/>.</summary>
    public int ClusterShift { get; }

    /// <summary>The number of clusters, counting a short tail cluster.</summary>
    public long ClusterCount { get; }

    /// <summary>Throws unless <paramref name="clusterSize"/> is a power of two from 4 KiB to 64 MiB.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is out of range or not a power of two.</exception>
    public static void ValidateClusterSize(int clusterSize)
    {
        if (clusterSize < MinClusterSize || clusterSize > MaxClusterSize || !BitOperations.IsPow2(clusterSize))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(clusterSize), clusterSize,
                $"The cluster size must be a power of two from {MinClusterSize} to {MaxClusterSize} bytes.");
        }
    }

    /// <summary>The index of the cluster holding byte <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The offset is outside the volume.</exception>
    public long ClusterIndexOf(long offset)
    {
        if ((ulong)offset >= (ulong)VolumeSize)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(offset), offset, $"The offset is outside the volume of {VolumeSize} bytes.");
        }
        return offset >> ClusterShift;
    }

    /// <summary>The byte offset where cluster <paramref name="index"/> starts.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is not a cluster of this layout.</exception>
    public long OffsetOf(long index)
    {
        CheckIndex(index);
        return index << ClusterShift;
    }

    /// <summary>The length of cluster <paramref name="index"/>: the cluster size, or less for the tail.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is not a cluster of this layout.</exception>
    public int LengthOf(long index)
    {
        CheckIndex(index);
        var offset = index << ClusterShift;
        return (int)Math.Min(ClusterSize, VolumeSize - offset);
    }

    /// <summary>The bytes of cluster <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is not a cluster of this layout.</exception>
    public ByteRange RangeOf(long index) => new(OffsetOf(index), LengthOf(index));

    /// <summary>The clusters <c>[first, first + count)</c> as one byte range, clipped at the volume end.</summary>
    public ByteRange RangeOf(long first, long count)
    {
        CheckIndex(first);
        if (count < 0 || first + count > ClusterCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(count), count, $"The clusters end past the {ClusterCount} clusters of the volume.");
        }
        var start = first << ClusterShift;
        return ByteRange.FromBounds(start, Math.Min(VolumeSize, (first + count) << ClusterShift));
    }

    private void CheckIndex(long index)
    {
        if ((ulong)index >= (ulong)ClusterCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(index), index, $"The volume has {ClusterCount} clusters.");
        }
    }
}
