using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeltaSnap.Checksums;

/// <summary>
/// CRC-64/ISO (polynomial 0x1B, i.e. x^64 + x^4 + x^3 + x + 1, reflected as 0xD800000000000000; init and
/// xorout all ones; also known as CRC-64/GO-ISO): Longhorn's per-cluster and whole-snapshot checksum. The
/// check value of "123456789" is 0xB90956C775A41001.
/// </summary>
/// <remarks>
/// Inputs of 64 bytes and more are folded with PCLMULQDQ (VPCLMULQDQ on 512-bit or 256-bit vectors where the
/// CPU has it); the 16-byte remainder, shorter inputs and CPUs without carry-less multiply use slice-by-8 tables.
/// </remarks>
public static class Crc64Iso
{
    private static readonly CrcFoldingKeys Keys = new(CrcPolynomial.Iso);

    /// <summary>
    /// Slice-by-8 tables, 8 × 256 entries: entry [k·256 + b] is the register after the byte b followed by k
    /// zero bytes, from state 0. Table 0 is the classic byte-at-a-time table.
    /// </summary>
    private static readonly ulong[] Tables = BuildTables();

    /// <summary>
    /// PCLMULQDQ on the registers a and b gives the 128-bit A·B·x (see <see cref="CrcFoldingKeys"/>); reducing
    /// that mod P (<see cref="MultiplyShifted"/>) leaves A·B·x. Shift multipliers are stored as x^(8n-1) mod P.
    /// </summary>
    private const int MultiplyExcessPower = 1;

    /// <summary>Register form of x^(8·2^k - 1) mod P for k = 0..62: the factors that shift by 2^k bytes.</summary>
    private static readonly ulong[] ShiftByPowerOfTwo = BuildShiftTable();

    /// <summary>Register form of x^-1 mod P: the multiplier that shifts by nothing.</summary>
    internal static readonly ulong IdentityMultiplier = CrcPolynomial.Iso.ToRegister(CrcPolynomial.Iso.Power(-MultiplyExcessPower));

    /// <summary>The CRC-64/ISO of <paramref name="data"/>.</summary>
    public static ulong Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues <paramref name="crc"/> (a finished CRC of earlier bytes, 0 for none) over <paramref name="data"/>: Longhorn's chaining.</summary>
    public static ulong Append(ulong crc, ReadOnlySpan<byte> data) => ~Update(~crc, data);

    /// <summary>
    /// The CRC-64/ISO of the concatenation A‖B from <paramref name="crc1"/> = CRC(A), <paramref name="crc2"/> =
    /// CRC(B) and <paramref name="length2"/> = |B|, in O(log |B|) (zlib's crc64_combine, by square-and-multiply).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length2"/> is negative.</exception>
    public static ulong Combine(ulong crc1, ulong crc2, long length2) => Combine(crc1, crc2, ShiftOperator(length2));

    /// <summary>
    /// The CRC-64/ISO of A‖B from CRC(A), CRC(B) and the shift operator for |B|: one carry-less multiply and
    /// one 8-byte table reduction.
    /// </summary>
    internal static ulong Combine(ulong crc1, ulong crc2, Crc64Shift shift) =>
        MultiplyShifted(crc1, shift.Multiplier) ^ crc2;

    /// <summary>
    /// Precomputes the operator that shifts a CRC-64/ISO over <paramref name="length"/> bytes, for
    /// <see cref="Combine(ulong, ulong, Crc64Shift)"/>. Costs O(log <paramref name="length"/>) multiplications.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    internal static Crc64Shift ShiftOperator(long length)
    {
        ThrowHelper.ThrowIfNegative(length);

        // crc(A‖B) = crc(A)·x^(8|B|) ⊕ crc(B): the register is linear in (state, message), and the all-ones
        // init and xorout cancel out because both CRCs carry them.
        var multiplier = IdentityMultiplier;
        for (var k = 0; length != 0; k++, length >>= 1)
        {
            if ((length & 1) != 0)
            {
                multiplier = MultiplyShifted(multiplier, ShiftByPowerOfTwo[k]);
            }
        }
        return new Crc64Shift(multiplier);
    }

    /// <summary>Runs the raw register (no init, no xorout) over <paramref name="data"/> on the fastest path.</summary>
    internal static ulong Update(ulong state, ReadOnlySpan<byte> data) => Update(state, data, CrcFolding.BestWidth);

