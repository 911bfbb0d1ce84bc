using System.Buffers.Binary;

namespace DeltaSnap.Checksums;

/// <summary>Writes bytes to a stream while keeping a CRC-32C of them, then appends it as a little-endian trailer.</summary>
internal sealed class ChecksummedWriter(Stream destination)
{
    private uint _crc;

    public long Position { get; private set; }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        _crc = Crc32C.Append(_crc, data.Span);
        Position += data.Length;
        await destination.WriteAsync(data, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask WriteTrailerAsync(CancellationToken cancellationToken)
    {
        var trailer = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, _crc);
        await destination.WriteAsync(trailer, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Reads bytes from a stream while keeping a CRC-32C, and checks the trailer a <see cref="ChecksummedWriter"/> wrote.</summary>
internal sealed class ChecksummedReader(Stream source)
{
    private uint _crc;

    public long Position { get; private set; }

    public async ValueTask ReadExactlyAsync(Memory<byte> buffer, string what, CancellationToken cancellationToken)
    {
        var read = await source.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < buffer.Length)
        {
            throw new CorruptDataException($"The data is truncated: it ends at byte {Position + read} while reading the {what} ({buffer.Length - read} more bytes expected).");
        }
        _crc = Crc32C.Append(_crc, buffer.Span);
        Position += read;
    }

    public async ValueTask VerifyTrailerAsync(CancellationToken cancellationToken)
    {
        var expected = _crc;
        var trailer = new byte[4];
        var read = await source.ReadAtLeastAsync(trailer, 4, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < 4)
        {
            throw new CorruptDataException($"The data is truncated: it ends at byte {Position + read}, inside the CRC-32C trailer.");
        }
        var actual = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        if (actual != expected)
        {
            throw new CorruptDataException($"The data is corrupt: its CRC-32C is 0x{expected:x8} but the trailer at byte {Position} says 0x{actual:x8}.");
        }
    }
}
