namespace DeltaSnap.Lvol.Tests;

/// <summary>The per-cluster block bitmap's algebra, by hand and against a model (one bool per block).</summary>
public sealed class BlockBitmapTests
{
    [Test]
    public void All_andEmpty_countAndRun()
    {
        var all = BlockBitmap.All(16);
        var empty = BlockBitmap.Empty(16);

        Assert.That(all.IsAll, Is.True);
        Assert.That(all.Count, Is.EqualTo(16));
        Assert.That(all.ToWords(), Is.Null, "a full bitmap is stored as no words");
        Assert.That(all.Runs(), Is.EqualTo(new[] { (0, 16) }));
        Assert.That(all.End, Is.EqualTo(16));
        Assert.That(empty.IsEmpty, Is.True);
        Assert.That(empty.IsAll, Is.False);
        Assert.That(empty.Count, Is.Zero);
        Assert.That(empty.Runs(), Is.Empty);
        Assert.That(empty.End, Is.Zero);
        Assert.That(empty.Complement(), Is.EqualTo(all));
        Assert.That(all.Complement(), Is.EqualTo(empty));
    }

    [Test]
    public void UnionIntersectExcept_twoRanges_giveTheSetAlgebra()
    {
        var a = BlockBitmap.Range(100, 10, 60); // 10..69
        var b = BlockBitmap.Range(100, 50, 40); // 50..89

        Assert.That(a.Union(b), Is.EqualTo(BlockBitmap.Range(100, 10, 80)));
        Assert.That(a.Intersect(b), Is.EqualTo(BlockBitmap.Range(100, 50, 20)));
        Assert.That(a.Except(b), Is.EqualTo(BlockBitmap.Range(100, 10, 40)));
        Assert.That(b.Except(a), Is.EqualTo(BlockBitmap.Range(100, 70, 20)));
        Assert.That(a.Union(b).Runs(), Is.EqualTo(new[] { (10, 80) }));
        Assert.That(a.Except(b).Union(b.Except(a)).Runs(), Is.EqualTo(new[] { (10, 40), (70, 20) }));
    }

    [Test]
    public void Operations_leaveTheirOperandsAsTheyWere()
    {
        var words = new ulong[] { 0b1010 };
        var a = BlockBitmap.FromWords(words, 16);

        _ = a.WithRange(0, 16);
        _ = a.Union(BlockBitmap.All(16));
        _ = a.Complement();

        Assert.That(words[0], Is.EqualTo(0b1010UL), "the stored words are shared, never changed");
        Assert.That(a.Runs(), Is.EqualTo(new[] { (1, 1), (3, 1) }));
    }

    [Test]
    public void WithRange_fillingTheLastGap_becomesAll_andStoresNoWords()
    {
        var partial = BlockBitmap.Range(256, 0, 255);

        var full = partial.WithRange(255, 1);

        Assert.That(partial.IsAll, Is.False);
        Assert.That(full.IsAll, Is.True);
        Assert.That(full.ToWords(), Is.Null);
        Assert.That(full, Is.EqualTo(BlockBitmap.All(256)), "equality is by content, whatever the form");
        Assert.That(full.GetHashCode(), Is.EqualTo(BlockBitmap.All(256).GetHashCode()));
    }

    [Test]
    public void Complement_ofANarrowCluster_setsNoBitPastItsBlocks()
    {
        var complement = BlockBitmap.Range(16, 0, 4).Complement();

        Assert.That(complement.ToWords(), Is.EqualTo(new[] { 0xFFF0UL }));
        Assert.That(complement.HasBitsPastEnd, Is.False);
        Assert.That(complement.Count, Is.EqualTo(12));
    }

    [Test]
    public void HasBitsPastEnd_storedWordsWithAStrayBit_isTrue_andTheStrayBitCountsNowhere()
    {
        var stray = BlockBitmap.FromWords([1UL << 20 | 1], 16);

        Assert.That(stray.HasBitsPastEnd, Is.True);
        Assert.That(stray.Count, Is.EqualTo(1));
        Assert.That(stray.End, Is.EqualTo(1));
        Assert.That(stray, Is.EqualTo(BlockBitmap.Range(16, 0, 1)));
        Assert.That(BlockBitmap.FromWords([ulong.MaxValue], 64).HasBitsPastEnd, Is.False, "a 64-block cluster has no bit past its end");
    }

