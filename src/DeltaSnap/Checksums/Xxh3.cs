using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace DeltaSnap.Checksums;

/// <summary>
/// XXH3-64 and XXH3-128 (XXH128) with seed 0 and the default secret, bit-exact with xxHash 0.8 (the values
/// <c>xxhsum -H3</c> and <c>xxhsum -H2</c> print).
/// </summary>
/// <remarks>
/// Inputs up to 240 bytes take the scalar short-input paths of the reference; longer inputs run the
/// stripe accumulator on 512-bit (AVX-512) or 256-bit (AVX2) vectors where the CPU has them, else on scalar code.
/// </remarks>
public static class Xxh3
{
    internal const ulong Prime32_1 = 0x9E3779B1UL;
    internal const ulong Prime32_2 = 0x85EBCA77UL;
    internal const ulong Prime32_3 = 0xC2B2AE3DUL;
    internal const ulong Prime64_1 = 0x9E3779B185EBCA87UL;
    internal const ulong Prime64_2 = 0xC2B2AE3D27D4EB4FUL;
    internal const ulong Prime64_3 = 0x165667B19E3779F9UL;
    internal const ulong Prime64_4 = 0x85EBCA77C2B2AE63UL;
    internal const ulong Prime64_5 = 0x27D4EB2F165667C5UL;
    private const ulong PrimeMx1 = 0x165667919E3779F9UL;
    private const ulong PrimeMx2 = 0x9FB21C651E98DF25UL;

    /// <summary>The longest input hashed without the stripe accumulator (XXH3_MIDSIZE_MAX).</summary>
    internal const int MidSizeMax = 240;

    /// <summary>Bytes per stripe: one accumulate step over the eight 64-bit accumulators.</summary>
    internal const int StripeLength = 64;

    /// <summary>Stripes per block: (secret size - stripe length) / 8, since each stripe advances 8 bytes into the secret.</summary>
    internal const int StripesPerBlock = (SecretSize - StripeLength) / 8;

    private const int SecretSize = 192;
    private const int MidSizeStartOffset = 3;
    private const int MidSizeLastOffset = 17;
    private const int SecretSizeMin = 136;
    private const int LastStripeSecretOffset = SecretSize - StripeLength - 7; // XXH_SECRET_LASTACC_START
    private const int ScrambleSecretOffset = SecretSize - StripeLength;
    private const int MergeSecretOffset = 11; // XXH_SECRET_MERGEACCS_START

    /// <summary>The vectorization the public methods use.</summary>
    internal static readonly Xxh3Vectorization BestVectorization =
        Xxh3Vector512Accumulator.IsSupported ? Xxh3Vectorization.Vector512
        : Xxh3Vector256Accumulator.IsSupported ? Xxh3Vectorization.Vector256
        : Xxh3Vectorization.Scalar;

    /// <summary>XXH3_kSecret, the default 192-byte secret of xxHash.</summary>
    internal static ReadOnlySpan<byte> Secret =>
    [
        0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
        0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
        0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
        0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
        0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
        0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
        0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
        0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
        0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
        0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
        0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
        0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
    ];

    /// <summary>XXH3-64 of <paramref name="data"/> (seed 0).</summary>
    public static ulong Hash64(ReadOnlySpan<byte> data) => Hash64(data, BestVectorization);

    /// <summary>
    /// XXH3-128 of <paramref name="data"/> (seed 0): the high 64 bits are the first half of the canonical
    /// (big-endian) form <c>xxhsum -H2</c> prints.
    /// </summary>
    public static UInt128 Hash128(ReadOnlySpan<byte> data) => Hash128(data, BestVectorization);

    /// <summary>XXH3-64 with the long-input accumulator chosen by <paramref name="vectorization"/>.</summary>
    internal static ulong Hash64(ReadOnlySpan<byte> data, Xxh3Vectorization vectorization)
    {
        if (data.Length <= 16)
        {
            return Hash64UpTo16(data);
        }
        if (data.Length <= 128)
        {
            return Hash64UpTo128(data);
        }
        if (data.Length <= MidSizeMax)
        {
            return Hash64UpTo240(data);
        }
        Span<ulong> accumulators = stackalloc ulong[8];
        InitializeAccumulators(accumulators);
        var stripesInBlock = 0;
        ConsumeStripes(accumulators, ref stripesInBlock, data, (data.Length - 1) / StripeLength, vectorization);
        AccumulateLastStripe(accumulators, data[^StripeLength..], vectorization);
        return Merge64(accumulators, data.Length);
    }

