using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeltaSnap.Checksums;

/// <summary>Which carry-less folding loop a CRC uses; <see cref="None"/> is the scalar (table or CRC32-instruction) path.</summary>
internal enum CrcFoldingWidth
{
    /// <summary>No folding: the scalar path.</summary>
    None = 0,

    /// <summary>PCLMULQDQ on 128-bit vectors, four accumulators (64 bytes per step).</summary>
    Vector128 = 128,

    /// <summary>VPCLMULQDQ on 256-bit vectors, four accumulators (128 bytes per step): AVX2 CPUs with VPCLMULQDQ.</summary>
    Vector256 = 256,

    /// <summary>VPCLMULQDQ on 512-bit vectors, four accumulators (256 bytes per step).</summary>
    Vector512 = 512,
}

/// <summary>
/// The folding constants of one <see cref="CrcPolynomial"/>, derived from the polynomial at startup.
/// </summary>
/// <remarks>
/// <para>
/// How folding works (after Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
/// Instruction", Intel, 2009). Read 16 message bytes as a little-endian 128-bit value X. In reflected bit
/// order its low qword holds the polynomial's upper half H and its high qword the lower half L:
/// X = H·x^64 + L. The message is a polynomial, and its CRC depends only on it mod P. Bytes d positions
/// later carry a factor x^(8d) less than X, so X may be replaced by anything congruent to X·x^(8d) mod P and
/// XOR-ed onto the 16 bytes at distance d:
/// X·x^(8d) = H·x^(8d+64) + L·x^(8d) ≡ H·(x^(8d+64) mod P) + L·(x^(8d) mod P).
/// Each product has degree below 64 + W ≤ 128, so the sum fits in 16 bytes again.
/// </para>
/// <para>
/// PCLMULQDQ on two reflected 64-bit operands (bit i = coefficient of x^(63-i)) yields the product shifted
/// by one bit: bit k of the result is the coefficient of x^(126-k), i.e. the 128-bit reflected value of
/// A·B·x. So the constants are taken one power lower: <c>lo = x^(8d+63) mod P</c> (multiplies H, the low
/// qword) and <c>hi = x^(8d-1) mod P</c> (multiplies L, the high qword), each bit-reversed into 64 bits.
/// One fold step is then <c>clmul(X.lo, k.lo) ^ clmul(X.hi, k.hi) ^ next16Bytes</c>.
/// </para>
/// <para>
/// After folding, the 16-byte remainder R stands for the whole prefix: its CRC register from state 0
/// equals the register of the prefix from the initial state (that state was XOR-ed into the first bytes,
/// which is what a reflected CRC's register does to them). The caller finishes R and the short tail with
/// its scalar code: no separate Barrett reduction, and the vector paths end in the same code as the scalar one.
/// </para>
/// </remarks>
internal sealed class CrcFoldingKeys
{
    public CrcFoldingKeys(CrcPolynomial polynomial)
    {
        Fold16 = Key(polynomial, 16);
        Fold32 = Key(polynomial, 32);
        Fold48 = Key(polynomial, 48);
        Fold64 = Key(polynomial, 64);
        Fold32x2 = Vector256.Create(Fold32, Fold32);
        Fold64x2 = Vector256.Create(Fold64, Fold64);
        Fold96x2 = Vector256.Create(Key(polynomial, 96), Key(polynomial, 96));
        Fold128x2 = Vector256.Create(Key(polynomial, 128), Key(polynomial, 128));
        Fold64x4 = Broadcast(Fold64);
        Fold128x4 = Broadcast(Key(polynomial, 128));
        Fold192x4 = Broadcast(Key(polynomial, 192));
        Fold256x4 = Broadcast(Key(polynomial, 256));
    }

    /// <summary>Folds 16 bytes onto the 16 bytes that follow them.</summary>
    public Vector128<ulong> Fold16 { get; }

    /// <summary>Folds 16 bytes 32 bytes forward.</summary>
    public Vector128<ulong> Fold32 { get; }

