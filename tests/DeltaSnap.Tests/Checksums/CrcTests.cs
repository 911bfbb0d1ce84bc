using System.Buffers.Binary;
using DeltaSnap.Checksums;
using static DeltaSnap.Tests.Checksums.ChecksumTestData;

namespace DeltaSnap.Tests.Checksums;

/// <summary>
/// What every CRC of the library must do, whatever its width: agree with a bit-at-a-time reference on every length,
/// alignment and folding width, leave the catalogue residue after a codeword, append, combine and shift. Each CRC's
/// fixture derives from it and maps its operations onto <see cref="ulong"/> registers (a 32-bit CRC in the low half).
/// </summary>
/// <typeparam name="TShift">The CRC's shift operator type.</typeparam>
public abstract class CrcTests<TShift>
    where TShift : struct, IEquatable<TShift>
{
    private const int MaxOffset = 64;
    private byte[] _data = [];

    /// <summary>The CRC's width in bits: 32 or 64.</summary>
    private protected abstract int Width { get; }

    /// <summary>The catalogue's residue: the raw register after a message followed by its CRC, little-endian.</summary>
    private protected abstract ulong Residue { get; }

    /// <summary>The catalogue's check value: the CRC of the ASCII bytes <c>123456789</c>.</summary>
    private protected abstract ulong CheckValue { get; }

    /// <summary>The algorithm's <see cref="ChecksumHasher"/> name.</summary>
    private protected abstract ChecksumAlgorithm Algorithm { get; }

    private protected abstract ulong Compute(ReadOnlySpan<byte> data);

    private protected abstract ulong Append(ulong crc, ReadOnlySpan<byte> data);

    private protected abstract ulong Update(ulong state, ReadOnlySpan<byte> data, CrcFoldingWidth folding);

    private protected abstract ulong UpdateScalar(ulong state, ReadOnlySpan<byte> data);

    /// <summary>The independent reference: the definition, one bit at a time (<see cref="ChecksumTestData"/>).</summary>
    private protected abstract ulong BitwiseReference(ulong register, ReadOnlySpan<byte> data);

    private protected abstract ulong Combine(ulong first, ulong second, long secondLength);

    private protected abstract ulong Combine(ulong first, ulong second, TShift shift);

    private protected abstract TShift ShiftOperator(long length);

    private protected abstract ulong MultiplyShifted(ulong a, ulong b);

    private protected abstract ulong MultiplyShiftedScalar(ulong a, ulong b);

    private ulong Mask => Width == 64 ? ulong.MaxValue : uint.MaxValue;

    private int Bytes => Width / 8;

    // A random register of the CRC's width, its top bit set half the time.
    private ulong RandomRegister(Random random) => ((ulong)random.NextInt64() ^ ((ulong)random.Next(2) << (Width - 1))) & Mask;

    [OneTimeSetUp]
    public void CreateData() => _data = RandomBytes(MaxExhaustiveLength + MaxOffset, seed: Width);

    [Test]
    public void Compute_checkString_returnsCatalogueCheckValue() =>
        Assert.That(Compute("123456789"u8), Is.EqualTo(CheckValue));

    [Test]
    public void Compute_empty_returnsZero() =>
        Assert.That(Compute([]), Is.Zero);

    [Test]
    public void Update_validCodewordOfAnyLength_leavesCatalogueResidue([Values(0, 128, 256, 512)] int width)
    {
        // A message followed by its CRC (little-endian) leaves the register at the catalogue's residue,
        // whatever the message: an external check that reaches the folding loops on long codewords.
        var folding = RequireWidth(width);
        var random = new Random(3);
        foreach (var length in new[] { 0, 1, 7, 60, 64, 100, 255, 256, 1000, 4096, 65_537, 1 << 20 })
        {
            var codeword = new byte[length + 8];
            random.NextBytes(codeword.AsSpan(0, length));
            BinaryPrimitives.WriteUInt64LittleEndian(codeword.AsSpan(length), Compute(codeword.AsSpan(0, length)));
            Assert.That(Update(Mask, codeword.AsSpan(0, length + Bytes), folding), Is.EqualTo(Residue), $"length {length}");
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
            var data = _data.AsSpan(random.Next(MaxOffset), length);
            var state = RandomRegister(random);
            var expected = BitwiseReference(state, data);
            var actual = Update(state, data, folding);
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
        // The table path on its own, including the lengths the folding paths would take.
        var random = new Random(2);
        for (var length = 0; length <= MaxExhaustiveLength; length += 1 + random.Next(3))
        {
            var data = _data.AsSpan(random.Next(MaxOffset), length);
            Assert.That(UpdateScalar(Mask, data), Is.EqualTo(BitwiseReference(Mask, data)), $"length {length}");
        }
    }

    [Test]
    public void Update_largeBuffers_matchesBitwiseReference([Values(0, 128, 256, 512)] int width, [Values((1 << 20) + 13, (3 << 20) + 255)] int length)
    {
        var folding = RequireWidth(width);
        var data = RandomBytes(length + 7, seed: length);
        Assert.That(Update(Mask, data.AsSpan(7), folding), Is.EqualTo(BitwiseReference(Mask, data.AsSpan(7))));
    }

    [Test]
    public void Append_splitAnywhere_equalsComputeOfWhole()
    {
        var random = new Random(5);
        for (var i = 0; i < 500; i++)
        {
            var data = _data.AsSpan(random.Next(MaxOffset), random.Next(MaxExhaustiveLength));
            var split = random.Next(data.Length + 1);
            var crc = Append(Compute(data[..split]), data[split..]);
            Assert.That(crc, Is.EqualTo(Compute(data)), $"length {data.Length}, split {split}");
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
            var first = Compute(whole[..split]);
            var second = Compute(whole[split..]);
            var expected = Compute(whole);
            Assert.That(Combine(first, second, length - split), Is.EqualTo(expected), $"length {length}, split {split}");
            Assert.That(Combine(first, second, ShiftOperator(length - split)), Is.EqualTo(expected));
        }
    }

    [Test]
    public void Combine_clustersWithOneShiftOperator_equalsComputeOfWhole()
    {
        // The per-cluster use: one operator for the cluster size, folded over every cluster in order.
        const int ClusterSize = 4096;
        var data = RandomBytes(64 * ClusterSize, seed: 13);
        var shift = ShiftOperator(ClusterSize);
        var crc = 0UL;
        for (var offset = 0; offset < data.Length; offset += ClusterSize)
        {
            crc = Combine(crc, Compute(data.AsSpan(offset, ClusterSize)), shift);
        }
        Assert.That(crc, Is.EqualTo(Compute(data)));
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
            var x = RandomRegister(random);
            var stepwise = Combine(Combine(x, 0, ShiftOperator(a)), 0, ShiftOperator(b));
            Assert.That(stepwise, Is.EqualTo(Combine(x, 0, ShiftOperator(a + b))), $"{a} + {b}");
        }
    }

    [Test]
    public void ShiftOperator_zeroLength_equalsDefaultAndKeepsFirstCrc()
    {
        var crc = 0x0123456789ABCDEFUL & Mask;
        Assert.That(ShiftOperator(0), Is.EqualTo(default(TShift)));
        Assert.That(Combine(crc, 0, default(TShift)), Is.EqualTo(crc));
    }

    [Test]
    public void ShiftOperator_negativeLength_throws() =>
        Assert.That(() => ShiftOperator(-1), Throws.TypeOf<ArgumentOutOfRangeException>());

    [Test]
    public void MultiplyShifted_carrylessAndBitwise_agree()
    {
        var random = new Random(19);
        for (var i = 0; i < 2000; i++)
        {
            var a = RandomRegister(random);
            var b = RandomRegister(random);
            Assert.That(MultiplyShifted(a, b), Is.EqualTo(MultiplyShiftedScalar(a, b)), $"{a:X16} * {b:X16}");
        }
    }

    [Test]
    public void Hasher_randomPieces_equalsBigEndianOneShot()
    {
        var random = new Random(23);
        var data = RandomBytes(1 << 20, seed: 24);
        var hasher = ChecksumHasher.Create(Algorithm);
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
            var digest = hasher.GetCurrentHash();
            Assert.That(digest, Has.Length.EqualTo(Bytes));
            Assert.That(Width == 64 ? BinaryPrimitives.ReadUInt64BigEndian(digest) : BinaryPrimitives.ReadUInt32BigEndian(digest),
                Is.EqualTo(Compute(data.AsSpan(0, length))));
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
