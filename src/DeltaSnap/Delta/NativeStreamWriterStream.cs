using System.Buffers;

namespace DeltaSnap.Delta;

/// <summary>
/// The write-only <see cref="Stream"/> of <see cref="DeltaStreamWriter.AsNativeStream"/>: what is written becomes
/// native records of the delta stream.
/// </summary>
internal sealed class NativeStreamWriterStream(DeltaStreamWriter writer) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException("A native stream has no known length.");

    public override long Position
    {
        get => throw new NotSupportedException("A native stream cannot seek.");
        set => throw new NotSupportedException("A native stream cannot seek.");
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        writer.WriteNativeAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        writer.WriteNativeAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        writer.WriteNativeAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            buffer.CopyTo(rented);
            writer.WriteNativeAsync(rented.AsMemory(0, buffer.Length)).AsTask().GetAwaiter().GetResult();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        writer.IsCompleted ? Task.CompletedTask : writer.FlushAsync(cancellationToken);

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("A native stream written into a delta stream is write-only.");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A native stream cannot seek.");

    public override void SetLength(long value) => throw new NotSupportedException("A native stream cannot change length.");
}
