using System.Numerics;

namespace DeltaSnap;

/// <summary>
/// One bit per cluster: set when the cluster is allocated in this layer. On the wire it is Longhorn's
/// <em>fragmap</em>: base64 of the bit array, bit <c>i</c> in byte <c>i / 8</c> at bit <c>i % 8</c>, least
/// significant bit first.
/// </summary>
public sealed class AllocationMap : IEquatable<AllocationMap>
{
    private readonly ulong[] _words;

    /// <summary>Creates a map of <paramref name="clusterCount"/> clusters, none allocated.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The count is negative or too large for one map.</exception>
    public AllocationMap(long clusterCount)
    {
        ThrowHelper.ThrowIfNegative(clusterCount);
        if (clusterCount > (long)Array.MaxLength * 64)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(clusterCount), clusterCount, "Too many clusters for one allocation map.");
        }
        ClusterCount = clusterCount;
        _words = new ulong[(clusterCount + 63) >> 6];
    }

    /// <summary>The number of clusters the map covers.</summary>
    public long ClusterCount { get; }

    /// <summary>Whether cluster <paramref name="index"/> is allocated.</summary>
    public bool this[long index]
    {
        get
        {
            CheckIndex(index);
            return (_words[index >> 6] & (1UL << (int)(index & 63))) != 0;
        }
        set
        {
            CheckIndex(index);
            if (value)
            {
                _words[index >> 6] |= 1UL << (int)(index & 63);
            }
            else
            {
                _words[index >> 6] &= ~(1UL << (int)(index & 63));
            }
        }
    }

    /// <summary>The number of allocated clusters.</summary>
    public long AllocatedCount
    {
        get
        {
            long n = 0;
            foreach (var w in _words)
            {
                n += BitOperations.PopCount(w);
            }
            return n;
        }
    }

    /// <summary>Marks every cluster allocated.</summary>
    public void SetAll()
    {
        Array.Fill(_words, ulong.MaxValue);
        ClearTail();
    }

    /// <summary>The allocated cluster indices, ascending.</summary>
    public IEnumerable<long> EnumerateAllocated()
    {
        for (var w = 0; w < _words.Length; w++)
        {
            var word = _words[w];
            while (word != 0)
            {
                var bit = BitOperations.TrailingZeroCount(word);
                yield return ((long)w << 6) + bit;
                word &= word - 1;
            }
        }
    }

    /// <summary>A map allocated where either map is (walking a snapshot chain down to its oldest layer).</summary>
    /// <exception cref="ArgumentException">The maps cover different numbers of clusters.</exception>
    public AllocationMap Or(AllocationMap other) => Combine(other, static (a, b) => a | b);

    /// <summary>A map allocated where both maps are.</summary>
    /// <exception cref="ArgumentException">The maps cover different numbers of clusters.</exception>
    public AllocationMap And(AllocationMap other) => Combine(other, static (a, b) => a & b);

    /// <summary>Longhorn's fragmap encoding of this map.</summary>
    public string ToFragmap()
    {
        var bytes = new byte[(ClusterCount + 7) >> 3];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(_words[i >> 3] >> ((i & 7) * 8));
        }
        return Convert.ToBase64String(bytes);
    }

    /// <summary>Decodes Longhorn's fragmap encoding.</summary>
    /// <exception cref="FormatException">The text is not base64, is too short for <paramref name="clusterCount"/> clusters, or sets bits past the last cluster.</exception>
    public static AllocationMap FromFragmap(string fragmap, long clusterCount)
    {
        ThrowHelper.ThrowIfNull(fragmap);
        var bytes = Convert.FromBase64String(fragmap);
        var map = new AllocationMap(clusterCount);
        if (bytes.LongLength < (clusterCount + 7) >> 3)
        {
            throw new FormatException($"The fragmap holds {bytes.Length * 8L} bits, fewer than the {clusterCount} clusters.");
        }
        for (var i = 0; i < bytes.Length; i++)
        {
            if (i < (clusterCount + 7) >> 3)
            {
                map._words[i >> 3] |= (ulong)bytes[i] << ((i & 7) * 8);
            }
            else if (bytes[i] != 0)
            {
                throw new FormatException($"The fragmap sets bits past the last of {clusterCount} clusters.");
            }
        }
        if ((clusterCount & 63) != 0 && map._words.Length > 0 && (map._words[^1] >> (int)(clusterCount & 63)) != 0)
        {
            throw new FormatException($"The fragmap sets bits past the last of {clusterCount} clusters.");
        }
        return map;
    }

    /// <inheritdoc />
    public bool Equals(AllocationMap? other) => other is not null && other.ClusterCount == ClusterCount && _words.AsSpan().SequenceEqual(other._words);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as AllocationMap);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(ClusterCount);
        hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_words.AsSpan()));
        return hash.ToHashCode();
    }

    private AllocationMap Combine(AllocationMap other, Func<ulong, ulong, ulong> op)
    {
        ThrowHelper.ThrowIfNull(other);
        if (other.ClusterCount != ClusterCount)
        {
            ThrowHelper.ThrowArgument(nameof(other), $"The maps cover {ClusterCount} and {other.ClusterCount} clusters.");
        }
        var result = new AllocationMap(ClusterCount);
        for (var i = 0; i < _words.Length; i++)
        {
            result._words[i] = op(_words[i], other._words[i]);
        }
        return result;
    }

    private void ClearTail()
    {
        if ((ClusterCount & 63) != 0)
        {
            _words[^1] &= (1UL << (int)(ClusterCount & 63)) - 1;
        }
    }

    private void CheckIndex(long index)
    {
        if ((ulong)index >= (ulong)ClusterCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(index), index, $"The map has {ClusterCount} clusters.");
        }
    }
}
