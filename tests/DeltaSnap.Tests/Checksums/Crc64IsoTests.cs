using DeltaSnap.Checksums;
using static DeltaSnap.Tests.Checksums.ChecksumTestData;

namespace DeltaSnap.Tests.Checksums;

/// <summary>CRC-64/ISO (Longhorn's checksum): the shared CRC tests.</summary>
internal sealed class Crc64IsoTests : CrcTests<Crc64Shift>
{
    private protected override int Width => 64;

    // CRC-64/GO-ISO's residue in the CRC catalogue.
    private protected override ulong Residue => 0x5300000000000000UL;

    private protected override ulong CheckValue => 0xB90956C775A41001UL;

    private protected override ChecksumAlgorithm Algorithm => ChecksumAlgorithm.Crc64Iso;

    private protected override ulong Compute(ReadOnlySpan<byte> data) => Crc64Iso.Compute(data);

    private protected override ulong Append(ulong crc, ReadOnlySpan<byte> data) => Crc64Iso.Append(crc, data);

    private protected override ulong Update(ulong state, ReadOnlySpan<byte> data, CrcFoldingWidth folding) => Crc64Iso.Update(state, data, folding);

    private protected override ulong UpdateScalar(ulong state, ReadOnlySpan<byte> data) => Crc64Iso.UpdateScalar(state, data);

    private protected override ulong BitwiseReference(ulong register, ReadOnlySpan<byte> data) => BitwiseCrc64Iso(register, data);

    private protected override ulong Combine(ulong first, ulong second, long secondLength) => Crc64Iso.Combine(first, second, secondLength);

    private protected override ulong Combine(ulong first, ulong second, Crc64Shift shift) => Crc64Iso.Combine(first, second, shift);

    private protected override Crc64Shift ShiftOperator(long length) => Crc64Iso.ShiftOperator(length);

    private protected override ulong MultiplyShifted(ulong a, ulong b) => Crc64Iso.MultiplyShifted(a, b);

    private protected override ulong MultiplyShiftedScalar(ulong a, ulong b) => Crc64Iso.MultiplyShiftedScalar(a, b);
}
