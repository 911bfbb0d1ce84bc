namespace DeltaSnap.Checksums;

/// <summary>How <see cref="ClusterChecksums.ComputeAsync"/> computes a map.</summary>
public sealed record ClusterChecksumOptions
{
    private int _clusterSize = ClusterLayout.DefaultClusterSize;
    private int _maxDegreeOfParallelism = Environment.ProcessorCount;

    /// <summary>The cluster size: a power of two from 4 KiB to 64 MiB. Default 1 MiB.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a valid cluster size.</exception>
    public int ClusterSize
    {
        get => _clusterSize;
        init
        {
            ClusterLayout.ValidateClusterSize(value);
            _clusterSize = value;
        }
    }

    /// <summary>The algorithm. Default <see cref="ChecksumAlgorithm.Xxh128"/>. Ignored when <see cref="CustomAlgorithm"/> is set.</summary>
    public ChecksumAlgorithm Algorithm { get; init; } = ChecksumAlgorithm.Xxh128;

    /// <summary>
    /// A caller-supplied algorithm (any System.IO.Hashing <c>NonCryptographicHashAlgorithm</c>) that
    /// <see cref="ClusterChecksums.ComputeAsync"/> uses instead of <see cref="Algorithm"/>. Default null. Refreshes and
    /// stored checksums use the built-in algorithms only.
    /// </summary>
    public CustomChecksumAlgorithm? CustomAlgorithm { get; init; }

    /// <summary>How many clusters are read and hashed at once. Default: the processor count.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _maxDegreeOfParallelism = value;
        }
    }

    /// <summary>
    /// Whether holes reported by the device count as unallocated clusters (default true). When false,
    /// every cluster is read, as if the whole device were allocated.
    /// </summary>
    public bool UseDeviceAllocation { get; init; } = true;
}