    /// <summary>XXH3-128 with the long-input accumulator chosen by <paramref name="vectorization"/>.</summary>
    internal static UInt128 Hash128(ReadOnlySpan<byte> data, Xxh3Vectorization vectorization)
    {
        if (data.Length <= 16)
        {
            return Hash128UpTo16(data);
        }
        if (data.Length <= 128)
        {
            return Hash128UpTo128(data);
        }
        if (data.Length <= MidSizeMax)
        {
            return Hash128UpTo240(data);
        }
        Span<ulong> accumulators = stackalloc ulong[8];
        InitializeAccumulators(accumulators);
        var stripesInBlock = 0;
        ConsumeStripes(accumulators, ref stripesInBlock, data, (data.Length - 1) / StripeLength, vectorization);
        AccumulateLastStripe(accumulators, data[^StripeLength..], vectorization);
        return Merge128(accumulators, data.Length);
    }

    // ---- Long inputs (> 240 bytes) ----------------------------------------------------------------------
    // The input is cut into 64-byte stripes; stripe i of a block is keyed with Secret[8i..8i+64). After each
    // block of 16 stripes the accumulators are scrambled. Only stripes with at least one byte after them are
    // accumulated this way; the last 64 bytes of the input (which may overlap the previous stripe) are
    // accumulated with the secret at offset 121. Eight accumulators are then merged into the result.

    /// <summary>XXH3_INIT_ACC.</summary>
    internal static void InitializeAccumulators(Span<ulong> accumulators)
    {
        accumulators[0] = Prime32_3;
        accumulators[1] = Prime64_1;
        accumulators[2] = Prime64_2;
        accumulators[3] = Prime64_3;
        accumulators[4] = Prime64_4;
        accumulators[5] = Prime32_2;
        accumulators[6] = Prime64_5;
        accumulators[7] = Prime32_1;
    }

    /// <summary>
    /// Accumulates <paramref name="stripes"/> whole stripes from <paramref name="input"/>, continuing a block that
    /// already holds <paramref name="stripesInBlock"/> stripes, and scrambles after every full block.
    /// </summary>
    internal static void ConsumeStripes(Span<ulong> accumulators, ref int stripesInBlock, ReadOnlySpan<byte> input, int stripes, Xxh3Vectorization vectorization)
    {
        switch (vectorization)
        {
            case Xxh3Vectorization.Vector512:
                ConsumeStripes<Xxh3Vector512Accumulator>(accumulators, ref stripesInBlock, input, stripes);
                break;
            case Xxh3Vectorization.Vector256:
                ConsumeStripes<Xxh3Vector256Accumulator>(accumulators, ref stripesInBlock, input, stripes);
                break;
            default:
                ConsumeStripes<Xxh3ScalarAccumulator>(accumulators, ref stripesInBlock, input, stripes);
                break;
        }
    }

    /// <summary>Accumulates the final 64 bytes of a long input with the secret at offset 121.</summary>
    internal static void AccumulateLastStripe(Span<ulong> accumulators, ReadOnlySpan<byte> lastStripe, Xxh3Vectorization vectorization)
    {
        var secret = Secret[LastStripeSecretOffset..];
        switch (vectorization)
        {
            case Xxh3Vectorization.Vector512:
                Xxh3Vector512Accumulator.Accumulate(accumulators, lastStripe, secret, 1);
                break;
            case Xxh3Vectorization.Vector256:
                Xxh3Vector256Accumulator.Accumulate(accumulators, lastStripe, secret, 1);
                break;
            default:
                Xxh3ScalarAccumulator.Accumulate(accumulators, lastStripe, secret, 1);
                break;
        }
    }

