using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeltaSnap.Checksums;

/// <summary>Which implementation of the XXH3 stripe accumulator runs for inputs over 240 bytes.</summary>
internal enum Xxh3Vectorization
{
    /// <summary>Plain 64-bit arithmetic, on every CPU.</summary>
    Scalar,

    /// <summary>AVX2: the eight accumulators in two 256-bit vectors.</summary>
    Vector256,

    /// <summary>AVX-512: the eight accumulators in one 512-bit vector.</summary>
    Vector512,
}

/// <summary>
/// The two inner operations of XXH3 on its eight 64-bit accumulators, implemented per instruction set and
/// chosen at JIT time through a generic type argument (no virtual calls in the loop).
/// </summary>
/// <remarks>
/// Per 64-byte stripe, for each lane i: <c>key = data[i] ^ secret[i]; acc[i ^ 1] += data[i];
/// acc[i] += (key &amp; 0xFFFFFFFF) * (key &gt;&gt; 32)</c>. Per block: <c>acc[i] = (acc[i] ^ (acc[i] &gt;&gt; 47) ^
/// secret[i]) * PRIME32_1</c>. The vector versions follow xxHash's AVX2/AVX-512 code: VPMULUDQ multiplies
/// the low 32 bits of each 64-bit lane, and "i ^ 1" is a swap of the two 64-bit halves of each 128-bit lane.
/// </remarks>
internal interface IXxh3Accumulator
{
    /// <summary>Accumulates <paramref name="stripes"/> consecutive stripes; stripe n is keyed with <c>secret[8n..8n+64)</c>.</summary>
    static abstract void Accumulate(Span<ulong> accumulators, ReadOnlySpan<byte> input, ReadOnlySpan<byte> secret, int stripes);

    /// <summary>Scrambles the accumulators with <c>secret[0..64)</c>.</summary>
    static abstract void Scramble(Span<ulong> accumulators, ReadOnlySpan<byte> secret);
}

/// <summary>The portable accumulator (XXH3_accumulate_512_scalar, XXH3_scrambleAcc_scalar).</summary>
internal readonly struct Xxh3ScalarAccumulator : IXxh3Accumulator
{
    public static void Accumulate(Span<ulong> accumulators, ReadOnlySpan<byte> input, ReadOnlySpan<byte> secret, int stripes)
    {
        for (var n = 0; n < stripes; n++)
        {
            var stripe = input.Slice(n * Xxh3.StripeLength, Xxh3.StripeLength);
            var key = secret.Slice(n * 8, Xxh3.StripeLength);
            for (var i = 0; i < 8; i++)
            {
                var data = BinaryPrimitives.ReadUInt64LittleEndian(stripe[(8 * i)..]);
                var keyed = data ^ BinaryPrimitives.ReadUInt64LittleEndian(key[(8 * i)..]);
                accumulators[i ^ 1] += data;
                accumulators[i] += (keyed & 0xFFFFFFFF) * (keyed >> 32);
            }
        }
    }

    public static void Scramble(Span<ulong> accumulators, ReadOnlySpan<byte> secret)
    {
        for (var i = 0; i < 8; i++)
        {
            var accumulator = accumulators[i];
            accumulator ^= accumulator >> 47;
            accumulator ^= BinaryPrimitives.ReadUInt64LittleEndian(secret[(8 * i)..]);
            accumulators[i] = accumulator * Xxh3.Prime32_1;
        }
    }
}

