using System.Numerics;
using DeltaSnap.Checksums;

namespace DeltaSnap.Delta;

/// <summary>How <see cref="DeltaPlanner.PlanAsync(DeltaPlanRequest, CancellationToken)"/> compares two volumes.</summary>
public sealed record DeltaPlanOptions
{
    /// <summary>The smallest refinement block: 512 bytes, one sector.</summary>
    public const int MinRefinementBlockSize = 512;

    /// <summary>The default refinement block: 4 KiB, the page size most file systems write in.</summary>
    public const int DefaultRefinementBlockSize = 4096;

    private int _clusterSize = ClusterLayout.DefaultClusterSize;
    private int _refinementBlockSize = DefaultRefinementBlockSize;
    private int _maxDegreeOfParallelism = Environment.ProcessorCount;

    /// <summary>
    /// The cluster size: a power of two from 4 KiB to 64 MiB. Default 1 MiB, as Longhorn uses. Checksum maps
    /// passed to the planner must use it.
    /// </summary>
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

    /// <summary>
    /// The checksum algorithm of the cluster comparison. Default <see cref="ChecksumAlgorithm.Xxh128"/>.
    /// Checksum maps passed to the planner must use it. Refinement blocks are hashed with it too, except that
    /// <see cref="ChecksumAlgorithm.Crc32C"/> is replaced by <see cref="ChecksumAlgorithm.Crc64Iso"/> there
    /// (see <see cref="RefinementBlockSize"/>).
    /// </summary>
    public ChecksumAlgorithm Algorithm { get; init; } = ChecksumAlgorithm.Xxh128;

    /// <summary>
    /// The block size of sub-cluster refinement: a power of two of at least 512 bytes and smaller than
    /// <see cref="ClusterSize"/>, or 0 to turn refinement off (whole differing clusters are copied, as Longhorn
    /// does). Default 4 KiB.
    /// </summary>
    /// <remarks>
    /// Two blocks count as equal when their digests are equal. Each block is only ever compared with the block
    /// at the same offset on the other side, so there is no birthday effect: with a well-mixed <c>b</c>-bit
    /// digest a volume of <c>N</c> blocks is planned wrongly with probability at most <c>N · 2^-b</c>. For
    /// 1 PiB in 4 KiB blocks (2^38 blocks) that is 2^-26 with a 64-bit digest and 2^-90 with XXH128, but 2^6
    /// with CRC-32C — dozens of silently missed blocks are expected — so a 32-bit algorithm is never used for
    /// blocks. None of the non-cryptographic digests resist someone who chooses the data on purpose; use
    /// <see cref="ChecksumAlgorithm.Sha256"/> when the data may be adversarial.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is neither 0 nor a power of two of at least 512.</exception>
    public int RefinementBlockSize
    {
        get => _refinementBlockSize;
        init
        {
            if (value != 0 && (value < MinRefinementBlockSize || !BitOperations.IsPow2(value)))
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value,
                    $"The refinement block size must be 0 (off) or a power of two of at least {MinRefinementBlockSize} bytes.");
            }
            _refinementBlockSize = value;
        }
    }

    /// <summary>How many clusters are read and compared at once. Default: the processor count.</summary>
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

    /// <summary>Whether sub-cluster refinement is on.</summary>
    internal bool Refines => _refinementBlockSize != 0;

    /// <summary>The algorithm refinement blocks are hashed with: the plan's, but never a 32-bit one.</summary>
    internal ChecksumAlgorithm BlockAlgorithm => Algorithm == ChecksumAlgorithm.Crc32C ? ChecksumAlgorithm.Crc64Iso : Algorithm;

    /// <summary>Checks the rules that involve more than one property.</summary>
    /// <exception cref="ArgumentException">The refinement block is not smaller than the cluster.</exception>
    internal void Validate(string parameterName)
    {
        if (Refines && _refinementBlockSize >= _clusterSize)
        {
            ThrowHelper.ThrowArgument(parameterName,
                $"The refinement block size ({_refinementBlockSize}) must be smaller than the cluster size ({_clusterSize}), or 0 to turn refinement off.");
        }
        _ = ChecksumHasher.GetHashLength(Algorithm);
    }
}