    /// <summary>Runs the raw register over <paramref name="data"/>, folding with <paramref name="width"/> where the input is long enough.</summary>
    internal static ulong Update(ulong state, ReadOnlySpan<byte> data, CrcFoldingWidth width)
    {
        if (width != CrcFoldingWidth.None && data.Length >= CrcFolding.Vector128MinimumLength)
        {
            var remainder = CrcFolding.Fold(data, state, Keys, width, out var consumed);
            state = UpdateWord(UpdateWord(0, remainder.GetElement(0)), remainder.GetElement(1));
            data = data[consumed..];
        }
        return UpdateScalar(state, data);
    }

    /// <summary>The table path: slice-by-8, then byte at a time.</summary>
    internal static ulong UpdateScalar(ulong state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            state = UpdateWord(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        ref var table = ref MemoryMarshal.GetArrayDataReference(Tables);
        foreach (var b in data)
        {
            state = Unsafe.Add(ref table, (nint)(byte)(state ^ b)) ^ (state >> 8);
        }
        return state;
    }

    /// <summary>A·B·x mod P on register-form values: PCLMULQDQ and a table reduction, or the bitwise fallback.</summary>
    internal static ulong MultiplyShifted(ulong a, ulong b)
    {
        if (Pclmulqdq.IsSupported)
        {
            // The 128-bit product M = A·B·x is H·x^64 + L with H in the low qword, L in the high one.
            // H·x^64 mod P is exactly the register after the 8 bytes of H from state 0; L is already reduced.
            var product = Pclmulqdq.CarrylessMultiply(Vector128.CreateScalar(a), Vector128.CreateScalar(b), 0x00);
            return UpdateWord(0, product.GetElement(0)) ^ product.GetElement(1);
        }
        return MultiplyShiftedScalar(a, b);
    }

    /// <summary>The bitwise equivalent of <see cref="MultiplyShifted"/>, for CPUs without PCLMULQDQ (and to test it).</summary>
    internal static ulong MultiplyShiftedScalar(ulong a, ulong b)
    {
        var p = CrcPolynomial.Iso;
        return p.ToRegister(p.Multiply(p.Multiply(p.FromRegister(a), p.FromRegister(b)), p.Power(MultiplyExcessPower)));
    }

    /// <summary>One slice-by-8 step: the register after 8 more bytes (<paramref name="word"/>, little-endian).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong UpdateWord(ulong state, ulong word)
    {
        ref var t = ref MemoryMarshal.GetArrayDataReference(Tables);
        var x = state ^ word;
        // The first byte has seven bytes after it, hence table 7; the last byte uses table 0.
        return Unsafe.Add(ref t, (7 * 256) + (nint)(byte)x)
            ^ Unsafe.Add(ref t, (6 * 256) + (nint)(byte)(x >> 8))
            ^ Unsafe.Add(ref t, (5 * 256) + (nint)(byte)(x >> 16))
            ^ Unsafe.Add(ref t, (4 * 256) + (nint)(byte)(x >> 24))
            ^ Unsafe.Add(ref t, (3 * 256) + (nint)(byte)(x >> 32))
            ^ Unsafe.Add(ref t, (2 * 256) + (nint)(byte)(x >> 40))
            ^ Unsafe.Add(ref t, (1 * 256) + (nint)(byte)(x >> 48))
            ^ Unsafe.Add(ref t, (nint)(x >> 56));
    }

    private static ulong[] BuildTables()
    {
        var byteTable = CrcPolynomial.Iso.BuildByteTable();
        var tables = new ulong[8 * 256];
        byteTable.CopyTo(tables, 0);
        for (var k = 1; k < 8; k++)
        {
            for (var b = 0; b < 256; b++)
            {
                // One more zero byte after the entry of table k-1.
                var previous = tables[((k - 1) * 256) + b];
                tables[(k * 256) + b] = byteTable[(byte)previous] ^ (previous >> 8);
            }
        }
        return tables;
    }

    private static ulong[] BuildShiftTable()
    {
        var p = CrcPolynomial.Iso;
        var correction = p.Power(-MultiplyExcessPower);
        var table = new ulong[63];
        var power = p.Power(8); // x^(8·2^k): the shift by 2^k bytes
        for (var k = 0; k < table.Length; k++)
        {
            table[k] = p.ToRegister(p.Multiply(power, correction));
            power = p.Multiply(power, power);
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