/// <summary>AVX2 accumulator: two 256-bit vectors of four accumulators.</summary>
internal readonly struct Xxh3Vector256Accumulator : IXxh3Accumulator
{
    public static bool IsSupported => Avx2.IsSupported && Vector256.IsHardwareAccelerated;

    public static void Accumulate(Span<ulong> accumulators, ReadOnlySpan<byte> input, ReadOnlySpan<byte> secret, int stripes)
    {
        CheckArguments(accumulators, input, secret, stripes);
        ref var accumulatorRef = ref Unsafe.As<ulong, byte>(ref MemoryMarshal.GetReference(accumulators));
        ref var inputRef = ref MemoryMarshal.GetReference(input);
        ref var secretRef = ref MemoryMarshal.GetReference(secret);
        var acc0 = Vector256.LoadUnsafe(ref accumulatorRef, 0).AsUInt64();
        var acc1 = Vector256.LoadUnsafe(ref accumulatorRef, 32).AsUInt64();
        for (nuint n = 0; n < (nuint)stripes; n++)
        {
            var inputOffset = n * Xxh3.StripeLength;
            var secretOffset = n * 8;
            acc0 += Round(
                Vector256.LoadUnsafe(ref inputRef, inputOffset).AsUInt64(),
                Vector256.LoadUnsafe(ref secretRef, secretOffset).AsUInt64());
            acc1 += Round(
                Vector256.LoadUnsafe(ref inputRef, inputOffset + 32).AsUInt64(),
                Vector256.LoadUnsafe(ref secretRef, secretOffset + 32).AsUInt64());
        }
        acc0.AsByte().StoreUnsafe(ref accumulatorRef, 0);
        acc1.AsByte().StoreUnsafe(ref accumulatorRef, 32);
    }

    public static void Scramble(Span<ulong> accumulators, ReadOnlySpan<byte> secret)
    {
        Debug.Assert(accumulators.Length == 8 && secret.Length >= Xxh3.StripeLength, "Eight accumulators, a 64-byte key.");
        ref var accumulatorRef = ref Unsafe.As<ulong, byte>(ref MemoryMarshal.GetReference(accumulators));
        ref var secretRef = ref MemoryMarshal.GetReference(secret);
        for (nuint offset = 0; offset < 64; offset += 32)
        {
            var accumulator = Vector256.LoadUnsafe(ref accumulatorRef, offset).AsUInt64();
            var keyed = accumulator ^ (accumulator >>> 47) ^ Vector256.LoadUnsafe(ref secretRef, offset).AsUInt64();
            // A 64 × 32-bit multiply from two 32 × 32 → 64 ones: low·P + ((high·P) << 32).
            var prime = Vector256.Create(Xxh3.Prime32_1).AsUInt32();
            var productLow = Avx2.Multiply(keyed.AsUInt32(), prime);
            var productHigh = Avx2.Multiply((keyed >>> 32).AsUInt32(), prime);
            (productLow + (productHigh << 32)).AsByte().StoreUnsafe(ref accumulatorRef, offset);
        }
    }

    /// <summary>One stripe's contribution to four accumulators: swap(data) + lo32(key)·hi32(key).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Round(Vector256<ulong> data, Vector256<ulong> secret)
    {
        var keyed = data ^ secret;
        var product = Avx2.Multiply(keyed.AsUInt32(), (keyed >>> 32).AsUInt32());
        var swapped = Avx2.Shuffle(data.AsUInt32(), 0b01_00_11_10).AsUInt64(); // _MM_SHUFFLE(1, 0, 3, 2)
        return swapped + product;
    }

    [Conditional("DEBUG")]
    internal static void CheckArguments(Span<ulong> accumulators, ReadOnlySpan<byte> input, ReadOnlySpan<byte> secret, int stripes)
    {
        Debug.Assert(accumulators.Length == 8, "Eight accumulators.");
        Debug.Assert(stripes >= 0 && input.Length >= stripes * Xxh3.StripeLength, "The input holds the stripes.");
        Debug.Assert(stripes == 0 || secret.Length >= ((stripes - 1) * 8) + Xxh3.StripeLength, "The secret covers the stripes.");
    }
}

/// <summary>AVX-512 accumulator: all eight accumulators in one 512-bit vector.</summary>
internal readonly struct Xxh3Vector512Accumulator : IXxh3Accumulator
{
    public static bool IsSupported => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    public static void Accumulate(Span<ulong> accumulators, ReadOnlySpan<byte> input, ReadOnlySpan<byte> secret, int stripes)
    {
        Xxh3Vector256Accumulator.CheckArguments(accumulators, input, secret, stripes);
        ref var accumulatorRef = ref Unsafe.As<ulong, byte>(ref MemoryMarshal.GetReference(accumulators));
        ref var inputRef = ref MemoryMarshal.GetReference(input);
        ref var secretRef = ref MemoryMarshal.GetReference(secret);
        var accumulator = Vector512.LoadUnsafe(ref accumulatorRef).AsUInt64();
        for (nuint n = 0; n < (nuint)stripes; n++)
        {
            var data = Vector512.LoadUnsafe(ref inputRef, n * Xxh3.StripeLength).AsUInt64();
            var keyed = data ^ Vector512.LoadUnsafe(ref secretRef, n * 8).AsUInt64();
            var product = Avx512F.Multiply(keyed.AsUInt32(), (keyed >>> 32).AsUInt32());
            var swapped = Avx512F.Shuffle(data.AsUInt32(), 0b01_00_11_10).AsUInt64(); // _MM_SHUFFLE(1, 0, 3, 2)
            accumulator += swapped + product; // one add on the loop-carried chain
        }
        accumulator.AsByte().StoreUnsafe(ref accumulatorRef);
    }

    public static void Scramble(Span<ulong> accumulators, ReadOnlySpan<byte> secret)
    {
        Debug.Assert(accumulators.Length == 8 && secret.Length >= Xxh3.StripeLength, "Eight accumulators, a 64-byte key.");
        ref var accumulatorRef = ref Unsafe.As<ulong, byte>(ref MemoryMarshal.GetReference(accumulators));
        var accumulator = Vector512.LoadUnsafe(ref accumulatorRef).AsUInt64();
        var keyed = accumulator ^ (accumulator >>> 47) ^ Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(secret)).AsUInt64();
        var prime = Vector512.Create(Xxh3.Prime32_1).AsUInt32();
        var productLow = Avx512F.Multiply(keyed.AsUInt32(), prime);
        var productHigh = Avx512F.Multiply((keyed >>> 32).AsUInt32(), prime);
        (productLow + (productHigh << 32)).AsByte().StoreUnsafe(ref accumulatorRef);
    }
}
