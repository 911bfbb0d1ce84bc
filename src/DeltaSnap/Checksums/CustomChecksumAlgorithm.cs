using System.Collections.Concurrent;
using System.IO.Hashing;

namespace DeltaSnap.Checksums;

/// <summary>
/// A checksum algorithm supplied by the caller: any <see cref="NonCryptographicHashAlgorithm"/> (System.IO.Hashing's
/// <see cref="XxHash64"/>, <see cref="Crc32"/> with a parameter set, or one of your own), usable wherever
/// <see cref="ClusterChecksums"/> takes an algorithm (<see cref="ClusterChecksumOptions.CustomAlgorithm"/>,
/// <see cref="ClusterChecksumsBuilder(ClusterLayout, CustomChecksumAlgorithm)"/>).
/// </summary>
/// <remarks>
/// <para>A digest is exactly what the algorithm's <see cref="NonCryptographicHashAlgorithm.GetCurrentHash(Span{byte})"/>
/// writes, in the algorithm's own byte order. Maps computed with a custom algorithm compare only with maps of the same
/// instance, and are not saved (the persisted formats name only the built-in <see cref="ChecksumAlgorithm"/>s).</para>
/// <para><see cref="Hash(ReadOnlySpan{byte}, Span{byte})"/> is thread-safe: it reuses algorithm instances from a
/// small pool, so hashing cluster after cluster allocates nothing once every worker has one.</para>
/// </remarks>
public sealed class CustomChecksumAlgorithm
{
    private readonly Func<NonCryptographicHashAlgorithm> _factory;
    private readonly ConcurrentBag<NonCryptographicHashAlgorithm> _pool = [];

    /// <summary>Describes the algorithm that <paramref name="factory"/> makes instances of.</summary>
    /// <param name="name">A short name for messages, e.g. <c>xxh64</c>.</param>
    /// <param name="factory">Makes a new instance in its initial state each time it is called.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or the algorithm's digest is empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="factory"/> is null.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="factory"/> returned null.</exception>
    public CustomChecksumAlgorithm(string name, Func<NonCryptographicHashAlgorithm> factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ThrowHelper.ThrowIfNull(factory);
        Name = name;
        _factory = factory;
        var first = Rent();
        HashLength = first.HashLengthInBytes;
        if (HashLength < 1)
        {
            ThrowHelper.ThrowArgument(nameof(factory), $"The algorithm '{name}' has {HashLength}-byte digests.");
        }
        _pool.Add(first);
    }

    /// <summary>The name given to the constructor.</summary>
    public string Name { get; }

    /// <summary>The digest length in bytes (the algorithm's <see cref="NonCryptographicHashAlgorithm.HashLengthInBytes"/>).</summary>
    public int HashLength { get; }

    /// <summary>Hashes <paramref name="source"/> in one call. Thread-safe.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than the digest.</exception>
    public void Hash(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < HashLength)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"The destination holds {destination.Length} bytes; {Name} needs {HashLength}.");
        }
        // An instance whose hashing threw is not returned to the pool: its state is unknown.
        var algorithm = Rent();
        algorithm.Append(source);
        algorithm.GetHashAndReset(destination[..HashLength]);
        _pool.Add(algorithm);
    }

    /// <summary>Hashes <paramref name="source"/> in one call and returns the digest. Thread-safe.</summary>
    public byte[] Hash(ReadOnlySpan<byte> source)
    {
        var digest = new byte[HashLength];
        Hash(source, digest);
        return digest;
    }

    /// <summary>An incremental hasher of this algorithm (its <see cref="ChecksumHasher.Algorithm"/> is 0: no built-in algorithm).</summary>
    public ChecksumHasher CreateHasher() => new Hasher(this, Create());

    /// <inheritdoc/>
    public override string ToString() => Name;

    private NonCryptographicHashAlgorithm Rent() => _pool.TryTake(out var algorithm) ? algorithm : Create();

    private NonCryptographicHashAlgorithm Create()
    {
        var algorithm = _factory();
        if (algorithm is null)
        {
            ThrowHelper.ThrowInvalidOperation($"The factory of the checksum algorithm '{Name}' returned null.");
        }
        return algorithm;
    }

    private sealed class Hasher(CustomChecksumAlgorithm owner, NonCryptographicHashAlgorithm algorithm) : ChecksumHasher(owner.HashLength)
    {
        protected override void AppendCore(ReadOnlySpan<byte> data) => algorithm.Append(data);

        protected override void ResetCore() => algorithm.Reset();

        protected override void GetCurrentHashCore(Span<byte> destination) => algorithm.GetCurrentHash(destination);
    }
}
