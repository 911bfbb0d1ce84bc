namespace DeltaSnap.Checksums;

/// <summary>
/// Collects per-cluster states and digests, then seals them into a <see cref="ClusterChecksums"/>: what
/// <see cref="ClusterChecksums.ComputeAsync"/> and the map reader fill (no driver needs one: they return whole maps).
/// Distinct clusters may be set from different threads at once.
/// </summary>
internal sealed class ClusterChecksumsBuilder
{
    private readonly byte[] _states;
    private readonly byte[] _digests;
    private bool _built;

    /// <summary>Starts a map of every cluster of <paramref name="layout"/>, all unallocated.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The map would not fit in memory as one array.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The algorithm is unknown.</exception>
    public ClusterChecksumsBuilder(ClusterLayout layout, ChecksumAlgorithm algorithm)
        : this(layout, algorithm, null, ChecksumHasher.GetHashLength(algorithm))
    {
    }

    /// <summary>Starts a map of every cluster of <paramref name="layout"/>, all unallocated, with a caller-supplied algorithm.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The map would not fit in memory as one array.</exception>
    public ClusterChecksumsBuilder(ClusterLayout layout, CustomChecksumAlgorithm algorithm)
        : this(layout, default, algorithm, HashLengthOf(algorithm))
    {
    }

    private ClusterChecksumsBuilder(ClusterLayout layout, ChecksumAlgorithm algorithm, CustomChecksumAlgorithm? customAlgorithm, int hashLength)
    {
        ThrowHelper.ThrowIfNull(layout);
        Layout = layout;
        Algorithm = algorithm;
        CustomAlgorithm = customAlgorithm;
        HashLength = hashLength;
        if (layout.ClusterCount > Array.MaxLength / HashLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(layout), layout.ClusterCount,
                "Too many clusters for one checksum map; choose a larger cluster size.");
        }
        _states = new byte[layout.ClusterCount];
        _digests = new byte[layout.ClusterCount * HashLength];
    }

    private static int HashLengthOf(CustomChecksumAlgorithm algorithm)
    {
        ThrowHelper.ThrowIfNull(algorithm);
        return algorithm.HashLength;
    }

    /// <summary>The layout.</summary>
    public ClusterLayout Layout { get; }

    /// <summary>The algorithm (0, no built-in algorithm, when <see cref="CustomAlgorithm"/> is set).</summary>
    public ChecksumAlgorithm Algorithm { get; }

    /// <summary>The caller-supplied algorithm, or null for a built-in one.</summary>
    public CustomChecksumAlgorithm? CustomAlgorithm { get; }

    /// <summary>The digest length in bytes.</summary>
    public int HashLength { get; }

    /// <summary>Records cluster <paramref name="index"/> as unallocated.</summary>
    public void SetUnallocated(long index) => Set(index, ClusterState.Unallocated, default);

    /// <summary>Records a cluster's state and digest (the digest is ignored for unallocated clusters).</summary>
    /// <exception cref="ArgumentException">The digest length is wrong for an allocated cluster.</exception>
    public void Set(long index, ClusterState state, ReadOnlySpan<byte> digest)
    {
        CheckNotBuilt();
        _ = Layout.OffsetOf(index);
        var slot = _digests.AsSpan((int)(index * HashLength), HashLength);
        if (state == ClusterState.Unallocated)
        {
            slot.Clear();
        }
        else
        {
            if (digest.Length != HashLength)
            {
                ThrowHelper.ThrowArgument(nameof(digest), $"{ClusterChecksums.NameOf(Algorithm, CustomAlgorithm)} digests are {HashLength} bytes, not {digest.Length}.");
            }
            digest.CopyTo(slot);
        }
        _states[index] = (byte)state;
    }

    /// <summary>Hashes <paramref name="data"/> (the cluster's bytes) and records it as zero or data.</summary>
    /// <exception cref="ArgumentException">The data length is not the cluster's length.</exception>
    public void SetFromData(long index, ReadOnlySpan<byte> data, ReadOnlySpan<byte> zeroDigest = default)
    {
        CheckNotBuilt();
        var length = Layout.LengthOf(index);
        if (data.Length != length)
        {
            ThrowHelper.ThrowArgument(nameof(data), $"Cluster {index} is {length} bytes, not {data.Length}.");
        }
        var slot = _digests.AsSpan((int)(index * HashLength), HashLength);
        var isZero = !data.ContainsAnyExcept((byte)0);
        if (isZero && zeroDigest.Length == HashLength && length == Layout.ClusterSize)
        {
            zeroDigest.CopyTo(slot);
        }
        else if (CustomAlgorithm is { } custom)
        {
            custom.Hash(data, slot);
        }
        else
        {
            ChecksumHasher.Hash(Algorithm, data, slot);
        }
        _states[index] = (byte)(isZero ? ClusterState.Zero : ClusterState.Data);
    }

    /// <summary>Seals the map and computes its volume and content checksums. The builder cannot be used afterwards.</summary>
    public ClusterChecksums Build()
    {
        CheckNotBuilt();
        _built = true;
        return new ClusterChecksums(Layout, Algorithm, CustomAlgorithm, _states, _digests);
    }

    private void CheckNotBuilt()
    {
        if (_built)
        {
            ThrowHelper.ThrowInvalidOperation("The map was already built.");
        }
    }
}
