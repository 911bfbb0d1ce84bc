using System.Buffers;

namespace DeltaSnap.Delta;

/// <summary>
/// The read-only <see cref="Stream"/> of <see cref="DeltaStreamReader.AsNativeStream"/>: the payloads of a delta
/// stream's native records, end to end, ending once the trailer is verified.
/// </summary>
internal sealed class NativeStreamReaderStream(DeltaStreamReader reader) : Stream
{
    private ReadOnlySequence<byte> _remaining;
    private bool _ended;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException("A native stream has no known length.");

    public override long Position
    {
        get => throw new NotSupportedException("A native stream cannot seek.");
        set => throw new NotSupportedException("A native stream cannot seek.");
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        while (_remaining.IsEmpty)
        {
            if (_ended)
            {
                return 0;
            }
            if (reader.Header is null)
            {
                DeltaStreamReader.CheckNative(await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false));
            }
            var record = await reader.ReadRecordAsync(cancellationToken).ConfigureAwait(false);
            if (record is null)
            {
                _ended = true;
                return 0;
            }
            _remaining = record.Value.Payload;
        }
        var n = (int)Math.Min(buffer.Length, _remaining.Length);
        _remaining.Slice(0, n).CopyTo(buffer.Span);
        _remaining = _remaining.Slice(n);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            var n = ReadAsync(rented.AsMemory(0, buffer.Length)).AsTask().GetAwaiter().GetResult();
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A native stream cannot seek.");

    public override void SetLength(long value) => throw new NotSupportedException("A native stream is read-only.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("A native stream read from a delta stream is read-only.");
}