    /// <summary>Folds 16 bytes 48 bytes forward.</summary>
    public Vector128<ulong> Fold48 { get; }

    /// <summary>Folds 16 bytes 64 bytes forward.</summary>
    public Vector128<ulong> Fold64 { get; }

    /// <summary>Folds each 16-byte lane of a 32-byte vector 32 bytes forward.</summary>
    public Vector256<ulong> Fold32x2 { get; }

    /// <summary>Folds each lane 64 bytes forward.</summary>
    public Vector256<ulong> Fold64x2 { get; }

    /// <summary>Folds each lane 96 bytes forward.</summary>
    public Vector256<ulong> Fold96x2 { get; }

    /// <summary>Folds each lane 128 bytes forward: the stride of the 256-bit main loop.</summary>
    public Vector256<ulong> Fold128x2 { get; }

    /// <summary>Folds each 16-byte lane of a 64-byte vector 64 bytes forward.</summary>
    public Vector512<ulong> Fold64x4 { get; }

    /// <summary>Folds each lane 128 bytes forward.</summary>
    public Vector512<ulong> Fold128x4 { get; }

    /// <summary>Folds each lane 192 bytes forward.</summary>
    public Vector512<ulong> Fold192x4 { get; }

    /// <summary>Folds each lane 256 bytes forward: the stride of the four-accumulator main loop.</summary>
    public Vector512<ulong> Fold256x4 { get; }

    /// <summary>The constants that move 16 bytes <paramref name="distance"/> bytes forward (see the remarks).</summary>
    internal static Vector128<ulong> Key(CrcPolynomial polynomial, int distance) => Vector128.Create(
        CrcPolynomial.ToReflected64(polynomial.Power((8L * distance) + 63)),
        CrcPolynomial.ToReflected64(polynomial.Power((8L * distance) - 1)));

    private static Vector512<ulong> Broadcast(Vector128<ulong> key) =>
        Vector512.Create(Vector256.Create(key, key), Vector256.Create(key, key));
}

/// <summary>The carry-less folding loops shared by <see cref="Crc32C"/> and <see cref="Crc64Iso"/>.</summary>
internal static class CrcFolding
{
    /// <summary>The shortest input the 128-bit loop takes (its four accumulators); shorter inputs go scalar.</summary>
    public const int Vector128MinimumLength = 64;

    /// <summary>The shortest input the 256-bit loop takes.</summary>
    public const int Vector256MinimumLength = 128;

    /// <summary>The shortest input the 512-bit loop takes.</summary>
    public const int Vector512MinimumLength = 256;

    /// <summary>The widest folding this process can run.</summary>
    public static readonly CrcFoldingWidth BestWidth =
        IsSupported(CrcFoldingWidth.Vector512) ? CrcFoldingWidth.Vector512
        : IsSupported(CrcFoldingWidth.Vector256) ? CrcFoldingWidth.Vector256
        : IsSupported(CrcFoldingWidth.Vector128) ? CrcFoldingWidth.Vector128
        : CrcFoldingWidth.None;

