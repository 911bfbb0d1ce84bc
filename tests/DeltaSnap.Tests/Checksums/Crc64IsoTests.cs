using System.Buffers.Binary;
using DeltaSnap.Checksums;
using static DeltaSnap.Tests.Checksums.ChecksumTestData;

namespace DeltaSnap.Tests.Checksums;

public class Crc64IsoTests
{
    private const int MaxOffset = 64;
    private static readonly byte[] Data = RandomBytes(MaxExhaustiveLength + MaxOffset, seed: 64);

    [Test]
    public void Compute_checkString_returnsCatalogueCheckValue() =>
        Assert.That(Crc64Iso.Compute("123456789"u8), Is.EqualTo(0xB90956C775A41001UL));

    [Test]
    public void Compute_empty_returnsZero() =>
        Assert.That(Crc64Iso.Compute([]), Is.Zero);

    [Test]
    public void Update_validCodewordOfAnyLength_leavesCatalogueResidue([Values(0, 128, 256, 512)] int width)
    {
        // CRC-64/GO-ISO's residue in the CRC catalogue is 0x5300000000000000: a message followed by its CRC
        // (little-endian) leaves it in the register whatever the message, also on the folding paths.
        var folding = RequireWidth(width);
        var random = new Random(3);
        foreach (var length in new[] { 0, 1, 7, 60, 64, 100, 255, 256, 1000, 4096, 65_537, 1 << 20 })
        {
            var codeword = new byte[length + 8];
            random.NextBytes(codeword.AsSpan(0, length));
            BinaryPrimitives.WriteUInt64LittleEndian(codeword.AsSpan(length), Crc64Iso.Compute(codeword.AsSpan(0, length)));
            Assert.That(Crc64Iso.Update(ulong.MaxValue, codeword, folding), Is.EqualTo(0x5300000000000000UL), $"length {length}");
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
            var state = (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63);
            var expected = BitwiseCrc64Iso(state, data);
            var actual = Crc64Iso.Update(state, data, folding);
            if (actual != expected)
            {
                mismatches.Add($"length {length}: {actual:X16} != {expected:X16}");
            }
        }
        Assert.That(mismatches, Is.Empty);
    }

    [Test]
    public void UpdateScalar_everyLength_matchesBitwiseReference()
    {
        // The slice-by-8 table path on its own, including the lengths the folding paths would take.
        var random = new Random(2);
        for (var length = 0; length <= MaxExhaustiveLength; length += 1 + random.Next(3))
        {
            var data = Data.AsSpan(random.Next(MaxOffset), length);
            Assert.That(Crc64Iso.UpdateScalar(ulong.MaxValue, data), Is.EqualTo(BitwiseCrc64Iso(ulong.MaxValue, data)), $"length {length}");
        }
    }

    [Test]
    public void Update_largeBuffers_matchesBitwiseReference([Values(0, 128, 256, 512)] int width, [Values((1 << 20) + 13, (3 << 20) + 255)] int length)
    {
        var folding = RequireWidth(width);
        var data = RandomBytes(length + 7, seed: length);
        Assert.That(Crc64Iso.Update(ulong.MaxValue, data.AsSpan(7), folding), Is.EqualTo(BitwiseCrc64Iso(ulong.MaxValue, data.AsSpan(7))));
    }

    [Test]
    public void Append_splitAnywhere_equalsComputeOfWhole()
    {
        var random = new Random(5);
        for (var i = 0; i < 500; i++)
        {
            var data = Data.AsSpan(random.Next(MaxOffset), random.Next(MaxExhaustiveLength));
            var split = random.Next(data.Length + 1);
            var crc = Crc64Iso.Append(Crc64Iso.Compute(data[..split]), data[split..]);
            Assert.That(crc, Is.EqualTo(Crc64Iso.Compute(data)), $"length {data.Length}, split {split}");
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
            var first = Crc64Iso.Compute(whole[..split]);
            var second = Crc64Iso.Compute(whole[split..]);
            var expected = Crc64Iso.Compute(whole);
            Assert.That(Crc64Iso.Combine(first, second, length - split), Is.EqualTo(expected), $"length {length}, split {split}");
            Assert.That(Crc64Iso.Combine(first, second, Crc64Iso.ShiftOperator(length - split)), Is.EqualTo(expected));
        }
    }

    [Test]
    public void Combine_clustersWithOneShiftOperator_equalsComputeOfWhole()
    {
        // The per-cluster use: one operator for the cluster size, folded over every cluster in order.
        const int ClusterSize = 4096;
        var data = RandomBytes(64 * ClusterSize, seed: 13);
        var shift = Crc64Iso.ShiftOperator(ClusterSize);
        var crc = 0UL;
        for (var offset = 0; offset < data.Length; offset += ClusterSize)
        {
            crc = Crc64Iso.Combine(crc, Crc64Iso.Compute(data.AsSpan(offset, ClusterSize)), shift);
        }
        Assert.That(crc, Is.EqualTo(Crc64Iso.Compute(data)));
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
            var x = (ulong)random.NextInt64();
            var stepwise = Crc64Iso.Combine(Crc64Iso.Combine(x, 0, Crc64Iso.ShiftOperator(a)), 0, Crc64Iso.ShiftOperator(b));
            Assert.That(stepwise, Is.EqualTo(Crc64Iso.Combine(x, 0, Crc64Iso.ShiftOperator(a + b))), $"{a} + {b}");
        }
    }

    [Test]
    public void ShiftOperator_zeroLength_equalsDefaultAndKeepsFirstCrc()
    {
        Assert.That(Crc64Iso.ShiftOperator(0), Is.EqualTo(default(Crc64Shift)));
        Assert.That(Crc64Iso.Combine(0x0123456789ABCDEFUL, 0, default(Crc64Shift)), Is.EqualTo(0x0123456789ABCDEFUL));
    }

    [Test]
    public void ShiftOperator_negativeLength_throws() =>
        Assert.That(() => Crc64Iso.ShiftOperator(-1), Throws.TypeOf<ArgumentOutOfRangeException>());

    [Test]
    public void MultiplyShifted_carrylessAndBitwise_agree()
    {
        var random = new Random(19);
        for (var i = 0; i < 2000; i++)
        {
            var a = (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63);
            var b = (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63);
            Assert.That(Crc64Iso.MultiplyShifted(a, b), Is.EqualTo(Crc64Iso.MultiplyShiftedScalar(a, b)), $"{a:X16} * {b:X16}");
        }
    }

    [Test]
    public void Hasher_randomPieces_equalsBigEndianOneShot()
    {
        var random = new Random(23);
        var data = RandomBytes(1 << 20, seed: 24);
        var hasher = ChecksumHasher.Create(ChecksumAlgorithm.Crc64Iso);
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
            Assert.That(BinaryPrimitives.ReadUInt64BigEndian(hasher.GetCurrentHash()), Is.EqualTo(Crc64Iso.Compute(data.AsSpan(0, length))));
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
