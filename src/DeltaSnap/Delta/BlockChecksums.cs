using DeltaSnap.Checksums;

namespace DeltaSnap.Delta;

/// <summary>
/// The fixed-size blocks of one cluster on one side of a comparison: for each block whether it reads as
/// zeros and, if not, its digest. This is what one side would send the other to refine a differing cluster
/// (16 bytes per 4 KiB block with XXH128, 0.4 % of the data). One instance is reused cluster after cluster
/// by one worker; it is not thread-safe.
/// </summary>
internal sealed class BlockChecksums
{
    private readonly int _blockSize;
    private readonly ChecksumAlgorithm _algorithm;
    private readonly int _hashLength;
    private readonly bool[] _isZero;
    private readonly byte[] _digests;
    private int _length;

    /// <summary>Creates storage for clusters of up to <paramref name="clusterSize"/> bytes.</summary>
    public BlockChecksums(int clusterSize, int blockSize, ChecksumAlgorithm algorithm)
    {
        _blockSize = blockSize;
        _algorithm = algorithm;
        _hashLength = ChecksumHasher.GetHashLength(algorithm);
        var maxBlocks = (clusterSize + blockSize - 1) / blockSize;
        _isZero = new bool[maxBlocks];
        _digests = new byte[maxBlocks * _hashLength];
    }

    /// <summary>The number of blocks of the cluster last computed.</summary>
    public int BlockCount { get; private set; }

    /// <summary>Computes the blocks of <paramref name="cluster"/>; the last block is short when its length is not a multiple of the block size.</summary>
    public void Compute(ReadOnlySpan<byte> cluster)
    {
        _length = cluster.Length;
        BlockCount = (cluster.Length + _blockSize - 1) / _blockSize;
        for (var j = 0; j < BlockCount; j++)
        {
            var block = cluster.Slice(j * _blockSize, BlockLength(j));
            // Zero blocks are never hashed: "both zero" needs no digest, and "one side zero" differs anyway.
            _isZero[j] = !block.ContainsAnyExcept((byte)0);
            if (!_isZero[j])
            {
                ChecksumHasher.Hash(_algorithm, block, _digests.AsSpan(j * _hashLength, _hashLength));
            }
        }
    }

    /// <summary>Describes a cluster of <paramref name="length"/> bytes that reads as zeros, without reading it.</summary>
    public void SetZero(int length)
    {
        _length = length;
        BlockCount = (length + _blockSize - 1) / _blockSize;
        _isZero.AsSpan(0, BlockCount).Fill(true);
    }

    /// <summary>
    /// Adds to <paramref name="copies"/> the blocks of <paramref name="source"/> that hold data the target
    /// lacks, and to <paramref name="unmaps"/> those that read as zeros on the source but not on the target
    /// (clipped to the target's bytes). Offsets are relative to <paramref name="clusterOffset"/>; a target
    /// that is shorter than the source counts as zeros past its end.
    /// </summary>
    public static void Diff(BlockChecksums source, BlockChecksums target, long clusterOffset, RangeList copies, RangeList unmaps)
    {
        for (var j = 0; j < source.BlockCount; j++)
        {
            var offset = (long)j * source._blockSize;
            var length = source.BlockLength(j);
            var targetLength = j < target.BlockCount ? target.BlockLength(j) : 0;
            var targetIsZero = targetLength == 0 || target._isZero[j];
            if (source._isZero[j])
            {
                if (!targetIsZero)
                {
                    unmaps.Add(clusterOffset + offset, Math.Min(length, targetLength));
                }
            }
            else if (targetIsZero || targetLength != length || !source.Digest(j).SequenceEqual(target.Digest(j)))
            {
                copies.Add(clusterOffset + offset, length);
            }
        }
    }

    private int BlockLength(int j) => Math.Min(_blockSize, _length - (j * _blockSize));

    private ReadOnlySpan<byte> Digest(int j) => _digests.AsSpan(j * _hashLength, _hashLength);
}

/// <summary>Ranges collected in ascending order by one worker; a range that touches the last one extends it.</summary>
internal sealed class RangeList
{
    private readonly List<ByteRange> _ranges = [];

    public IReadOnlyList<ByteRange> Ranges => _ranges;

    public void Add(long offset, long length)
    {
        if (length <= 0)
        {
            return;
        }
        if (_ranges.Count > 0 && _ranges[^1].End == offset)
        {
            _ranges[^1] = new ByteRange(_ranges[^1].Offset, _ranges[^1].Length + length);
        }
        else
        {
            _ranges.Add(new ByteRange(offset, length));
        }
    }
}
