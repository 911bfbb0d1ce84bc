using System.Numerics;
using DeltaSnap.Checksums;
using DeltaSnap.Devices;

namespace DeltaSnap.Delta;

/// <summary>
/// A block device that can digest its own blocks where its data is, so that comparing it with another device moves
/// digests instead of bytes: a device on the other end of a session. <see cref="DeltaPlanner"/>'s refinement and the
/// checksum route's verification ask it for digests when either device is one, and read bytes otherwise.
/// </summary>
/// <remarks>
/// The digests of a list of ranges are laid out range after range; each range is cut into blocks of the block size
/// from its start (the last one short). Each block takes <c>1 + digestLength</c> bytes: 0 and then zeros when the block
/// reads as zeros, else 1 and the first <c>digestLength</c> bytes of the block's hash with the algorithm
/// (<see cref="ComputeBlockDigests"/> computes the same from bytes in hand).
/// </remarks>
public abstract class DigestingBlockDevice : BlockDevice
{
    /// <summary>Initializes the device.</summary>
    protected DigestingBlockDevice()
    {
    }

    /// <summary>The bytes the digests of <paramref name="ranges"/> take.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="ranges"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The block size is not a power of two of at least 512, or the digest length is not positive.</exception>
    public static int GetDigestsLength(IReadOnlyList<ByteRange> ranges, int blockSize, int digestLength)
    {
        ThrowHelper.ThrowIfNull(ranges);
        CheckBlockSize(blockSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(digestLength);
        long total = 0;
        foreach (var range in ranges)
        {
            total += (range.Length + blockSize - 1) / blockSize * (1 + digestLength);
        }
        return checked((int)total);
    }

    /// <summary>
    /// Writes the digests of the blocks of <paramref name="ranges"/> into <paramref name="destination"/> (laid out as the
    /// remarks of <see cref="DigestingBlockDevice"/> say).
    /// </summary>
    /// <param name="ranges">Byte ranges inside the device.</param>
    /// <param name="blockSize">A power of two of at least 512.</param>
    /// <param name="algorithm">The hash of each block.</param>
    /// <param name="digestLength">How many leading bytes of each hash to give: from 1 to the algorithm's hash length.</param>
    /// <param name="destination">Exactly <see cref="GetDigestsLength"/> bytes.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ArgumentOutOfRangeException">A range is not inside the device, or a size is out of bounds.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not of the right length.</exception>
    public ValueTask ReadBlockDigestsAsync(IReadOnlyList<ByteRange> ranges, int blockSize, ChecksumAlgorithm algorithm, int digestLength, Memory<byte> destination,
        CancellationToken cancellationToken = default)
    {
        CheckDisposed();
        ThrowHelper.ThrowIfNull(ranges);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(digestLength, ChecksumHasher.GetHashLength(algorithm));
        if (destination.Length != GetDigestsLength(ranges, blockSize, digestLength))
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"The digests of these ranges take {GetDigestsLength(ranges, blockSize, digestLength)} bytes, not {destination.Length}.");
        }
        foreach (var range in ranges)
        {
            if (range.Offset < 0 || range.End > Length)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(ranges), range, $"{range} is not inside the device of {Length} bytes.");
            }
        }
        return ranges.Count == 0 ? ValueTask.CompletedTask : ReadBlockDigestsCoreAsync(ranges, blockSize, algorithm, digestLength, destination, cancellationToken);
    }

    /// <summary>Computes the digests of <paramref name="data"/> cut into blocks of <paramref name="blockSize"/>, laid out as <see cref="ReadBlockDigestsAsync"/> gives them.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static void ComputeBlockDigests(ReadOnlySpan<byte> data, int blockSize, ChecksumAlgorithm algorithm, int digestLength, Span<byte> destination)
    {
        CheckBlockSize(blockSize);
        var hashLength = ChecksumHasher.GetHashLength(algorithm);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(digestLength, hashLength);
        var blocks = (data.Length + blockSize - 1) / blockSize;
        if (destination.Length < blocks * (1 + digestLength))
        {
            ThrowHelper.ThrowArgument(nameof(destination), "The destination is too short for the digests.");
        }
        Span<byte> hash = stackalloc byte[64];
        for (var j = 0; j < blocks; j++)
        {
            var block = data.Slice(j * blockSize, Math.Min(blockSize, data.Length - (j * blockSize)));
            var entry = destination.Slice(j * (1 + digestLength), 1 + digestLength);
            if (!block.ContainsAnyExcept((byte)0))
            {
                entry.Clear();
                continue;
            }
            entry[0] = 1;
            ChecksumHasher.Hash(algorithm, block, hash[..hashLength]);
            hash[..digestLength].CopyTo(entry[1..]);
        }
    }

    /// <summary>Computes the digests (arguments validated, at least one range).</summary>
    protected abstract ValueTask ReadBlockDigestsCoreAsync(IReadOnlyList<ByteRange> ranges, int blockSize, ChecksumAlgorithm algorithm, int digestLength,
        Memory<byte> destination, CancellationToken cancellationToken);

    private static void CheckBlockSize(int blockSize)
    {
        if (blockSize < 512 || !BitOperations.IsPow2(blockSize))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(blockSize), blockSize, "The block size must be a power of two of at least 512 bytes.");
        }
    }
}
