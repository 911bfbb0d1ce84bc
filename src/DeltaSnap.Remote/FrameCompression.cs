using System.Buffers.Binary;
using K4os.Compression.LZ4;
using ZstdSharp;

namespace DeltaSnap.Remote;

/// <summary>
/// Compression of data frame payloads: a compressed payload is the original length (u32, big-endian, at most 1 MiB)
/// followed by the LZ4 block or the zstd frame. A payload that does not shrink is sent as it is (flag 0).
/// </summary>
internal static class FrameCompression
{
    private const int ZstdLevel = 3;

    [ThreadStatic]
    private static Compressor? _compressor;

    [ThreadStatic]
    private static Decompressor? _decompressor;

    /// <summary>The buffer size <see cref="TryCompress"/> needs for <paramref name="length"/> bytes.</summary>
    public static int MaxCompressedLength(int length) =>
        4 + Math.Max(LZ4Codec.MaximumOutputSize(length), (int)Compressor.GetCompressBound(length));

    /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/>; returns the frame flag and length, or flag 0 when it did not shrink.</summary>
    public static (byte Flag, int Length) TryCompress(SessionCompression compression, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (compression == SessionCompression.None || source.Length < 512)
        {
            return (0, 0);
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)source.Length);
        int written;
        byte flag;
        if (compression == SessionCompression.Lz4)
        {
            written = LZ4Codec.Encode(source, destination[4..], LZ4Level.L00_FAST);
            flag = FrameHeader.FlagLz4;
        }
        else
        {
            _compressor ??= new Compressor(ZstdLevel);
            written = _compressor.Wrap(source, destination[4..]);
            flag = FrameHeader.FlagZstd;
        }
        return written <= 0 || written + 4 >= source.Length ? ((byte)0, 0) : (flag, written + 4);
    }

    /// <summary>The original length a compressed payload declares.</summary>
    /// <exception cref="SessionException">The payload is too short or declares more than a data frame may carry.</exception>
    public static int DeclaredLength(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 4)
        {
            throw Violation("A compressed data frame is shorter than its 4-byte length.");
        }
        var length = BinaryPrimitives.ReadUInt32BigEndian(payload);
        if (length == 0 || length > SessionLimits.MaxDataFrame)
        {
            throw Violation($"A compressed data frame declares {length} bytes; at most {SessionLimits.MaxDataFrame} are allowed.");
        }
        return (int)length;
    }

    /// <summary>Decompresses a payload whose original length is <c>destination.Length</c>.</summary>
    /// <exception cref="SessionException">The payload is damaged, of an unknown compression, or not of its declared length.</exception>
    public static void Decompress(byte flag, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        int written;
        try
        {
            written = flag switch
            {
                FrameHeader.FlagLz4 => LZ4Codec.Decode(payload[4..], destination),
                FrameHeader.FlagZstd => (_decompressor ??= new Decompressor()).Unwrap(payload[4..], destination),
                _ => throw Violation($"A data frame has unknown compression flag {flag}."),
            };
        }
        catch (ZstdException e)
        {
            throw Violation($"A zstd data frame is damaged: {e.Message}");
        }
        if (written != destination.Length)
        {
            throw Violation($"A compressed data frame decompressed to {written} bytes instead of the {destination.Length} it declares.");
        }
    }

    private static SessionException Violation(string message) => new(SessionErrorReason.ProtocolViolation, message);
}
