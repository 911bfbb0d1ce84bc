using DeltaSnap.Drivers;
using DeltaSnap.Lvol;

namespace DeltaSnap.Remote.Tests;

/// <summary>A VolumeServer and a RemoteSession joined by an in-memory DuplexPipe, in this process.</summary>
internal sealed class Loopback : IAsyncDisposable
{
    private readonly Stream _client;
    private readonly Stream _server;

    private Loopback(Stream client, Stream server, Task serving, CancellationTokenSource stop)
    {
        _client = client;
        _server = server;
        Serving = serving;
        ServerStop = stop;
    }

    public RemoteSession Session { get; private set; } = null!;

    public Task Serving { get; }

    public CancellationTokenSource ServerStop { get; }

    public static VolumeResolver LvolResolver() => new VolumeResolver().AddLvol(new LvolBackendOptions { CreateMissingStores = true });

    public static async Task<Loopback> StartAsync(VolumeResolver? resolver = null, VolumeServerOptions? serverOptions = null, RemoteSessionOptions? clientOptions = null,
        Func<Stream, Stream>? wrapClient = null, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        var (client, server) = DuplexPipe.CreatePair();
        var stop = new CancellationTokenSource();
        var serving = Task.Run(() => new VolumeServer(resolver ?? LvolResolver(), serverOptions, loggerFactory).ServeAsync(server, new PeerIdentity("test-client"), stop.Token));
        var loopback = new Loopback(client, server, serving, stop);
        try
        {
            loopback.Session = await RemoteSession.ConnectAsync(wrapClient?.Invoke(client) ?? client, clientOptions ?? new RemoteSessionOptions { PeerName = "loop" });
        }
        catch
        {
            client.Dispose();
            server.Dispose();
            throw;
        }
        return loopback;
    }

    public async ValueTask DisposeAsync()
    {
        if (Session is not null)
        {
            await Session.DisposeAsync();
        }
        try
        {
            if (await Task.WhenAny(Serving, Task.Delay(TimeSpan.FromSeconds(2))) != Serving)
            {
                await _client.DisposeAsync(); // A client that failed sent no close: end the connection as a process exit would.
            }
            await Serving.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is SessionException or OperationCanceledException)
        {
            // Tests that break the session see the server fail; they assert on it themselves.
        }
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        ServerStop.Dispose();
    }
}

/// <summary>
/// A stream that passes reads through until <see cref="Silence"/>, after which reads wait forever (a peer gone quiet
/// without closing), or <see cref="Cut"/>, after which reads end, writes fail, and the peer sees the end of the stream
/// (a connection cut).
/// </summary>
internal sealed class SilenceableStream(Stream inner) : Stream
{
    private readonly TaskCompletionSource _never = new();
    private volatile bool _silent;
    private volatile bool _cut;

    public void Silence() => _silent = true;

    public void Cut()
    {
        _cut = true;
        inner.Dispose();
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_silent)
        {
            await _never.Task.WaitAsync(cancellationToken);
        }
        int n;
        try
        {
            n = _cut ? 0 : await inner.ReadAsync(buffer, cancellationToken);
        }
        catch (InvalidOperationException) when (_cut)
        {
            n = 0;
        }
        if (_silent)
        {
            await _never.Task.WaitAsync(cancellationToken);
        }
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _cut ? ValueTask.FromException(new IOException("The connection was cut.")) : inner.WriteAsync(buffer, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (_cut)
        {
            throw new IOException("The connection was cut.");
        }
        inner.Write(buffer, offset, count);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => _cut ? Task.CompletedTask : inner.FlushAsync(cancellationToken);

    public override void Flush()
    {
        if (!_cut)
        {
            inner.Flush();
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>Temporary files for lvol stores, removed afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dsremote-" + Guid.NewGuid().ToString("N")[..10]);

    public TempDirectory() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
