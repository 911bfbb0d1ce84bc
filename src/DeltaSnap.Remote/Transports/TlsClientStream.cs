using System.Net.Security;
using System.Security.Authentication;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// The client's TLS stream. With TLS 1.3 the client's handshake completes before the server has checked the client's
/// certificate, so a server that refuses it is seen only at the first read (an alert, or the connection closed before
/// the first byte): that failure becomes <see cref="PeerRefusedException"/>. Everything else passes through.
/// </summary>
internal sealed class TlsClientStream(SslStream inner, string peer) : Stream
{
    private bool _received;

    /// <summary>The refusal this stream reported, if it did (a session layer may report the closed connection instead).</summary>
    public PeerRefusedException? Refusal { get; private set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_received)
        {
            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        int n;
        try
        {
            n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or AuthenticationException)
        {
            throw Refused(e);
        }
        if (n == 0 && buffer.Length > 0)
        {
            throw Refused(null);
        }
        _received = n > 0;
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!_received && e is IOException or AuthenticationException)
        {
            throw Refused(e);
        }
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    private PeerRefusedException Refused(Exception? e) => Refusal ??= new(
        $"The server {peer} closed the connection right after the TLS handshake{(e is null ? "" : " (" + TlsTransport.Inner(e) + ")")}: it did not accept this client's certificate.",
        e);
}
