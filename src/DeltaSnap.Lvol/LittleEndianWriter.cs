using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace DeltaSnap.Lvol;

/// <summary>The little-endian fields the store's metadata and the lvol diff stream write.</summary>
internal static class LittleEndianWriter
{
    public static void WriteUInt32(this IBufferWriter<byte> w, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(w.GetSpan(4), value);
        w.Advance(4);
    }

    public static void WriteUInt64(this IBufferWriter<byte> w, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(w.GetSpan(8), value);
        w.Advance(8);
    }

    /// <summary>A string as UTF-8 after its length in bytes (16 bits).</summary>
    public static void WriteString16(this IBufferWriter<byte> w, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        BinaryPrimitives.WriteUInt16LittleEndian(w.GetSpan(2), (ushort)bytes.Length);
        w.Advance(2);
        w.Write(bytes);
    }
}
