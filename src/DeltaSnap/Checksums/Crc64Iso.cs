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

    /// <summary>The CRC of A followed by B, from the CRC of A, the CRC of B and the length of B (zlib's method).</summary>
    public static ulong Combine(ulong crc1, ulong crc2, long length2)
    {
        if (length2 <= 0)
        {
            return crc1;
        }
        var even = new ulong[64];
        var odd = new ulong[64];
        odd[0] = ReflectedPolynomial;
        ulong row = 1;
        for (var n = 1; n < 64; n++)
        {
            odd[n] = row;
            row <<= 1;
        }
        Square(even, odd);
        Square(odd, even);
        do
        {
            Square(even, odd);
            if ((length2 & 1) != 0)
            {
                crc1 = Times(even, crc1);
            }
            length2 >>= 1;
            if (length2 == 0)
            {
                break;
            }
            Square(odd, even);
            if ((length2 & 1) != 0)
            {
                crc1 = Times(odd, crc1);
            }
            length2 >>= 1;
        }
        while (length2 != 0);
        return crc1 ^ crc2;

        static ulong Times(ulong[] matrix, ulong vector)
        {
            ulong sum = 0;
            for (var i = 0; vector != 0; i++, vector >>= 1)
            {
                if ((vector & 1) != 0)
                {
                    sum ^= matrix[i];
                }
            }
            return sum;
        }

        static void Square(ulong[] square, ulong[] matrix)
        {
            for (var n = 0; n < 64; n++)
            {
                square[n] = Times(matrix, matrix[n]);
            }
        }
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
