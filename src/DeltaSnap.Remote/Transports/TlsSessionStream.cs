using System.Net.Security;
using System.Security.Authentication;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// A session's TLS stream, on either side. A TLS record cut off half-written cannot be continued: a write that is
/// cancelled while in flight closes the connection (the session is over either way) instead of leaving the stream to
/// send a corrupt record later. On the client, with TLS 1.3 the handshake completes before the server has checked the
/// client's certificate, so a server that refuses it is seen only at the first read (an alert, or the connection closed
/// before the first byte): that failure becomes <see cref="PeerRefusedException"/>. Everything else passes through.
/// </summary>
internal sealed class TlsSessionStream(SslStream inner, string peer, bool isClient) : Stream
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
        if (_received || !isClient)
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

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Never cancel the TLS write itself: cancelling closes the connection, which fails the write.
        var registration = cancellationToken.Register(static s => ((SslStream)s!).Dispose(), inner);
        try
        {
            await inner.WriteAsync(buffer, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is IOException or ObjectDisposedException)
        {
            throw new OperationCanceledException("The write was cancelled; the connection is closed.", e, cancellationToken);
        }
        catch (Exception e) when (isClient && !_received && e is IOException or AuthenticationException)
        {
            throw Refused(e);
        }
        finally
        {
            await registration.DisposeAsync().ConfigureAwait(false);
        }
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(CancellationToken.None);

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
