using System.Buffers.Binary;

namespace DeltaSnap.Checksums;

/// <summary>
/// CRC-64/ISO (polynomial 0x1B reflected as 0xD800000000000000, init and xorout all ones): Longhorn's
/// checksum. Check value of "123456789" is 0xB90956C775A41001.
/// </summary>
public static class Crc64Iso
{
    private const ulong ReflectedPolynomial = 0xD800000000000000UL;
    private static readonly ulong[] Table = BuildTable();

    /// <summary>The CRC-64/ISO of <paramref name="data"/>.</summary>
    public static ulong Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues <paramref name="crc"/> (a finished CRC of earlier bytes, 0 for none) over <paramref name="data"/>: Longhorn's chaining.</summary>
    public static ulong Append(ulong crc, ReadOnlySpan<byte> data)
    {
        var state = ~crc;
        foreach (var b in data)
        {
            state = Table[(byte)(state ^ b)] ^ (state >> 8);
        }
        return ~state;
    }

    private static ulong[] BuildTable()
    {
        var table = new ulong[256];
        for (var i = 0; i < 256; i++)
        {
            var c = (ulong)i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ ReflectedPolynomial : c >> 1;
            }
            table[i] = c;
        }
        return table;
    }
}

/// <summary>Incremental CRC-64/ISO.</summary>
internal sealed class Crc64IsoHasher : ChecksumHasher
{
    private ulong _crc;

    public Crc64IsoHasher()
        : base(ChecksumAlgorithm.Crc64Iso)
    {
    }

    protected override void AppendCore(ReadOnlySpan<byte> data) => _crc = Crc64Iso.Append(_crc, data);

    protected override void ResetCore() => _crc = 0;

    protected override void GetCurrentHashCore(Span<byte> destination) => BinaryPrimitives.WriteUInt64BigEndian(destination, _crc);
}
