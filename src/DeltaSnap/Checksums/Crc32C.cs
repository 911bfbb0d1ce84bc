using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeltaSnap.Checksums;

/// <summary>
/// CRC-32C (Castagnoli: polynomial 0x1EDC6F41, reflected, init and xorout all ones), as in iSCSI, ext4 and
/// SSE4.2's <c>crc32</c> instruction. The check value of "123456789" is 0xE3069283.
/// </summary>
/// <remarks>
/// Inputs of 64 bytes and more are folded with PCLMULQDQ (VPCLMULQDQ on 512-bit or 256-bit vectors where the
/// CPU has it); the 16-byte remainder, shorter inputs and CPUs without carry-less multiply use
/// <see cref="BitOperations.Crc32C(uint, ulong)"/>.
/// </remarks>
public static class Crc32C
{
    private static readonly CrcFoldingKeys Keys = new(CrcPolynomial.Castagnoli);

    /// <summary>
    /// PCLMULQDQ on the 32-bit registers a and b gives A·B·x (see <see cref="CrcFoldingKeys"/>), and the
    /// <c>crc32</c> instruction over those 8 bytes from state 0 multiplies by x^32 and reduces: A·B·x^33 mod P.
    /// Shift multipliers are therefore stored as x^(8n-33) mod P.
    /// </summary>
    private const int MultiplyExcessPower = 33;

    /// <summary>Register form of x^(8·2^k - 33) mod P for k = 0..62: the factors that shift by 2^k bytes.</summary>
    private static readonly uint[] ShiftByPowerOfTwo = BuildShiftTable();

    /// <summary>Register form of x^-33 mod P: the multiplier that shifts by nothing.</summary>
    internal static readonly uint IdentityMultiplier = (uint)CrcPolynomial.Castagnoli.ToRegister(CrcPolynomial.Castagnoli.Power(-MultiplyExcessPower));

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues <paramref name="crc"/> (a finished CRC-32C of earlier bytes, 0 for none) over <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) => ~Update(~crc, data);

    /// <summary>
    /// The CRC-32C of the concatenation A‖B from <paramref name="crc1"/> = CRC(A), <paramref name="crc2"/> = CRC(B) and
    /// <paramref name="length2"/> = |B|, in O(log |B|).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length2"/> is negative.</exception>
    public static uint Combine(uint crc1, uint crc2, long length2) => Combine(crc1, crc2, ShiftOperator(length2));

    /// <summary>
    /// The CRC-32C of A‖B from CRC(A), CRC(B) and the shift operator for |B|: one carry-less multiply and one
    /// <c>crc32</c> instruction.
    /// </summary>
    internal static uint Combine(uint crc1, uint crc2, Crc32CShift shift) =>
        MultiplyShifted(crc1, shift.Multiplier) ^ crc2;

    /// <summary>
    /// Precomputes the operator that shifts a CRC-32C over <paramref name="length"/> bytes, for
    /// <see cref="Combine(uint, uint, Crc32CShift)"/>. Costs O(log <paramref name="length"/>) multiplications.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    internal static Crc32CShift ShiftOperator(long length)
    {
        ThrowHelper.ThrowIfNegative(length);

        // Why crc(A‖B) = crc(A)·x^(8|B|) ⊕ crc(B): the register is linear in (state, message); the all-ones
        // init and xorout cancel out because both CRCs carry them (zlib's crc32_combine rests on the same).
        var multiplier = IdentityMultiplier;
        for (var k = 0; length != 0; k++, length >>= 1)
        {
            if ((length & 1) != 0)
            {
                multiplier = MultiplyShifted(multiplier, ShiftByPowerOfTwo[k]);
            }
        }
        return new Crc32CShift(multiplier);
    }

    /// <summary>Runs the raw register (no init, no xorout) over <paramref name="data"/> on the fastest path.</summary>
    internal static uint Update(uint state, ReadOnlySpan<byte> data) => Update(state, data, CrcFolding.BestWidth);

    /// <summary>Runs the raw register over <paramref name="data"/>, folding with <paramref name="width"/> where the input is long enough.</summary>
    internal static uint Update(uint state, ReadOnlySpan<byte> data, CrcFoldingWidth width)
    {
        if (width != CrcFoldingWidth.None && data.Length >= CrcFolding.Vector128MinimumLength)
        {
            var remainder = CrcFolding.Fold(data, state, Keys, width, out var consumed);
            state = BitOperations.Crc32C(BitOperations.Crc32C(0u, remainder.GetElement(0)), remainder.GetElement(1));
            data = data[consumed..];
        }
        return UpdateScalar(state, data);
    }

    /// <summary>The scalar path: the <c>crc32</c> instruction (or the BCL's table when the CPU lacks it), 8 bytes at a time.</summary>
    internal static uint UpdateScalar(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }
        return state;
    }

    /// <summary>A·B·x^33 mod P on register-form values: PCLMULQDQ then <c>crc32</c>, or the bitwise fallback.</summary>
    internal static uint MultiplyShifted(uint a, uint b)
    {
        if (Pclmulqdq.IsSupported)
        {
            var product = Pclmulqdq.CarrylessMultiply(Vector128.CreateScalar((ulong)a), Vector128.CreateScalar((ulong)b), 0x00).ToScalar();
            return BitOperations.Crc32C(0u, product);
        }
        return MultiplyShiftedScalar(a, b);
    }

    /// <summary>The bitwise equivalent of <see cref="MultiplyShifted"/>, for CPUs without PCLMULQDQ (and to test it).</summary>
    internal static uint MultiplyShiftedScalar(uint a, uint b)
    {
        var p = CrcPolynomial.Castagnoli;
        var product = p.Multiply(p.Multiply(p.FromRegister(a), p.FromRegister(b)), p.Power(MultiplyExcessPower));
        return (uint)p.ToRegister(product);
    }

    private static uint[] BuildShiftTable()
    {
        var p = CrcPolynomial.Castagnoli;
        var correction = p.Power(-MultiplyExcessPower);
        var table = new uint[63];
        var power = p.Power(8); // x^(8·2^k): the shift by 2^k bytes
        for (var k = 0; k < table.Length; k++)
        {
            table[k] = (uint)p.ToRegister(p.Multiply(power, correction));
            power = p.Multiply(power, power);
        }
        return table;
    }
}

/// <summary>Incremental CRC-32C.</summary>
internal sealed class Crc32CHasher : ChecksumHasher
{
    private uint _crc;

    public Crc32CHasher()
        : base(ChecksumAlgorithm.Crc32C)
    {
    }

    protected override void AppendCore(ReadOnlySpan<byte> data) => _crc = Crc32C.Append(_crc, data);

    protected override void ResetCore() => _crc = 0;

    protected override void GetCurrentHashCore(Span<byte> destination) => BinaryPrimitives.WriteUInt32BigEndian(destination, _crc);
}
