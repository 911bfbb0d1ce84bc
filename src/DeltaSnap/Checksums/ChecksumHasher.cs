using System.Buffers.Binary;
using System.IO.Hashing;

namespace DeltaSnap.Checksums;

/// <summary>
/// Incremental hashing with one of the <see cref="ChecksumAlgorithm"/>s. Digests are written in the byte
/// order the reference tools print: big-endian for the CRCs and XXH3 (their canonical form, as
/// <c>xxhsum</c> prints), the natural order for SHA-256. Instances are not thread-safe.
/// </summary>
/// <remarks>
/// CRC-32C and CRC-64/ISO are this package's own folding implementations (<see cref="Crc32C"/>,
/// <see cref="Crc64Iso"/>), XXH3-64 and XXH3-128 are System.IO.Hashing's <see cref="XxHash3"/> and
/// <see cref="XxHash128"/>, SHA-256 is the BCL's. Any other <see cref="NonCryptographicHashAlgorithm"/> can be
/// used through a <see cref="CustomChecksumAlgorithm"/>.
/// </remarks>
public abstract class ChecksumHasher
{
    /// <summary>Initializes the hasher.</summary>
    protected ChecksumHasher(ChecksumAlgorithm algorithm)
    {
        Algorithm = algorithm;
        HashLength = GetHashLength(algorithm);
    }

    /// <summary>Initializes a hasher of a <see cref="CustomChecksumAlgorithm"/>: no built-in algorithm, any digest length.</summary>
    private protected ChecksumHasher(int hashLength) => HashLength = hashLength;

    /// <summary>The algorithm (0, no built-in algorithm, for a hasher made by <see cref="CustomChecksumAlgorithm.CreateHasher"/>).</summary>
    public ChecksumAlgorithm Algorithm { get; }

    /// <summary>The digest length in bytes.</summary>
    public int HashLength { get; }

    /// <summary>Creates a hasher for <paramref name="algorithm"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The algorithm is unknown.</exception>
    public static ChecksumHasher Create(ChecksumAlgorithm algorithm) => algorithm switch
    {
        ChecksumAlgorithm.Crc32C => new Crc32CHasher(),
        ChecksumAlgorithm.Crc64Iso => new Crc64IsoHasher(),
        ChecksumAlgorithm.Xxh3 => new Xxh3Hasher(),
        ChecksumAlgorithm.Xxh128 => new Xxh128Hasher(),
        ChecksumAlgorithm.Sha256 => new Sha256Hasher(),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown checksum algorithm."),
    };

    /// <summary>The digest length of <paramref name="algorithm"/> in bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The algorithm is unknown.</exception>
    public static int GetHashLength(ChecksumAlgorithm algorithm) => algorithm switch
    {
        ChecksumAlgorithm.Crc32C => 4,
        ChecksumAlgorithm.Crc64Iso => 8,
        ChecksumAlgorithm.Xxh3 => 8,
        ChecksumAlgorithm.Xxh128 => 16,
        ChecksumAlgorithm.Sha256 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown checksum algorithm."),
    };

    /// <summary>Hashes <paramref name="source"/> in one call, the fastest way for whole buffers.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than the digest.</exception>
    public static void Hash(ChecksumAlgorithm algorithm, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var length = GetHashLength(algorithm);
        if (destination.Length < length)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"The destination holds {destination.Length} bytes; {algorithm} needs {length}.");
        }
        switch (algorithm)
        {
            case ChecksumAlgorithm.Crc32C:
                BinaryPrimitives.WriteUInt32BigEndian(destination, Crc32C.Compute(source));
                break;
            case ChecksumAlgorithm.Crc64Iso:
                BinaryPrimitives.WriteUInt64BigEndian(destination, Crc64Iso.Compute(source));
                break;
            case ChecksumAlgorithm.Xxh3:
                // The one-shot static APIs: no allocation per call (this is the per-cluster hot path).
                BinaryPrimitives.WriteUInt64BigEndian(destination, XxHash3.HashToUInt64(source));
                break;
            case ChecksumAlgorithm.Xxh128:
                // Canonical XXH128: the high 64 bits first, each half big-endian (as xxhsum -H2 prints).
                BinaryPrimitives.WriteUInt128BigEndian(destination, XxHash128.HashToUInt128(source));
                break;
            default:
                System.Security.Cryptography.SHA256.HashData(source, destination);
                break;
        }
    }

    /// <summary>Hashes <paramref name="source"/> in one call and returns the digest.</summary>
    public static byte[] Hash(ChecksumAlgorithm algorithm, ReadOnlySpan<byte> source)
    {
        var digest = new byte[GetHashLength(algorithm)];
        Hash(algorithm, source, digest);
        return digest;
    }

    /// <summary>Adds <paramref name="data"/> to the running hash.</summary>
    public void Append(ReadOnlySpan<byte> data) => AppendCore(data);

    /// <summary>Starts over as if nothing had been appended.</summary>
    public void Reset() => ResetCore();

    /// <summary>Writes the digest of everything appended so far; the state is kept.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than the digest.</exception>
    public void GetCurrentHash(Span<byte> destination)
    {
        if (destination.Length < HashLength)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"The destination holds {destination.Length} bytes; {Algorithm} needs {HashLength}.");
        }
        GetCurrentHashCore(destination[..HashLength]);
    }

    /// <summary>Returns the digest of everything appended so far; the state is kept.</summary>
    public byte[] GetCurrentHash()
    {
        var digest = new byte[HashLength];
        GetCurrentHashCore(digest);
        return digest;
    }

    /// <summary>Adds data to the running hash.</summary>
    protected abstract void AppendCore(ReadOnlySpan<byte> data);

    /// <summary>Resets the running hash.</summary>
    protected abstract void ResetCore();

    /// <summary>Writes exactly <see cref="HashLength"/> bytes of digest.</summary>
    protected abstract void GetCurrentHashCore(Span<byte> destination);
}
