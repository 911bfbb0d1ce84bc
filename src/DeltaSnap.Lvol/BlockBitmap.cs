using System.Numerics;

namespace DeltaSnap.Lvol;

/// <summary>
/// Which 4 KiB blocks of one cluster are set: one bit per block, least significant bit of word 0 first (the layout a
/// cluster map entry stores and the metadata writes). A value: every operation returns a new bitmap and leaves its
/// operands as they were, so a bitmap may share its words with a cluster map entry. The full bitmap needs no words
/// (<see cref="All"/>), as a cluster map entry stores "every block valid" as no bitmap at all.
/// </summary>
internal readonly struct BlockBitmap : IEquatable<BlockBitmap>
{
    /// <summary>The words, or null: every block is set.</summary>
    private readonly ulong[]? _words;

    private BlockBitmap(ulong[]? words, int blocks)
    {
        _words = words;
        Blocks = blocks;
    }

    /// <summary>How many blocks the cluster has (the bitmap's width).</summary>
    public int Blocks { get; }

    /// <summary>Whether every block is set.</summary>
    public bool IsAll => _words is null || Count == Blocks;

    /// <summary>Whether no block is set.</summary>
    public bool IsEmpty => Count == 0;

    /// <summary>How many blocks are set.</summary>
    public int Count
    {
        get
        {
            if (_words is null)
            {
                return Blocks;
            }
            var n = 0;
            for (var w = 0; w < _words.Length; w++)
            {
                n += BitOperations.PopCount(_words[w] & Mask(w));
            }
            return n;
        }
    }

    /// <summary>The end (exclusive) of the last set block; 0 when none is set.</summary>
    public int End
    {
        get
        {
            if (_words is null)
            {
                return Blocks;
            }
            for (var w = _words.Length - 1; w >= 0; w--)
            {
                var word = _words[w] & Mask(w);
                if (word != 0)
                {
                    return (w << 6) + 64 - BitOperations.LeadingZeroCount(word);
                }
            }
            return 0;
        }
    }

    /// <summary>Whether a bit past <see cref="Blocks"/> is set (only stored words read from disk can have one).</summary>
    public bool HasBitsPastEnd => _words is not null && (Blocks & 63) != 0 && (_words[^1] >> (Blocks & 63)) != 0;

    /// <summary>How many words a bitmap of <paramref name="blocks"/> blocks stores (at least one).</summary>
    public static int WordCount(int blocks) => Math.Max(1, (blocks + 63) >> 6);

    /// <summary>Every block set.</summary>
    public static BlockBitmap All(int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks);
        return new BlockBitmap(null, blocks);
    }

    /// <summary>No block set.</summary>
    public static BlockBitmap Empty(int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks);
        return new BlockBitmap(new ulong[WordCount(blocks)], blocks);
    }

    /// <summary>Blocks <c>[first, first + count)</c> set.</summary>
    public static BlockBitmap Range(int blocks, int first, int count)
    {
        var result = Empty(blocks);
        result.SetRange(first, count);
        return result;
    }

    /// <summary>
    /// The bitmap stored as <paramref name="words"/> (null: every block), without copying them: the caller hands them
    /// over and changes them no more.
    /// </summary>
    public static BlockBitmap FromWords(ulong[]? words, int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks);
        if (words is not null && words.Length != WordCount(blocks))
        {
            throw new ArgumentException($"A bitmap of {blocks} blocks has {WordCount(blocks)} word(s), not {words.Length}.", nameof(words));
        }
        return new BlockBitmap(words, blocks);
    }

    /// <summary>The words to store in a cluster map entry: null when every block is set (they are not copied).</summary>
    public ulong[]? ToWords() => IsAll ? null : _words;

    /// <summary>Whether block <paramref name="block"/> is set.</summary>
    public bool Contains(int block)
    {
        if ((uint)block >= (uint)Blocks)
        {
            throw new ArgumentOutOfRangeException(nameof(block), block, $"The cluster has blocks 0 to {Blocks - 1}.");
        }
        return _words is null || (_words[block >> 6] & (1UL << (block & 63))) != 0;
    }

    /// <summary>The blocks set in this bitmap or in <paramref name="other"/>.</summary>
    public BlockBitmap Union(BlockBitmap other) => Combine(other, static (a, b) => a | b);

    /// <summary>The blocks set in both bitmaps.</summary>
    public BlockBitmap Intersect(BlockBitmap other) => Combine(other, static (a, b) => a & b);

    /// <summary>The blocks set in this bitmap and not in <paramref name="other"/>.</summary>
    public BlockBitmap Except(BlockBitmap other) => Combine(other, static (a, b) => a & ~b);

    /// <summary>The blocks not set in this bitmap.</summary>
    public BlockBitmap Complement()
    {
        var result = new ulong[WordCount(Blocks)];
        for (var w = 0; w < result.Length; w++)
        {
            result[w] = ~Word(w) & Mask(w);
        }
        return new BlockBitmap(result, Blocks);
    }

    /// <summary>This bitmap with blocks <c>[first, first + count)</c> set as well.</summary>
    public BlockBitmap WithRange(int first, int count)
    {
        if (_words is null)
        {
            return this;
        }
        var result = new BlockBitmap((ulong[])_words.Clone(), Blocks);
        result.SetRange(first, count);
        return result;
    }

    /// <summary>The end (exclusive) of the run of blocks from <paramref name="block"/> on that are all set or all clear, as it is.</summary>
    public int RunEnd(int block)
    {
        var set = Contains(block);
        if (_words is null)
        {
            return Blocks;
        }
        var b = block + 1;
        while (b < Blocks)
        {
            // Skip whole words that continue the run.
            var word = set ? ~_words[b >> 6] : _words[b >> 6];
            word &= ~((1UL << (b & 63)) - 1);
            if (word != 0)
            {
                return Math.Min(Blocks, ((b >> 6) << 6) + BitOperations.TrailingZeroCount(word));
            }
            b = ((b >> 6) + 1) << 6;
        }
        return Blocks;
    }

    /// <summary>The runs of set blocks, ascending: first block and count.</summary>
    public IEnumerable<(int First, int Count)> Runs()
    {
        var b = 0;
        while (b < Blocks)
        {
            if (!Contains(b))
            {
                b = RunEnd(b);
                continue;
            }
            var end = RunEnd(b);
            yield return (b, end - b);
            b = end;
        }
    }

    /// <inheritdoc />
    public bool Equals(BlockBitmap other)
    {
        if (Blocks != other.Blocks)
        {
            return false;
        }
        for (var w = 0; w < WordCount(Blocks); w++)
        {
            if ((Word(w) & Mask(w)) != (other.Word(w) & Mask(w)))
            {
                return false;
            }
        }
        return true;
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is BlockBitmap other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Blocks);
        for (var w = 0; w < WordCount(Blocks); w++)
        {
            hash.Add(Word(w) & Mask(w));
        }
        return hash.ToHashCode();
    }

    /// <summary>The set blocks as runs, e.g. <c>0-3,8 of 16</c>.</summary>
    public override string ToString() =>
        $"{string.Join(",", Runs().Select(r => r.Count == 1 ? $"{r.First}" : $"{r.First}-{r.First + r.Count - 1}"))} of {Blocks}";

    public static bool operator ==(BlockBitmap left, BlockBitmap right) => left.Equals(right);

    public static bool operator !=(BlockBitmap left, BlockBitmap right) => !left.Equals(right);

    private ulong Word(int w) => _words is null ? ulong.MaxValue : _words[w];

    /// <summary>The bits of word <paramref name="w"/> that stand for blocks of the cluster.</summary>
    private ulong Mask(int w)
    {
        var bits = Blocks - (w << 6);
        return bits >= 64 ? ulong.MaxValue : (1UL << bits) - 1;
    }

    private BlockBitmap Combine(BlockBitmap other, Func<ulong, ulong, ulong> op)
    {
        if (other.Blocks != Blocks)
        {
            throw new ArgumentException($"A bitmap of {other.Blocks} blocks does not combine with one of {Blocks}.", nameof(other));
        }
        var result = new ulong[WordCount(Blocks)];
        for (var w = 0; w < result.Length; w++)
        {
            result[w] = op(Word(w), other.Word(w)) & Mask(w);
        }
        return new BlockBitmap(result, Blocks);
    }

    /// <summary>Sets blocks in words this bitmap owns (only while building a new one).</summary>
    private void SetRange(int first, int count)
    {
        if (first < 0 || count < 0 || first > Blocks - count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Blocks {first} to {first + count - 1} are not inside a cluster of {Blocks} blocks.");
        }
        for (var b = first; b < first + count; b++)
        {
            _words![b >> 6] |= 1UL << (b & 63);
        }
    }
}
