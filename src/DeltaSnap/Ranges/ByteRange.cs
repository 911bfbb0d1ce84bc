namespace DeltaSnap;

/// <summary>A half-open range of bytes <c>[Offset, Offset + Length)</c> on a volume.</summary>
public readonly record struct ByteRange : IComparable<ByteRange>
{
    /// <summary>Creates a range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The offset or length is negative, or the end overflows.</exception>
    public ByteRange(long offset, long length)
    {
        ThrowHelper.ThrowIfNegative(offset);
        ThrowHelper.ThrowIfNegative(length);
        if (offset > long.MaxValue - length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "The range ends past Int64.MaxValue.");
        }
        Offset = offset;
        Length = length;
    }

    /// <summary>The first byte of the range.</summary>
    public long Offset { get; }

    /// <summary>The number of bytes in the range.</summary>
    public long Length { get; }

    /// <summary>The first byte after the range.</summary>
    public long End => Offset + Length;

    /// <summary>Whether the range holds no bytes.</summary>
    public bool IsEmpty => Length == 0;

    /// <summary>Creates the range <c>[start, end)</c>.</summary>
    public static ByteRange FromBounds(long start, long end)
    {
        ThrowHelper.ThrowIfNegative(start);
        if (end < start)
        {
            throw new ArgumentOutOfRangeException(nameof(end), end, "The end is before the start.");
        }
        return new ByteRange(start, end - start);
    }

    /// <summary>Whether <paramref name="position"/> lies inside the range.</summary>
    public bool Contains(long position) => position >= Offset && position < End;

    /// <summary>Whether the two ranges share at least one byte.</summary>
    public bool Overlaps(ByteRange other) => Offset < other.End && other.Offset < End && !IsEmpty && !other.IsEmpty;

    /// <summary>The bytes both ranges hold (empty when they do not overlap).</summary>
    public ByteRange Intersect(ByteRange other)
    {
        var start = Math.Max(Offset, other.Offset);
        var end = Math.Min(End, other.End);
        return end > start ? FromBounds(start, end) : default;
    }

    /// <inheritdoc />
    public int CompareTo(ByteRange other)
    {
        var c = Offset.CompareTo(other.Offset);
        return c != 0 ? c : Length.CompareTo(other.Length);
    }

    /// <summary>Orders by offset, then length.</summary>
    public static bool operator <(ByteRange left, ByteRange right) => left.CompareTo(right) < 0;

    /// <summary>Orders by offset, then length.</summary>
    public static bool operator >(ByteRange left, ByteRange right) => left.CompareTo(right) > 0;

    /// <summary>Orders by offset, then length.</summary>
    public static bool operator <=(ByteRange left, ByteRange right) => left.CompareTo(right) <= 0;

    /// <summary>Orders by offset, then length.</summary>
    public static bool operator >=(ByteRange left, ByteRange right) => left.CompareTo(right) >= 0;

    /// <inheritdoc />
    public override string ToString() => $"[{Offset}, {End})";
}
