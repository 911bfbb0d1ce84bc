namespace DeltaSnap.Testing.Streams;

/// <summary>Helpers that damage serialized data the way bad disks and networks do.</summary>
public static class Damage
{
    /// <summary>A copy with bit <paramref name="bit"/> of byte <paramref name="offset"/> flipped.</summary>
    public static byte[] FlipBit(ReadOnlySpan<byte> data, int offset, int bit = 0)
    {
        var copy = data.ToArray();
        copy[offset] ^= (byte)(1 << bit);
        return copy;
    }

    /// <summary>The first <paramref name="length"/> bytes.</summary>
    public static byte[] Truncate(ReadOnlySpan<byte> data, int length) => data[..length].ToArray();
}

/// <summary>A read-only stream that hands out at most <c>chunk</c> bytes per read and then throws after <c>failAfter</c> bytes, like a dropped connection.</summary>
public sealed class ThrowAfterNBytesStream(Stream inner, long failAfter, int chunk = int.MaxValue) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_position >= failAfter)
        {
            throw new IOException($"Injected connection loss after {failAfter} bytes.");
        }
        var n = inner.Read(buffer[..(int)Math.Min(Math.Min(buffer.Length, chunk), failAfter - _position)]);
        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position >= failAfter)
        {
            throw new IOException($"Injected connection loss after {failAfter} bytes.");
        }
        var n = await inner.ReadAsync(buffer[..(int)Math.Min(Math.Min(buffer.Length, chunk), failAfter - _position)], cancellationToken);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
