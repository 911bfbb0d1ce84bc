using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace DeltaSnap.Checksums;

/// <summary>CRC-32C (Castagnoli, reflected, init and xorout all ones); check value of "123456789" is 0xE3069283.</summary>
public static class Crc32C
{
    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues <paramref name="crc"/> (a finished CRC-32C of earlier bytes, 0 for none) over <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) => ~Update(~crc, data);

    internal static uint Update(uint state, ReadOnlySpan<byte> data)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var w in words)
        {
            state = (uint)BitOperations.Crc32C(state, w);
        }
        foreach (var b in data[(words.Length * 8)..])
        {
            state = BitOperations.Crc32C(state, b);
        }
        return state;
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
