using DeltaSnap.Checksums;
using static DeltaSnap.Tests.Checksums.ChecksumTestData;

namespace DeltaSnap.Tests.Checksums;

/// <summary>
/// XXH3 properties that need no external tool: published values, agreement of the scalar and vector
/// accumulators, and incremental hashing equal to one-shot for every split. <see cref="Xxh3ReferenceTests"/>
/// compares against xxhsum.
/// </summary>
public class Xxh3Tests
{
    private static readonly byte[] Data = RandomBytes(MaxExhaustiveLength + 64, seed: 33);

    [Test]
    public void Hash64_emptyInput_returnsPublishedValue() =>
        Assert.That(Xxh3.Hash64([]), Is.EqualTo(0x2D06800538D394C2UL));

    [Test]
    public void Hash128_emptyInput_returnsPublishedValue() =>
        Assert.That(Xxh3.Hash128([]), Is.EqualTo(new UInt128(0x99AA06D3014798D8UL, 0x6001C324468D497FUL)));

    [Test]
    public void Hash_everyLength_vectorAccumulatorsMatchScalar([Values(1, 2)] int vectorization)
    {
        var implementation = RequireVectorization(vectorization);
        var random = new Random(vectorization);
        var mismatches = new List<int>();
        var lengths = Enumerable.Range(0, MaxExhaustiveLength + 1).Append((1 << 20) + 13);
        var large = RandomBytes((1 << 20) + 64, seed: 34);
        foreach (var length in lengths)
        {
            var source = length <= MaxExhaustiveLength ? Data : large;
            var data = source.AsSpan(random.Next(64), length);
            if (Xxh3.Hash64(data, implementation) != Xxh3.Hash64(data, Xxh3Vectorization.Scalar)
                || Xxh3.Hash128(data, implementation) != Xxh3.Hash128(data, Xxh3Vectorization.Scalar))
            {
                mismatches.Add(length);
            }
        }
        Assert.That(mismatches, Is.Empty);
    }

    [Test]
    public void Hasher_everySplitPoint_equalsOneShot([Values(0, 1, 2)] int vectorization)
    {
        // Every split of every length up to 600 (all short classes, the 256-byte buffer edge, the first stripes)
        // and of lengths around the 1 KiB block edges, where stripes, blocks and the kept last stripe interact.
        var implementation = RequireVectorization(vectorization);
        var lengths = Enumerable.Range(0, 601).Concat(Enumerable.Range(1020, 72)).Concat(Enumerable.Range(2044, 8));
        var hasher64 = new Xxh3Hasher(implementation);
        var hasher128 = new Xxh128Hasher(implementation);
        var mismatches = new List<string>();
        foreach (var length in lengths)
        {
            var data = Data.AsSpan(0, length);
            var expected64 = ChecksumHasher.Hash(ChecksumAlgorithm.Xxh3, data);
            var expected128 = ChecksumHasher.Hash(ChecksumAlgorithm.Xxh128, data);
            for (var split = 0; split <= length; split++)
            {
                hasher64.Reset();
                hasher128.Reset();
                hasher64.Append(data[..split]);
                hasher64.Append(data[split..]);
                hasher128.Append(data[..split]);
                hasher128.Append(data[split..]);
                if (!hasher64.GetCurrentHash().AsSpan().SequenceEqual(expected64) || !hasher128.GetCurrentHash().AsSpan().SequenceEqual(expected128))
                {
                    mismatches.Add($"length {length}, split {split}");
                }
            }
        }
        Assert.That(mismatches, Is.Empty);
    }

    [Test]
    public void Hasher_digestAfterEveryPiece_equalsOneShotOfPrefix([Values(ChecksumAlgorithm.Xxh3, ChecksumAlgorithm.Xxh128)] ChecksumAlgorithm algorithm)
    {
        // GetCurrentHash keeps the state: hashing can go on after each digest.
        var random = new Random(35);
        var data = RandomBytes(3 << 20, seed: 36);
        var hasher = ChecksumHasher.Create(algorithm);
        for (var round = 0; round < 20; round++)
        {
            hasher.Reset();
            var offset = 0;
            foreach (var piece in RandomPieces(random, random.Next(data.Length)))
            {
                hasher.Append(data.AsSpan(offset, piece));
                offset += piece;
                Assert.That(hasher.GetCurrentHash(), Is.EqualTo(ChecksumHasher.Hash(algorithm, data.AsSpan(0, offset))), $"after {offset} bytes");
            }
        }
    }

    [Test]
    public void Hasher_bytewiseAppends_equalsOneShot([Values(ChecksumAlgorithm.Xxh3, ChecksumAlgorithm.Xxh128)] ChecksumAlgorithm algorithm)
    {
        var hasher = ChecksumHasher.Create(algorithm);
        foreach (var b in Data.AsSpan(0, 2500))
        {
            hasher.Append([b]);
        }
        Assert.That(hasher.GetCurrentHash(), Is.EqualTo(ChecksumHasher.Hash(algorithm, Data.AsSpan(0, 2500))));
    }

    [Test]
    public void XxhsumParse_bothOutputStyles_readsNameAndDigest()
    {
        // xxhsum 0.8.1 prints BSD-style XXH3 lines and GNU-style XXH128 lines; 0.8.2 prints GNU-style "XXH3_<hex>" lines.
        var digests = XxhsumReference.Parse(
            "XXH3 (a b.bin) = 2d06800538d394c2\n99aa06d3014798d86001c324468d497f  c.bin\nXXH3_2d06800538d394c2  d.bin\n");
        Assert.That(digests, Is.EqualTo(new Dictionary<string, string>
        {
            ["a b.bin"] = "2d06800538d394c2",
            ["c.bin"] = "99aa06d3014798d86001c324468d497f",
            ["d.bin"] = "2d06800538d394c2",
        }));
    }

    /// <summary>The accumulator for <paramref name="vectorization"/>; ignores the test when this CPU cannot run it.</summary>
    internal static Xxh3Vectorization RequireVectorization(int vectorization)
    {
        var implementation = (Xxh3Vectorization)vectorization;
        var supported = implementation switch
        {
            Xxh3Vectorization.Vector512 => Xxh3Vector512Accumulator.IsSupported,
            Xxh3Vectorization.Vector256 => Xxh3Vector256Accumulator.IsSupported,
            _ => true,
        };
        if (!supported)
        {
            Assert.Ignore($"This CPU cannot run the {implementation} XXH3 accumulator; the others still run.");
        }
        return implementation;
    }
}