    /// <summary>The XXH3-64 result of a long input from its final accumulators.</summary>
    internal static ulong Merge64(ReadOnlySpan<ulong> accumulators, long length) =>
        MergeAccumulators(accumulators, Secret[MergeSecretOffset..], (ulong)length * Prime64_1);

    /// <summary>The XXH128 result of a long input from its final accumulators.</summary>
    internal static UInt128 Merge128(ReadOnlySpan<ulong> accumulators, long length)
    {
        var low = MergeAccumulators(accumulators, Secret[MergeSecretOffset..], (ulong)length * Prime64_1);
        var high = MergeAccumulators(accumulators, Secret[(SecretSize - 64 - MergeSecretOffset)..], ~((ulong)length * Prime64_2));
        return new UInt128(high, low);
    }

    private static void ConsumeStripes<TAccumulator>(Span<ulong> accumulators, ref int stripesInBlock, ReadOnlySpan<byte> input, int stripes)
        where TAccumulator : IXxh3Accumulator
    {
        while (stripes > 0)
        {
            var count = Math.Min(StripesPerBlock - stripesInBlock, stripes);
            TAccumulator.Accumulate(accumulators, input, Secret[(stripesInBlock * 8)..], count);
            input = input[(count * StripeLength)..];
            stripes -= count;
            stripesInBlock += count;
            if (stripesInBlock == StripesPerBlock)
            {
                TAccumulator.Scramble(accumulators, Secret[ScrambleSecretOffset..]);
                stripesInBlock = 0;
            }
        }
    }

    private static ulong MergeAccumulators(ReadOnlySpan<ulong> accumulators, ReadOnlySpan<byte> secret, ulong start)
    {
        var result = start;
        for (var i = 0; i < 4; i++)
        {
            result += MultiplyFold(
                accumulators[2 * i] ^ ReadUInt64(secret, 16 * i),
                accumulators[(2 * i) + 1] ^ ReadUInt64(secret, (16 * i) + 8));
        }
        return Avalanche(result);
    }

    // ---- XXH3-64, inputs up to 240 bytes ------------------------------------------------------------------

    private static ulong Hash64UpTo16(ReadOnlySpan<byte> input)
    {
        var secret = Secret;
        var length = input.Length;
        if (length > 8)
        {
            var low = ReadUInt64(input, 0) ^ (ReadUInt64(secret, 24) ^ ReadUInt64(secret, 32));
            var high = ReadUInt64(input, length - 8) ^ (ReadUInt64(secret, 40) ^ ReadUInt64(secret, 48));
            var accumulator = (ulong)length + BinaryPrimitives.ReverseEndianness(low) + high + MultiplyFold(low, high);
            return Avalanche(accumulator);
        }
        if (length >= 4)
        {
            var first = (ulong)ReadUInt32(input, 0);
            var last = (ulong)ReadUInt32(input, length - 4);
            var keyed = (last + (first << 32)) ^ (ReadUInt64(secret, 8) ^ ReadUInt64(secret, 16));
            return RrMxMx(keyed, (ulong)length);
        }
        if (length > 0)
        {
            return Xxh64Avalanche(Combine1To3(input) ^ (ulong)(ReadUInt32(secret, 0) ^ ReadUInt32(secret, 4)));
        }
        return Xxh64Avalanche(ReadUInt64(secret, 56) ^ ReadUInt64(secret, 64));
    }

    private static ulong Hash64UpTo128(ReadOnlySpan<byte> input)
    {
        var secret = Secret;
        var length = input.Length;
        var accumulator = (ulong)length * Prime64_1;
        if (length > 32)
        {
            if (length > 64)
            {
                if (length > 96)
                {
                    accumulator += Mix16(input, 48, secret, 96);
                    accumulator += Mix16(input, length - 64, secret, 112);
                }
                accumulator += Mix16(input, 32, secret, 64);
                accumulator += Mix16(input, length - 48, secret, 80);
            }
            accumulator += Mix16(input, 16, secret, 32);
            accumulator += Mix16(input, length - 32, secret, 48);
        }
        accumulator += Mix16(input, 0, secret, 0);
        accumulator += Mix16(input, length - 16, secret, 16);
        return Avalanche(accumulator);
    }

