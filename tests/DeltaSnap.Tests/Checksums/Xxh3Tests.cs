using DeltaSnap.Checksums;
using static DeltaSnap.Tests.Checksums.ChecksumTestData;

namespace DeltaSnap.Tests.Checksums;

/// <summary>
/// XXH3 through <see cref="ChecksumHasher"/> (System.IO.Hashing underneath) without an external tool: published
/// values, the byte order of the digests (part of the checksum-map and delta-stream formats), and incremental hashing
/// equal to one-shot for every split. <see cref="Xxh3ReferenceTests"/> compares against xxhsum.
/// </summary>
public class Xxh3Tests
{
    private static readonly byte[] Data = RandomBytes(MaxExhaustiveLength + 64, seed: 33);

    [Test]
    public void Hash64_emptyInput_returnsPublishedValue() =>
        Assert.That(Convert.ToHexStringLower(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh3, [])), Is.EqualTo("2d06800538d394c2"));

    [Test]
    public void Hash128_emptyInput_returnsPublishedValue() =>
        Assert.That(Convert.ToHexStringLower(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh128, [])), Is.EqualTo("99aa06d3014798d86001c324468d497f"));

    [Test]
    public void Hash128_anyInput_writesHighHalfFirstEachBigEndian()
    {
        // The stored maps and delta streams hold XXH128 as xxhsum prints it: high 64 bits, then low 64 bits, each
        // big-endian. Pinned here against the numeric value, independently of the package's own byte writer.
        var data = Data.AsSpan(0, 1000);
        var value = System.IO.Hashing.XxHash128.HashToUInt128(data);
        var expected = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(expected, (ulong)(value >> 64));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(expected.AsSpan(8), (ulong)value);
        Assert.That(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh128, data), Is.EqualTo(expected));
        Assert.That(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh128, data), Is.EqualTo(System.IO.Hashing.XxHash128.Hash(data)));
    }

    [Test]
    public void Hash64_anyInput_writesBigEndian()
    {
        var data = Data.AsSpan(0, 1000);
        var expected = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(expected, System.IO.Hashing.XxHash3.HashToUInt64(data));
        Assert.That(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh3, data), Is.EqualTo(expected));
    }

    [Test]
    public void Hasher_everySplitPoint_equalsOneShot()
    {
        // Every split of every length up to 600 (all short classes, the 256-byte buffer edge, the first stripes)
        // and of lengths around the 1 KiB block edges, where stripes, blocks and the kept last stripe interact.
        var lengths = Enumerable.Range(0, 601).Concat(Enumerable.Range(1020, 72)).Concat(Enumerable.Range(2044, 8));
        var hasher64 = ChecksumHasher.Create(ChecksumAlgorithm.Xxh3);
        var hasher128 = ChecksumHasher.Create(ChecksumAlgorithm.Xxh128);
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
}
