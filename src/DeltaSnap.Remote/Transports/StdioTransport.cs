using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// The server side of the ssh transport (<c>deltasnap serve --stdio</c>): this process's standard input and output as
/// one duplex stream. Nothing else may write to standard output while it is in use (logs go to standard error).
/// </summary>
public static class StdioTransport
{
    /// <summary>Standard input (reads) and standard output (writes) as one stream; disposing it leaves both descriptors open.</summary>
    public static Stream OpenStandardStreams()
    {
        var input = new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0);
        var output = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        return new JoinedStream(input, output);
    }
}

/// <summary>Two one-way streams as one duplex stream: reads from one, writes to the other.</summary>
internal sealed class JoinedStream(Stream readable, Stream writable) : Stream
{
    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => readable.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => readable.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        readable.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        readable.ReadAsync(buffer, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => writable.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => writable.Write(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        writable.WriteAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        writable.WriteAsync(buffer, cancellationToken);

    public override void Flush() => writable.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => writable.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        await readable.DisposeAsync().ConfigureAwait(false);
        await writable.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            readable.Dispose();
            writable.Dispose();
        }
        base.Dispose(disposing);
    }
}
