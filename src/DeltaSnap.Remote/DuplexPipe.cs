using System.IO.Pipelines;

namespace DeltaSnap.Remote;

/// <summary>
/// Two connected in-memory streams: what one writes, the other reads. Each direction holds at most 1 MiB
/// before a write waits (backpressure). For in-process sessions (a local refresh through the same protocol)
/// and tests.
/// </summary>
public static class DuplexPipe
{
    private const long PauseWriterThreshold = 1 << 20;

    /// <summary>Creates a connected pair. Disposing one end completes its writing side; the other end then reads end of stream.</summary>
    public static (Stream Client, Stream Server) CreatePair()
    {
        var options = new PipeOptions(pauseWriterThreshold: PauseWriterThreshold, resumeWriterThreshold: PauseWriterThreshold / 2, useSynchronizationContext: false);
        var toServer = new Pipe(options);
        var toClient = new Pipe(options);
        return (new DuplexPipeStream(toClient.Reader, toServer.Writer), new DuplexPipeStream(toServer.Reader, toClient.Writer));
    }

    private sealed class DuplexPipeStream(PipeReader reader, PipeWriter writer) : Stream
    {
        private readonly Stream _reader = reader.AsStream();
        private readonly Stream _writer = writer.AsStream();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _reader.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _reader.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _reader.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => _writer.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _writer.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _writer.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Flush() => _writer.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => _writer.FlushAsync(cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                writer.Complete();
                reader.Complete();
            }
            base.Dispose(disposing);
        }
    }
}