    public static bool IsSupported(CrcFoldingWidth width) => width switch
    {
        CrcFoldingWidth.None => true,
        CrcFoldingWidth.Vector128 => Pclmulqdq.IsSupported,
        CrcFoldingWidth.Vector256 => Pclmulqdq.V256.IsSupported && Vector256.IsHardwareAccelerated,
        CrcFoldingWidth.Vector512 => Pclmulqdq.V256.IsSupported && Pclmulqdq.V512.IsSupported && Avx512F.IsSupported && Vector512.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>
    /// Folds the longest prefix of <paramref name="data"/> that is a multiple of 16 bytes, starting from the
    /// CRC register <paramref name="state"/> (zero-extended to 64 bits), and returns the 16-byte remainder
    /// whose CRC register from state 0 equals the prefix's register. <paramref name="consumed"/> is the length
    /// of that prefix. Uses <paramref name="width"/>, or a narrower loop when the input is too short for it;
    /// <paramref name="data"/> must hold at least <see cref="Vector128MinimumLength"/> bytes.
    /// </summary>
    public static Vector128<ulong> Fold(ReadOnlySpan<byte> data, ulong state, CrcFoldingKeys keys, CrcFoldingWidth width, out int consumed)
    {
        if (data.Length < Vector128MinimumLength || width == CrcFoldingWidth.None)
        {
            ThrowHelper.ThrowArgument(nameof(data), "Folding needs a vector width and at least 64 bytes.");
        }
        ref var start = ref MemoryMarshal.GetReference(data);
        var length = (nuint)data.Length;
        nuint offset;
        Vector128<ulong> remainder;
        if (width == CrcFoldingWidth.Vector512 && length >= Vector512MinimumLength)
        {
            remainder = Fold512(ref start, length, state, keys, out offset);
        }
        else if (width >= CrcFoldingWidth.Vector256 && length >= Vector256MinimumLength)
        {
            remainder = Fold256(ref start, length, state, keys, out offset);
        }
        else
        {
            remainder = Fold128(ref start, length, state, keys, out offset);
        }

        // Single 16-byte folds until fewer than 16 bytes are left.
        var fold16 = keys.Fold16;
        while (length - offset >= 16)
        {
            remainder = FoldStep(remainder, fold16, Vector128.LoadUnsafe(ref start, offset).AsUInt64());
            offset += 16;
        }
        consumed = (int)offset;
        return remainder;
    }

    private static Vector128<ulong> Fold128(ref byte start, nuint length, ulong state, CrcFoldingKeys keys, out nuint offset)
    {
        // Four independent accumulators hide PCLMULQDQ's latency. The register is XOR-ed into the first bytes.
        var x0 = Vector128.LoadUnsafe(ref start, 0).AsUInt64() ^ Vector128.CreateScalar(state);
        var x1 = Vector128.LoadUnsafe(ref start, 16).AsUInt64();
        var x2 = Vector128.LoadUnsafe(ref start, 32).AsUInt64();
        var x3 = Vector128.LoadUnsafe(ref start, 48).AsUInt64();
        offset = 64;
        var fold64 = keys.Fold64;
        while (length - offset >= 64)
        {
            x0 = FoldStep(x0, fold64, Vector128.LoadUnsafe(ref start, offset).AsUInt64());
            x1 = FoldStep(x1, fold64, Vector128.LoadUnsafe(ref start, offset + 16).AsUInt64());
            x2 = FoldStep(x2, fold64, Vector128.LoadUnsafe(ref start, offset + 32).AsUInt64());
            x3 = FoldStep(x3, fold64, Vector128.LoadUnsafe(ref start, offset + 48).AsUInt64());
            offset += 64;
        }

        // x0 is 48 bytes before x3, x1 32 and x2 16: fold all three onto x3.
        return FoldStep(x0, keys.Fold48, FoldStep(x1, keys.Fold32, FoldStep(x2, keys.Fold16, x3)));
    }

    private static Vector128<ulong> Fold256(ref byte start, nuint length, ulong state, CrcFoldingKeys keys, out nuint offset)
    {
        // Four 32-byte accumulators, 8 lanes of 16 bytes: the main loop folds 128 bytes per step.
        var x0 = Vector256.LoadUnsafe(ref start, 0).AsUInt64() ^ Vector256.CreateScalar(state);
        var x1 = Vector256.LoadUnsafe(ref start, 32).AsUInt64();
        var x2 = Vector256.LoadUnsafe(ref start, 64).AsUInt64();
        var x3 = Vector256.LoadUnsafe(ref start, 96).AsUInt64();
        offset = 128;
        var fold128 = keys.Fold128x2;
        while (length - offset >= 128)
        {
            x0 = FoldStep(x0, fold128, Vector256.LoadUnsafe(ref start, offset).AsUInt64());
            x1 = FoldStep(x1, fold128, Vector256.LoadUnsafe(ref start, offset + 32).AsUInt64());
            x2 = FoldStep(x2, fold128, Vector256.LoadUnsafe(ref start, offset + 64).AsUInt64());
            x3 = FoldStep(x3, fold128, Vector256.LoadUnsafe(ref start, offset + 96).AsUInt64());
            offset += 128;
        }

        // Lane i of x0 is 96 bytes before lane i of x3, x1 64 and x2 32: fold them onto x3.
        var fold32 = keys.Fold32x2;
        var x = FoldStep(x0, keys.Fold96x2, FoldStep(x1, keys.Fold64x2, FoldStep(x2, fold32, x3)));
        while (length - offset >= 32)
        {
            x = FoldStep(x, fold32, Vector256.LoadUnsafe(ref start, offset).AsUInt64());
            offset += 32;
        }

        // The two lanes of x are consecutive 16-byte blocks: fold lane 0 onto lane 1.
        return FoldStep(x.GetLower(), keys.Fold16, x.GetUpper());
    }

    private static Vector128<ulong> Fold512(ref byte start, nuint length, ulong state, CrcFoldingKeys keys, out nuint offset)
    {
        // Four 64-byte accumulators, 16 lanes of 16 bytes: the main loop folds 256 bytes per step.
        var x0 = Vector512.LoadUnsafe(ref start, 0).AsUInt64() ^ Vector512.CreateScalar(state);
        var x1 = Vector512.LoadUnsafe(ref start, 64).AsUInt64();
        var x2 = Vector512.LoadUnsafe(ref start, 128).AsUInt64();
        var x3 = Vector512.LoadUnsafe(ref start, 192).AsUInt64();
        offset = 256;
        var fold256 = keys.Fold256x4;
        while (length - offset >= 256)
        {
            x0 = FoldStep(x0, fold256, Vector512.LoadUnsafe(ref start, offset).AsUInt64());
            x1 = FoldStep(x1, fold256, Vector512.LoadUnsafe(ref start, offset + 64).AsUInt64());
            x2 = FoldStep(x2, fold256, Vector512.LoadUnsafe(ref start, offset + 128).AsUInt64());
            x3 = FoldStep(x3, fold256, Vector512.LoadUnsafe(ref start, offset + 192).AsUInt64());
            offset += 256;
        }

        // Lane i of x0 is 192 bytes before lane i of x3, x1 128 and x2 64: fold them onto x3.
        var fold64 = keys.Fold64x4;
        var x = FoldStep(x0, keys.Fold192x4, FoldStep(x1, keys.Fold128x4, FoldStep(x2, fold64, x3)));
        while (length - offset >= 64)
        {
            x = FoldStep(x, fold64, Vector512.LoadUnsafe(ref start, offset).AsUInt64());
            offset += 64;
        }

        // The four lanes of x are consecutive 16-byte blocks: fold lanes 0, 1, 2 onto lane 3.
        var lower = x.GetLower();
        var upper = x.GetUpper();
        return FoldStep(lower.GetLower(), keys.Fold48, FoldStep(lower.GetUpper(), keys.Fold32, FoldStep(upper.GetLower(), keys.Fold16, upper.GetUpper())));
    }

    /// <summary>One fold: x·x^(8d) (reduced to 128 bits by the key for distance d) XOR <paramref name="next"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> FoldStep(Vector128<ulong> x, Vector128<ulong> key, Vector128<ulong> next) =>
        Pclmulqdq.CarrylessMultiply(x, key, 0x00) ^ Pclmulqdq.CarrylessMultiply(x, key, 0x11) ^ next;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> FoldStep(Vector256<ulong> x, Vector256<ulong> key, Vector256<ulong> next) =>
        Pclmulqdq.V256.CarrylessMultiply(x, key, 0x00) ^ Pclmulqdq.V256.CarrylessMultiply(x, key, 0x11) ^ next;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> FoldStep(Vector512<ulong> x, Vector512<ulong> key, Vector512<ulong> next) =>
        Avx512F.TernaryLogic( // 0x96: a ^ b ^ c in one instruction
            Pclmulqdq.V512.CarrylessMultiply(x, key, 0x00),
            Pclmulqdq.V512.CarrylessMultiply(x, key, 0x11),
            next,
            0x96);
}