    [Test]
    public void RunEnd_acrossWordBoundaries_findsTheEndOfTheRun()
    {
        var bits = BlockBitmap.Range(300, 60, 150); // 60..209

        Assert.That(bits.RunEnd(0), Is.EqualTo(60));
        Assert.That(bits.RunEnd(60), Is.EqualTo(210));
        Assert.That(bits.RunEnd(100), Is.EqualTo(210));
        Assert.That(bits.RunEnd(210), Is.EqualTo(300));
        Assert.That(BlockBitmap.All(300).RunEnd(7), Is.EqualTo(300));
    }

    [Test]
    public void Combine_differentWidths_throws()
    {
        Assert.Throws<ArgumentException>(() => BlockBitmap.All(16).Union(BlockBitmap.All(32)));
        Assert.Throws<ArgumentException>(() => BlockBitmap.FromWords(new ulong[2], 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlockBitmap.Range(16, 10, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlockBitmap.All(16).Contains(16));
    }

    [TestCase(1)]
    [TestCase(16)]
    [TestCase(64)]
    [TestCase(100)]
    [TestCase(256)]
    public void Operations_randomBitmaps_matchAModel(int blocks)
    {
        var random = new Random(blocks);
        for (var round = 0; round < 200; round++)
        {
            var (a, ma) = RandomBitmap(random, blocks);
            var (b, mb) = RandomBitmap(random, blocks);

            AssertMatches(a.Union(b), ma.Zip(mb, (x, y) => x || y).ToArray(), "union");
            AssertMatches(a.Intersect(b), ma.Zip(mb, (x, y) => x && y).ToArray(), "intersection");
            AssertMatches(a.Except(b), ma.Zip(mb, (x, y) => x && !y).ToArray(), "difference");
            AssertMatches(a.Complement(), ma.Select(x => !x).ToArray(), "complement");
            var first = random.Next(blocks);
            var count = random.Next(blocks - first + 1);
            AssertMatches(a.WithRange(first, count), ma.Select((x, i) => x || (i >= first && i < first + count)).ToArray(), "with range");
            Assert.That(a.Equals(b), Is.EqualTo(ma.SequenceEqual(mb)));
        }
    }

    private static (BlockBitmap Bitmap, bool[] Model) RandomBitmap(Random random, int blocks)
    {
        var model = new bool[blocks];
        var kind = random.Next(4);
        if (kind == 0)
        {
            Array.Fill(model, true);
            return (BlockBitmap.All(blocks), model);
        }
        var words = new ulong[BlockBitmap.WordCount(blocks)];
        for (var i = 0; i < blocks; i++)
        {
            // Runs as well as scattered bits: kind 1 sparse, kind 2 dense, kind 3 in long runs.
            model[i] = kind switch
            {
                1 => random.Next(8) == 0,
                2 => random.Next(8) != 0,
                _ => i > 0 && random.Next(10) != 0 ? model[i - 1] : random.Next(2) == 0,
            };
            if (model[i])
            {
                words[i >> 6] |= 1UL << (i & 63);
            }
        }
        return (BlockBitmap.FromWords(words, blocks), model);
    }

    private static void AssertMatches(BlockBitmap bitmap, bool[] model, string what)
    {
        var blocks = model.Length;
        Assert.That(Enumerable.Range(0, blocks).Select(bitmap.Contains), Is.EqualTo(model), what);
        Assert.That(bitmap.Count, Is.EqualTo(model.Count(x => x)), $"{what}: count");
        Assert.That(bitmap.IsAll, Is.EqualTo(model.All(x => x)), $"{what}: all");
        Assert.That(bitmap.IsEmpty, Is.EqualTo(!model.Any(x => x)), $"{what}: empty");
        Assert.That(bitmap.End, Is.EqualTo(Array.LastIndexOf(model, true) + 1), $"{what}: end");
        Assert.That(bitmap.HasBitsPastEnd, Is.False, $"{what}: no stray bits");
        var runs = new List<(int, int)>();
        for (var i = 0; i < blocks;)
        {
            var j = i;
            while (j < blocks && model[j] == model[i])
            {
                j++;
            }
            Assert.That(bitmap.RunEnd(i), Is.EqualTo(j), $"{what}: run end at {i}");
            if (model[i])
            {
                runs.Add((i, j - i));
            }
            i = j;
        }
        Assert.That(bitmap.Runs(), Is.EqualTo(runs), $"{what}: runs");
        Assert.That(BlockBitmap.FromWords(bitmap.ToWords(), blocks), Is.EqualTo(bitmap), $"{what}: stored form");
    }
}