    private static ulong Hash64UpTo240(ReadOnlySpan<byte> input)
    {
        var secret = Secret;
        var length = input.Length;
        var accumulator = (ulong)length * Prime64_1;
        for (var i = 0; i < 8; i++)
        {
            accumulator += Mix16(input, 16 * i, secret, 16 * i);
        }
        accumulator = Avalanche(accumulator);
        var rounds = length / 16;
        for (var i = 8; i < rounds; i++)
        {
            accumulator += Mix16(input, 16 * i, secret, (16 * (i - 8)) + MidSizeStartOffset);
        }
        accumulator += Mix16(input, length - 16, secret, SecretSizeMin - MidSizeLastOffset);
        return Avalanche(accumulator);
    }

    // ---- XXH128, inputs up to 240 bytes -------------------------------------------------------------------

    private static UInt128 Hash128UpTo16(ReadOnlySpan<byte> input)
    {
        var secret = Secret;
        var length = input.Length;
        if (length > 8)
        {
            var flipLow = ReadUInt64(secret, 32) ^ ReadUInt64(secret, 40);
            var flipHigh = ReadUInt64(secret, 48) ^ ReadUInt64(secret, 56);
            var inputLow = ReadUInt64(input, 0);
            var inputHigh = ReadUInt64(input, length - 8);
            var mHigh = Math.BigMul(inputLow ^ inputHigh ^ flipLow, Prime64_1, out var mLow);
            mLow += (ulong)(length - 1) << 54;
            inputHigh ^= flipHigh;
            mHigh += inputHigh + ((uint)inputHigh * (Prime32_2 - 1));
            mLow ^= BinaryPrimitives.ReverseEndianness(mHigh);
            var hHigh = Math.BigMul(mLow, Prime64_2, out var hLow);
            hHigh += mHigh * Prime64_2;
            return new UInt128(Avalanche(hHigh), Avalanche(hLow));
        }
        if (length >= 4)
        {
            var inputLow = (ulong)ReadUInt32(input, 0);
            var inputHigh = (ulong)ReadUInt32(input, length - 4);
            var keyed = (inputLow + (inputHigh << 32)) ^ (ReadUInt64(secret, 16) ^ ReadUInt64(secret, 24));
            var mHigh = Math.BigMul(keyed, Prime64_1 + ((ulong)length << 2), out var mLow);
            mHigh += mLow << 1;
            mLow ^= mHigh >> 3;
            mLow ^= mLow >> 35;
            mLow *= PrimeMx2;
            mLow ^= mLow >> 28;
            return new UInt128(Avalanche(mHigh), mLow);
        }
        if (length > 0)
        {
            var combinedLow = (uint)Combine1To3(input);
            var combinedHigh = BitOperations.RotateLeft(BinaryPrimitives.ReverseEndianness(combinedLow), 13);
            var low = Xxh64Avalanche(combinedLow ^ (ulong)(ReadUInt32(secret, 0) ^ ReadUInt32(secret, 4)));
            var high = Xxh64Avalanche(combinedHigh ^ (ulong)(ReadUInt32(secret, 8) ^ ReadUInt32(secret, 12)));
            return new UInt128(high, low);
        }
        return new UInt128(
            Xxh64Avalanche(ReadUInt64(secret, 80) ^ ReadUInt64(secret, 88)),
            Xxh64Avalanche(ReadUInt64(secret, 64) ^ ReadUInt64(secret, 72)));
    }

    private static UInt128 Hash128UpTo128(ReadOnlySpan<byte> input)
    {
        var secret = Secret;
        var length = input.Length;
        var low = (ulong)length * Prime64_1;
        var high = 0UL;
        if (length > 32)
        {
            if (length > 64)
            {
                if (length > 96)
                {
                    Mix32(ref low, ref high, input, 48, length - 64, secret, 96);
                }
                Mix32(ref low, ref high, input, 32, length - 48, secret, 64);
            }
            Mix32(ref low, ref high, input, 16, length - 32, secret, 32);
        }
        Mix32(ref low, ref high, input, 0, length - 16, secret, 0);
        return Finish128(low, high, length);
    }

