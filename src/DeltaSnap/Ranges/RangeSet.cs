using System.Collections;

namespace DeltaSnap;

/// <summary>
/// A set of bytes kept as sorted, non-overlapping ranges; adjacent ranges are coalesced, so two sets
/// holding the same bytes have the same ranges.
/// </summary>
public sealed class RangeSet : IReadOnlyList<ByteRange>, IEquatable<RangeSet>
{
    private readonly List<ByteRange> _ranges;

    /// <summary>Creates an empty set.</summary>
    public RangeSet() => _ranges = [];

    /// <summary>Creates a set holding the bytes of <paramref name="ranges"/> (in any order, overlapping or not).</summary>
    public RangeSet(IEnumerable<ByteRange> ranges)
        : this()
    {
        ThrowHelper.ThrowIfNull(ranges);
        var sorted = ranges.Where(r => !r.IsEmpty).ToList();
        sorted.Sort();
        foreach (var range in sorted)
        {
            AppendSorted(range);
        }
    }

    private RangeSet(List<ByteRange> normalized) => _ranges = normalized;

    /// <summary>The number of disjoint ranges.</summary>
    public int Count => _ranges.Count;

    /// <summary>The <paramref name="index"/>-th range in ascending order.</summary>
    public ByteRange this[int index] => _ranges[index];

    /// <summary>The total number of bytes in the set.</summary>
    public long TotalLength
    {
        get
        {
            long total = 0;
            foreach (var r in _ranges)
            {
                total += r.Length;
            }
            return total;
        }
    }

    /// <summary>Whether the set holds no bytes.</summary>
    public bool IsEmpty => _ranges.Count == 0;

    /// <summary>Adds the bytes of <paramref name="range"/>.</summary>
    public void Add(ByteRange range)
    {
        if (range.IsEmpty)
        {
            return;
        }
        // First range whose end reaches the new range's start (touching counts: it coalesces).
        var first = LowerBoundByEnd(range.Offset);
        var start = range.Offset;
        var end = range.End;
        var last = first;
        while (last < _ranges.Count && _ranges[last].Offset <= end)
        {
            start = Math.Min(start, _ranges[last].Offset);
            end = Math.Max(end, _ranges[last].End);
            last++;
        }
        _ranges.RemoveRange(first, last - first);
        _ranges.Insert(first, ByteRange.FromBounds(start, end));
    }

    /// <summary>Removes the bytes of <paramref name="range"/>.</summary>
    public void Remove(ByteRange range)
    {
        if (range.IsEmpty)
        {
            return;
        }
        var first = LowerBoundByEnd(range.Offset + 1);
        var last = first;
        var replacement = new List<ByteRange>(2);
        while (last < _ranges.Count && _ranges[last].Offset < range.End)
        {
            var r = _ranges[last];
            if (r.Offset < range.Offset)
            {
                replacement.Add(ByteRange.FromBounds(r.Offset, range.Offset));
            }
            if (r.End > range.End)
            {
                replacement.Add(ByteRange.FromBounds(range.End, r.End));
            }
            last++;
        }
        _ranges.RemoveRange(first, last - first);
        _ranges.InsertRange(first, replacement);
    }

    /// <summary>Whether byte <paramref name="position"/> is in the set.</summary>
    public bool Contains(long position)
    {
        var i = LowerBoundByEnd(position + 1);
        return i < _ranges.Count && _ranges[i].Contains(position);
    }

    /// <summary>The bytes in either set.</summary>
    public RangeSet Union(RangeSet other)
    {
        ThrowHelper.ThrowIfNull(other);
        var result = new RangeSet(new List<ByteRange>(_ranges.Count + other._ranges.Count));
        int i = 0, j = 0;
        while (i < _ranges.Count || j < other._ranges.Count)
        {
            var takeLeft = j >= other._ranges.Count || (i < _ranges.Count && _ranges[i].Offset <= other._ranges[j].Offset);
            result.AppendSorted(takeLeft ? _ranges[i++] : other._ranges[j++]);
        }
        return result;
    }

    /// <summary>The bytes in both sets.</summary>
    public RangeSet Intersect(RangeSet other)
    {
        ThrowHelper.ThrowIfNull(other);
        var result = new List<ByteRange>();
        int i = 0, j = 0;
        while (i < _ranges.Count && j < other._ranges.Count)
        {
            var overlap = _ranges[i].Intersect(other._ranges[j]);
            if (!overlap.IsEmpty)
            {
                result.Add(overlap);
            }
            if (_ranges[i].End < other._ranges[j].End)
            {
                i++;
            }
            else
            {
                j++;
            }
        }
        return new RangeSet(result);
    }

    /// <summary>The bytes in this set and not in <paramref name="other"/>.</summary>
    public RangeSet Subtract(RangeSet other)
    {
        ThrowHelper.ThrowIfNull(other);
        var result = new List<ByteRange>();
        var j = 0;
        foreach (var r in _ranges)
        {
            var start = r.Offset;
            while (j < other._ranges.Count && other._ranges[j].End <= start)
            {
                j++;
            }
            var k = j;
            while (k < other._ranges.Count && other._ranges[k].Offset < r.End)
            {
                var cut = other._ranges[k];
                if (cut.Offset > start)
                {
                    result.Add(ByteRange.FromBounds(start, cut.Offset));
                }
                start = Math.Max(start, cut.End);
                if (cut.End > r.End)
                {
                    break;
                }
                k++;
            }
            if (start < r.End)
            {
                result.Add(ByteRange.FromBounds(start, r.End));
            }
        }
        return new RangeSet(result);
    }

    /// <summary>The ascending indices of the clusters of <paramref name="layout"/> that hold at least one byte of the set.</summary>
    public IEnumerable<long> EnumerateClusters(ClusterLayout layout)
    {
        ThrowHelper.ThrowIfNull(layout);
        var previous = -1L;
        foreach (var r in _ranges)
        {
            var first = Math.Max(layout.ClusterIndexOf(Math.Min(r.Offset, layout.VolumeSize - 1)), previous + 1);
            if (r.Offset >= layout.VolumeSize)
            {
                yield break;
            }
            var last = layout.ClusterIndexOf(Math.Min(r.End, layout.VolumeSize) - 1);
            for (var c = first; c <= last; c++)
            {
                yield return c;
            }
            previous = Math.Max(previous, last);
        }
    }

    /// <inheritdoc />
    public IEnumerator<ByteRange> GetEnumerator() => _ranges.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public bool Equals(RangeSet? other) => other is not null && _ranges.SequenceEqual(other._ranges);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as RangeSet);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var r in _ranges)
        {
            hash.Add(r);
        }
        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() => _ranges.Count == 0 ? "{}" : "{" + string.Join(", ", _ranges) + "}";

    // Appends a range that starts at or after every range already in the set.
    private void AppendSorted(ByteRange range)
    {
        if (range.IsEmpty)
        {
            return;
        }
        if (_ranges.Count > 0 && _ranges[^1].End >= range.Offset)
        {
            var last = _ranges[^1];
            _ranges[^1] = ByteRange.FromBounds(last.Offset, Math.Max(last.End, range.End));
        }
        else
        {
            _ranges.Add(range);
        }
    }

    // Index of the first range whose End >= position.
    private int LowerBoundByEnd(long position)
    {
        int lo = 0, hi = _ranges.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_ranges[mid].End < position)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }
}
