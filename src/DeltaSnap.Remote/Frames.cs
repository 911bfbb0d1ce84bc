using System.Buffers;
using System.Buffers.Binary;

namespace DeltaSnap.Remote;

/// <summary>The frame types of the session protocol (docs/transport.md).</summary>
internal enum FrameType : byte
{
    Control = 1,
    Data = 2,
    DataEnd = 3,
    DataError = 4,
    Credit = 5,
    Heartbeat = 6,
    Close = 7,
}

/// <summary>The 16-byte frame header: type (u8), flags (u8), reserved (u16, 0), channel (u32), payload length (u64), big-endian.</summary>
internal readonly record struct FrameHeader(FrameType Type, byte Flags, uint Channel, ulong Length)
{
    public const int Size = 16;

    /// <summary>Data frame flag values (the low two bits): how the payload is compressed.</summary>
    public const byte FlagLz4 = 1;

    public const byte FlagZstd = 2;

    public void Write(Span<byte> destination)
    {
        destination[0] = (byte)Type;
        destination[1] = Flags;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], Channel);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Length);
    }

    public static FrameHeader Read(ReadOnlySpan<byte> source) =>
        new((FrameType)source[0], source[1], BinaryPrimitives.ReadUInt32BigEndian(source[4..]), BinaryPrimitives.ReadUInt64BigEndian(source[8..]));

    public static ushort Reserved(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt16BigEndian(source[2..]);
}

/// <summary>A received data frame's payload (pooled; returned when consumed).</summary>
internal sealed class InboundFrame(FrameType type, byte flags, byte[]? buffer, int length)
{
    public FrameType Type { get; } = type;

    public byte Flags { get; } = flags;

    public int Length { get; } = length;

    public ReadOnlyMemory<byte> Payload => buffer is null ? ReadOnlyMemory<byte>.Empty : buffer.AsMemory(0, Length);

    public void Release()
    {
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = null;
        }
    }
}
