namespace DeltaSnap.Tests.Checksums;

/// <summary>
/// Independent references and inputs for the checksum tests: bit-at-a-time CRCs written straight from the
/// definition (no tables, no folding, nothing shared with the code under test) and seeded random data.
/// </summary>
internal static class ChecksumTestData
{
    /// <summary>Every length the exhaustive tests cover: 0 to this, inclusive (spans every XXH3 length class and several 1 KiB blocks).</summary>
    public const int MaxExhaustiveLength = 4200;

    /// <summary>CRC-32C by definition: reflected polynomial 0x82F63B78, one bit at a time, on a raw register.</summary>
    public static uint BitwiseCrc32C(uint register, ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            register ^= b;
            for (var k = 0; k < 8; k++)
            {
                register = (register & 1) != 0 ? (register >> 1) ^ 0x82F63B78u : register >> 1;
            }
        }
        return register;
    }

    /// <summary>CRC-64/ISO by definition: reflected polynomial 0xD800000000000000, one bit at a time, on a raw register.</summary>
    public static ulong BitwiseCrc64Iso(ulong register, ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            register ^= b;
            for (var k = 0; k < 8; k++)
            {
                register = (register & 1) != 0 ? (register >> 1) ^ 0xD800000000000000UL : register >> 1;
            }
        }
        return register;
    }

    /// <summary><paramref name="length"/> random bytes from a fixed seed.</summary>
    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Cuts <paramref name="length"/> into random pieces, sometimes empty, sometimes large, never past the end.</summary>
    public static IEnumerable<int> RandomPieces(Random random, int length)
    {
        var remaining = length;
        while (remaining > 0)
        {
            var piece = random.Next(6) switch
            {
                0 => 0,
                1 => 1,
                2 => random.Next(1, 65),
                3 => random.Next(1, 300),
                4 => random.Next(1, 5000),
                _ => random.Next(1, 200_000),
            };
            piece = Math.Min(piece, remaining);
            yield return piece;
            remaining -= piece;
        }
        yield return 0;
    }
}
