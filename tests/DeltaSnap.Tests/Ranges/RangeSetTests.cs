using DeltaSnap;
using FsCheck;
using FsCheck.Fluent;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace DeltaSnap.Tests.Ranges;

/// <summary>RangeSet against a naive model: one bool per byte of a small space.</summary>
public class RangeSetTests
{
    private const int Space = 160;

    public record Op(bool Add, int Offset, int Length);

    public static class Generators
    {
        public static Arbitrary<Op> Ops() =>
            (from add in ArbMap.Default.GeneratorFor<bool>()
             from offset in Gen.Choose(0, Space - 1)
             from length in Gen.Choose(0, 40)
             select new Op(add, offset, Math.Min(length, Space - offset))).ToArbitrary();
    }

    private static (RangeSet Set, bool[] Model) Apply(Op[] ops)
    {
        var set = new RangeSet();
        var model = new bool[Space];
        foreach (var op in ops)
        {
            var range = new ByteRange(op.Offset, op.Length);
            if (op.Add)
            {
                set.Add(range);
            }
            else
            {
                set.Remove(range);
            }
            for (var i = op.Offset; i < op.Offset + op.Length; i++)
            {
                model[i] = op.Add;
            }
        }
        return (set, model);
    }

    private static bool Matches(RangeSet set, bool[] model)
    {
        var bits = new bool[Space];
        foreach (var r in set)
        {
            for (var i = r.Offset; i < r.End; i++)
            {
                bits[i] = true;
            }
        }
        // Normalized: sorted, disjoint, non-adjacent, non-empty.
        for (var i = 1; i < set.Count; i++)
        {
            if (set[i - 1].End >= set[i].Offset)
            {
                return false;
            }
        }
        return set.All(r => !r.IsEmpty) && bits.SequenceEqual(model)
            && Enumerable.Range(0, Space).All(i => set.Contains(i) == model[i])
            && set.TotalLength == model.Count(b => b);
    }

    [Property(Arbitrary = [typeof(Generators)], MaxTest = 300)]
    public bool AddRemove_randomOperations_matchModel(Op[] ops)
    {
        var (set, model) = Apply(ops);
        return Matches(set, model);
    }

    [Property(Arbitrary = [typeof(Generators)], MaxTest = 300)]
    public bool SetAlgebra_randomSets_matchModel(Op[] a, Op[] b)
    {
        var (sa, ma) = Apply(a);
        var (sb, mb) = Apply(b);
        return Matches(sa.Union(sb), ma.Zip(mb, (x, y) => x || y).ToArray())
            && Matches(sa.Intersect(sb), ma.Zip(mb, (x, y) => x && y).ToArray())
            && Matches(sa.Subtract(sb), ma.Zip(mb, (x, y) => x && !y).ToArray());
    }

    [Property(Arbitrary = [typeof(Generators)], MaxTest = 200)]
    public bool Constructor_unsortedRanges_equalsIncrementalAdds(Op[] ops)
    {
        var ranges = ops.Select(o => new ByteRange(o.Offset, o.Length)).ToArray();
        var built = new RangeSet(ranges.Reverse());
        var added = new RangeSet();
        foreach (var r in ranges)
        {
            added.Add(r);
        }
        return built.Equals(added);
    }

    [Property(Arbitrary = [typeof(Generators)], MaxTest = 200)]
    public bool EnumerateClusters_randomSet_listsExactlyTouchedClusters(Op[] ops)
    {
        var (set, model) = Apply(ops);
        // A layout of 4 KiB clusters scaled down: treat each model byte as 1 KiB.
        var scaled = new RangeSet(set.Select(r => new ByteRange(r.Offset * 1024, r.Length * 1024)));
        var layout = new ClusterLayout(Space * 1024L - 512, ClusterLayout.MinClusterSize);
        var expected = Enumerable.Range(0, (int)layout.ClusterCount)
            .Where(c => Enumerable.Range(c * 4, 4).Any(i => i < Space && model[i] && i * 1024L < layout.VolumeSize))
            .Select(c => (long)c);
        return scaled.EnumerateClusters(layout).SequenceEqual(expected);
    }

    [Test]
    public void Add_adjacentRanges_coalesce()
    {
        var set = new RangeSet { new ByteRange(0, 10), new ByteRange(20, 5), new ByteRange(10, 10) };
        Assert.That(set, Is.EqualTo(new[] { new ByteRange(0, 25) }));
    }

    [Test]
    public void Remove_middle_splitsRange()
    {
        var set = new RangeSet { new ByteRange(0, 100) };
        set.Remove(new ByteRange(40, 10));
        Assert.That(set, Is.EqualTo(new[] { new ByteRange(0, 40), new ByteRange(50, 50) }));
    }

    [Test]
    public void ByteRange_negativeLength_throws()
    {
        Assert.That(() => new ByteRange(0, -1), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new ByteRange(long.MaxValue, 2), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
