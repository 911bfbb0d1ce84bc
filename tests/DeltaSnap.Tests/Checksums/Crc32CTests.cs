using DeltaSnap.Checksums;
using static DeltaSnap.Tests.Checksums.ChecksumTestData;

namespace DeltaSnap.Tests.Checksums;

/// <summary>CRC-32C (Castagnoli, iSCSI): the shared CRC tests, and RFC 3720's published patterns.</summary>
internal sealed class Crc32CTests : CrcTests<Crc32CShift>
{
    private protected override int Width => 32;

    private protected override ulong Residue => 0xB798B438u;

    private protected override ulong CheckValue => 0xE3069283u;

    private protected override ChecksumAlgorithm Algorithm => ChecksumAlgorithm.Crc32C;

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

    private protected override ulong Compute(ReadOnlySpan<byte> data) => Crc32C.Compute(data);

    private protected override ulong Append(ulong crc, ReadOnlySpan<byte> data) => Crc32C.Append(checked((uint)crc), data);

    private protected override ulong Update(ulong state, ReadOnlySpan<byte> data, CrcFoldingWidth folding) => Crc32C.Update(checked((uint)state), data, folding);

    private protected override ulong UpdateScalar(ulong state, ReadOnlySpan<byte> data) => Crc32C.UpdateScalar(checked((uint)state), data);

    private protected override ulong BitwiseReference(ulong register, ReadOnlySpan<byte> data) => BitwiseCrc32C(checked((uint)register), data);

    private protected override ulong Combine(ulong first, ulong second, long secondLength) =>
        Crc32C.Combine(checked((uint)first), checked((uint)second), secondLength);

    private protected override ulong Combine(ulong first, ulong second, Crc32CShift shift) =>
        Crc32C.Combine(checked((uint)first), checked((uint)second), shift);

    private protected override Crc32CShift ShiftOperator(long length) => Crc32C.ShiftOperator(length);

    private protected override ulong MultiplyShifted(ulong a, ulong b) => Crc32C.MultiplyShifted(checked((uint)a), checked((uint)b));

    private protected override ulong MultiplyShiftedScalar(ulong a, ulong b) => Crc32C.MultiplyShiftedScalar(checked((uint)a), checked((uint)b));
}