    private static UInt128 Hash128UpTo240(ReadOnlySpan<byte> input)
    {
        var secret = Secret;
        var length = input.Length;
        var low = (ulong)length * Prime64_1;
        var high = 0UL;
        for (var i = 0; i < 4; i++)
        {
            Mix32(ref low, ref high, input, 32 * i, (32 * i) + 16, secret, 32 * i);
        }
        low = Avalanche(low);
        high = Avalanche(high);
        var rounds = length / 32;
        for (var i = 4; i < rounds; i++)
        {
            Mix32(ref low, ref high, input, 32 * i, (32 * i) + 16, secret, MidSizeStartOffset + (32 * (i - 4)));
        }
        // With seed 0 the reference's "0 - seed" for this last round is 0 as well.
        Mix32(ref low, ref high, input, length - 16, length - 32, secret, SecretSizeMin - MidSizeLastOffset - 16);
        return Finish128(low, high, length);
    }

    private static UInt128 Finish128(ulong low, ulong high, int length)
    {
        var resultLow = low + high;
        var resultHigh = (low * Prime64_1) + (high * Prime64_4) + ((ulong)length * Prime64_2);
        return new UInt128(0UL - Avalanche(resultHigh), Avalanche(resultLow));
    }

    // ---- Mixing primitives --------------------------------------------------------------------------------

    /// <summary>len 1–3: { input[len-1], len, input[0], input[len/2] } as a little-endian 32-bit word.</summary>
    private static ulong Combine1To3(ReadOnlySpan<byte> input)
    {
        var length = input.Length;
        return ((uint)input[0] << 16) | ((uint)input[length >> 1] << 24) | input[length - 1] | ((uint)length << 8);
    }

    /// <summary>XXH3_mix16B with seed 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix16(ReadOnlySpan<byte> input, int inputOffset, ReadOnlySpan<byte> secret, int secretOffset) =>
        MultiplyFold(
            ReadUInt64(input, inputOffset) ^ ReadUInt64(secret, secretOffset),
            ReadUInt64(input, inputOffset + 8) ^ ReadUInt64(secret, secretOffset + 8));

    /// <summary>XXH128_mix32B with seed 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mix32(ref ulong low, ref ulong high, ReadOnlySpan<byte> input, int offset1, int offset2, ReadOnlySpan<byte> secret, int secretOffset)
    {
        low += Mix16(input, offset1, secret, secretOffset);
        low ^= ReadUInt64(input, offset2) + ReadUInt64(input, offset2 + 8);
        high += Mix16(input, offset2, secret, secretOffset + 16);
        high ^= ReadUInt64(input, offset1) + ReadUInt64(input, offset1 + 8);
    }

    /// <summary>XXH3_mul128_fold64: the 128-bit product's halves XOR-ed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MultiplyFold(ulong left, ulong right)
    {
        var high = Math.BigMul(left, right, out var low);
        return low ^ high;
    }

    /// <summary>XXH3_avalanche.</summary>
    private static ulong Avalanche(ulong h)
    {
        h ^= h >> 37;
        h *= PrimeMx1;
        return h ^ (h >> 32);
    }

    /// <summary>XXH64_avalanche.</summary>
    private static ulong Xxh64Avalanche(ulong h)
    {
        h ^= h >> 33;
        h *= Prime64_2;
        h ^= h >> 29;
        h *= Prime64_3;
        return h ^ (h >> 32);
    }

    /// <summary>XXH3_rrmxmx (after Pelle Evensen's rrmxmx).</summary>
    private static ulong RrMxMx(ulong h, ulong length)
    {
        h ^= BitOperations.RotateLeft(h, 49) ^ BitOperations.RotateLeft(h, 24);
        h *= PrimeMx2;
        h ^= (h >> 35) + length;
        h *= PrimeMx2;
        return h ^ (h >> 28);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadUInt64(ReadOnlySpan<byte> source, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(source[offset..]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadUInt32(ReadOnlySpan<byte> source, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(source[offset..]);
}
