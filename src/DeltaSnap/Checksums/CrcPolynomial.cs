using System.Buffers.Binary;

namespace DeltaSnap.Checksums;

/// <summary>
/// A CRC generator polynomial P(x) = x^<see cref="Width"/> + <see cref="Low"/>(x), with the arithmetic in
/// GF(2)[x] mod P that carry-less folding and CRC combining are built on.
/// </summary>
/// <remarks>
/// <para>
/// Everything here is plain bit-by-bit arithmetic, run once at startup to derive constants (so no magic
/// number has to be trusted) and as the portable fallback. Two representations of a polynomial of degree
/// below 64 appear:
/// </para>
/// <list type="bullet">
/// <item><description><em>normal</em>: bit j is the coefficient of x^j. <see cref="Multiply"/> and
/// <see cref="Power"/> work in this form.</description></item>
/// <item><description><em>reflected</em>: the bit order of a reflected CRC, in which the first bit of the
/// message (bit 0 of byte 0) is the highest power. A CRC register of width W holds a polynomial with bit i
/// the coefficient of x^(W-1-i) (<see cref="ToRegister"/>); a 64-bit operand of PCLMULQDQ holds it with bit i
/// the coefficient of x^(63-i) (<see cref="ToReflected64"/>).</description></item>
/// </list>
/// <para>
/// The CRC register after a message M (from state 0, no final xor) is M(x)·x^W mod P, where M's first bit
/// is its highest coefficient. Everything the folding and combining code does follows from that line.
/// </para>
/// </remarks>
internal sealed class CrcPolynomial
{
    /// <summary>CRC-32C (Castagnoli): x^32 + 0x1EDC6F41; 0x82F63B78 reflected.</summary>
    public static readonly CrcPolynomial Castagnoli = new(32, 0x1EDC6F41);

    /// <summary>CRC-64/ISO (ISO 3309 / GO-ISO): x^64 + x^4 + x^3 + x + 1; 0xD800000000000000 reflected.</summary>
    public static readonly CrcPolynomial Iso = new(64, 0x1B);

    private readonly ulong _topBit;
    private readonly ulong _mask;

    public CrcPolynomial(int width, ulong low)
    {
        if (width is < 2 or > 64)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(width), width, "A CRC width is between 2 and 64 bits.");
        }
        if ((low & 1) == 0)
        {
            // Needed for x to be invertible mod P (see XInverse); every CRC polynomial in use has it.
            ThrowHelper.ThrowArgument(nameof(low), "The polynomial must have a constant term.");
        }
        Width = width;
        _mask = width == 64 ? ulong.MaxValue : (1UL << width) - 1;
        _topBit = 1UL << (width - 1);
        Low = low & _mask;
    }

    /// <summary>The degree W of P, i.e. the CRC width in bits.</summary>
    public int Width { get; }

    /// <summary>P without its x^W term, in normal form (the "polynomial" of CRC catalogues).</summary>
    public ulong Low { get; }

    /// <summary>P without its x^W term in register (reflected) form: what a table-driven reflected CRC shifts in.</summary>
    public ulong ReflectedLow => ToRegister(Low);

    /// <summary>x^-1 mod P in normal form: x · (x^(W-1) + Low/x) = x^W + Low + 1 ≡ 1, since Low has a constant term.</summary>
    public ulong XInverse => _topBit | (Low >> 1);

    /// <summary>a·x mod P (normal form).</summary>
    public ulong MultiplyByX(ulong a) => (a & _topBit) != 0 ? ((a << 1) & _mask) ^ Low : a << 1;

    /// <summary>a·b mod P (normal form), by Horner's rule over the bits of <paramref name="a"/>: W steps.</summary>
    public ulong Multiply(ulong a, ulong b)
    {
        var product = 0UL;
        for (var bit = Width - 1; bit >= 0; bit--)
        {
            product = MultiplyByX(product);
            if (((a >> bit) & 1) != 0)
            {
                product ^= b;
            }
        }
        return product;
    }

    /// <summary>x^<paramref name="exponent"/> mod P (normal form) by square-and-multiply; negative exponents use x^-1.</summary>
    public ulong Power(long exponent)
    {
        var factor = exponent >= 0 ? 2UL : XInverse; // 2UL is the polynomial x
        var remaining = exponent >= 0 ? (ulong)exponent : (ulong)-exponent;
        var result = 1UL;
        while (remaining != 0)
        {
            if ((remaining & 1) != 0)
            {
                result = Multiply(result, factor);
            }
            factor = Multiply(factor, factor);
            remaining >>= 1;
        }
        return result;
    }

    /// <summary>Normal form → CRC register form (bit i is the coefficient of x^(W-1-i)).</summary>
    public ulong ToRegister(ulong normal) => ReverseBits(normal) >> (64 - Width);

    /// <summary>CRC register form → normal form.</summary>
    public ulong FromRegister(ulong register) => ReverseBits(register << (64 - Width));

    /// <summary>Normal form → 64-bit reflected form (bit i is the coefficient of x^(63-i)), the PCLMULQDQ operand layout.</summary>
    public static ulong ToReflected64(ulong normal) => ReverseBits(normal);

    /// <summary>The byte-at-a-time table of the reflected CRC: entry b is the register after the byte b from state 0.</summary>
    public ulong[] BuildByteTable()
    {
        var table = new ulong[256];
        var reflected = ReflectedLow;
        for (var b = 0; b < 256; b++)
        {
            var register = (ulong)b;
            for (var k = 0; k < 8; k++)
            {
                register = (register & 1) != 0 ? (register >> 1) ^ reflected : register >> 1;
            }
            table[b] = register;
        }
        return table;
    }

    private static ulong ReverseBits(ulong value)
    {
        value = ((value >> 1) & 0x5555555555555555UL) | ((value & 0x5555555555555555UL) << 1);
        value = ((value >> 2) & 0x3333333333333333UL) | ((value & 0x3333333333333333UL) << 2);
        value = ((value >> 4) & 0x0F0F0F0F0F0F0F0FUL) | ((value & 0x0F0F0F0F0F0F0F0FUL) << 4);
        return BinaryPrimitives.ReverseEndianness(value);
    }
}
