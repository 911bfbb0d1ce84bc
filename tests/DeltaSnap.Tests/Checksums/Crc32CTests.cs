using System.Buffers.Binary;
using DeltaSnap.Checksums;
using static DeltaSnap.Tests.Checksums.ChecksumTestData;

namespace DeltaSnap.Tests.Checksums;

public class Crc32CTests
{
    private const int MaxOffset = 64;
    private static readonly byte[] Data = RandomBytes(MaxExhaustiveLength + MaxOffset, seed: 32);

    [Test]
    public void Compute_checkString_returnsCatalogueCheckValue() =>
        Assert.That(Crc32C.Compute("123456789"u8), Is.EqualTo(0xE3069283u));

    [Test]
    public void Compute_empty_returnsZero() =>
        Assert.That(Crc32C.Compute([]), Is.Zero);

    // RFC 3720 (iSCSI), appendix B.4: the published CRC-32C test patterns.
    [TestCase("zeros", 0x8A9136AAu)]
    [TestCase("ones", 0x62A8AB43u)]
    [TestCase("incrementing", 0x46DD794Eu)]
    [TestCase("decrementing", 0x113FDB5Cu)]
    public void Compute_rfc3720Pattern_returnsPublishedValue(string pattern, uint expected)
    {
        var data = new byte[32];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = pattern switch
            {
                "zeros" => 0,
                "ones" => 0xFF,
                "incrementing" => (byte)i,
                _ => (byte)(31 - i),
            };
        }
        Assert.That(Crc32C.Compute(data), Is.EqualTo(expected));
    }

    [Test]
    public void Update_validCodewordOfAnyLength_leavesCatalogueResidue([Values(0, 128, 256, 512)] int width)
    {
        // A message followed by its CRC (little-endian) leaves the register at the catalogue's residue,
        // whatever the message: an external check that reaches the folding loops on long codewords.
        var folding = RequireWidth(width);
        var random = new Random(3);
        foreach (var length in new[] { 0, 1, 7, 60, 64, 100, 255, 256, 1000, 4096, 65_537, 1 << 20 })
        {
            var codeword = new byte[length + 4];
            random.NextBytes(codeword.AsSpan(0, length));
            BinaryPrimitives.WriteUInt32LittleEndian(codeword.AsSpan(length), Crc32C.Compute(codeword.AsSpan(0, length)));
            Assert.That(Crc32C.Update(~0u, codeword, folding), Is.EqualTo(0xB798B438u), $"length {length}");
        }
    }

    [Test]
    public void Update_everyLengthAndAlignment_matchesBitwiseReference([Values(0, 128, 256, 512)] int width)
    {
        var folding = RequireWidth(width);
        var random = new Random(width);
        var mismatches = new List<string>();
        for (var length = 0; length <= MaxExhaustiveLength; length++)
        {
            var data = Data.AsSpan(random.Next(MaxOffset), length);
            var state = (uint)random.Next() ^ ((uint)random.Next(2) << 31);
            var expected = BitwiseCrc32C(state, data);
            var actual = Crc32C.Update(state, data, folding);
            if (actual != expected)
            {
                mismatches.Add($"length {length}: {actual:X8} != {expected:X8}");
            }
        }
        Assert.That(mismatches, Is.Empty);
    }

    [Test]
    public void Update_largeBuffers_matchesBitwiseReference([Values(0, 128, 256, 512)] int width, [Values((1 << 20) + 13, (3 << 20) + 255)] int length)
    {
        var folding = RequireWidth(width);
        var data = RandomBytes(length + 7, seed: length);
        Assert.That(Crc32C.Update(~0u, data.AsSpan(7), folding), Is.EqualTo(BitwiseCrc32C(~0u, data.AsSpan(7))));
    }

    [Test]
    public void Append_splitAnywhere_equalsComputeOfWhole()
    {
        var random = new Random(5);
        for (var i = 0; i < 500; i++)
        {
            var data = Data.AsSpan(random.Next(MaxOffset), random.Next(MaxExhaustiveLength));
            var split = random.Next(data.Length + 1);
            var crc = Crc32C.Append(Crc32C.Compute(data[..split]), data[split..]);
            Assert.That(crc, Is.EqualTo(Crc32C.Compute(data)), $"length {data.Length}, split {split}");
        }
    }

    [Test]
    public void Combine_randomSplits_equalsComputeOfWhole()
    {
        var random = new Random(11);
        var data = RandomBytes(300_000, seed: 12);
        for (var i = 0; i < 400; i++)
        {
            var length = i < 200 ? random.Next(300) : random.Next(data.Length);
            var whole = data.AsSpan(random.Next(data.Length - length + 1), length);
            var split = random.Next(length + 1);
            var first = Crc32C.Compute(whole[..split]);
            var second = Crc32C.Compute(whole[split..]);
            var expected = Crc32C.Compute(whole);
            Assert.That(Crc32C.Combine(first, second, length - split), Is.EqualTo(expected), $"length {length}, split {split}");
            Assert.That(Crc32C.Combine(first, second, Crc32C.ShiftOperator(length - split)), Is.EqualTo(expected));
        }
    }

    [Test]
    public void Combine_clustersWithOneShiftOperator_equalsComputeOfWhole()
    {
        // The per-cluster use: one operator for the cluster size, folded over every cluster in order.
        const int ClusterSize = 4096;
        var data = RandomBytes(64 * ClusterSize, seed: 13);
        var shift = Crc32C.ShiftOperator(ClusterSize);
        var crc = 0u;
        for (var offset = 0; offset < data.Length; offset += ClusterSize)
        {
            crc = Crc32C.Combine(crc, Crc32C.Compute(data.AsSpan(offset, ClusterSize)), shift);
        }
        Assert.That(crc, Is.EqualTo(Crc32C.Compute(data)));
    }

    [Test]
    public void ShiftOperator_hugeLengths_composeLikeAddition()
    {
        // Combine(x, 0, shift(n)) moves x over n zero bytes; moving over a then b equals moving over a + b.
        var random = new Random(17);
        for (var i = 0; i < 200; i++)
        {
            var a = random.NextInt64(long.MaxValue / 2);
            var b = random.NextInt64(long.MaxValue / 2);
            var x = (uint)random.Next();
            var stepwise = Crc32C.Combine(Crc32C.Combine(x, 0, Crc32C.ShiftOperator(a)), 0, Crc32C.ShiftOperator(b));
            Assert.That(stepwise, Is.EqualTo(Crc32C.Combine(x, 0, Crc32C.ShiftOperator(a + b))), $"{a} + {b}");
        }
    }

    [Test]
    public void ShiftOperator_zeroLength_equalsDefaultAndKeepsFirstCrc()
    {
        Assert.That(Crc32C.ShiftOperator(0), Is.EqualTo(default(Crc32CShift)));
        Assert.That(Crc32C.Combine(0x12345678u, 0, default(Crc32CShift)), Is.EqualTo(0x12345678u));
    }

    [Test]
    public void ShiftOperator_negativeLength_throws() =>
        Assert.That(() => Crc32C.ShiftOperator(-1), Throws.TypeOf<ArgumentOutOfRangeException>());

    [Test]
    public void MultiplyShifted_carrylessAndBitwise_agree()
    {
        var random = new Random(19);
        for (var i = 0; i < 2000; i++)
        {
            var a = (uint)random.NextInt64(1L << 32);
            var b = (uint)random.NextInt64(1L << 32);
            Assert.That(Crc32C.MultiplyShifted(a, b), Is.EqualTo(Crc32C.MultiplyShiftedScalar(a, b)), $"{a:X8} * {b:X8}");
        }
    }

    [Test]
    public void Hasher_randomPieces_equalsBigEndianOneShot()
    {
        var random = new Random(23);
        var data = RandomBytes(1 << 20, seed: 24);
        var hasher = ChecksumHasher.Create(ChecksumAlgorithm.Crc32C);
        for (var i = 0; i < 50; i++)
        {
            hasher.Reset();
            var length = random.Next(data.Length);
            var offset = 0;
            foreach (var piece in RandomPieces(random, length))
            {
                hasher.Append(data.AsSpan(offset, piece));
                offset += piece;
            }
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(hasher.GetCurrentHash()), Is.EqualTo(Crc32C.Compute(data.AsSpan(0, length))));
        }
    }

    private static CrcFoldingWidth RequireWidth(int width)
    {
        var folding = (CrcFoldingWidth)width;
        if (!CrcFolding.IsSupported(folding))
        {
            Assert.Ignore($"This CPU cannot run {folding} carry-less folding; the other widths still run.");
        }
        return folding;
    }
}
