using System.Text;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Lvol;

namespace DeltaSnap.Remote.Tests;

/// <summary>The session protocol itself: handshake, framing limits, heartbeats, cancellation, flow control.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class SessionProtocolTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Test]
    public async Task Connect_compressionLists_agreeOnTheClientsFirstThatTheServerAccepts()
    {
        await using var loop = await Loopback.StartAsync(
            serverOptions: new VolumeServerOptions { Compression = [SessionCompression.Lz4, SessionCompression.None] },
            clientOptions: new RemoteSessionOptions { Compression = [SessionCompression.Zstd, SessionCompression.Lz4] });
        Assert.That(loop.Session.Compression, Is.EqualTo(SessionCompression.Lz4));
        Assert.That(loop.Session.RemoteSchemes, Does.Contain("lvol"));
    }

    [Test]
    public async Task Connect_noCompressionInCommon_failsIncompatible()
    {
        var ex = Assert.ThrowsAsync<SessionException>(async () => await Loopback.StartAsync(
            serverOptions: new VolumeServerOptions { Compression = [SessionCompression.Zstd] },
            clientOptions: new RemoteSessionOptions { Compression = [SessionCompression.None] }));
        Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.Incompatible));
    }

    [Test]
    public async Task Connect_peerIsNotASessionServer_failsWithProtocolViolation()
    {
        var (client, server) = DuplexPipe.CreatePair();
        await using (client)
        await using (server)
        {
            await server.WriteAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.6\r\n"));
            var ex = Assert.ThrowsAsync<SessionException>(async () => await RemoteSession.ConnectAsync(client));
            Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.ProtocolViolation));
            Assert.That(ex.Message, Does.Contain("SSH-2.0"));
        }
    }

    [Test]
    public async Task Connect_silentServer_failsAfterTheHandshakeTimeout()
    {
        var (client, server) = DuplexPipe.CreatePair();
        await using (client)
        await using (server)
        {
            var ex = Assert.ThrowsAsync<SessionException>(async () =>
                await RemoteSession.ConnectAsync(client, new RemoteSessionOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) }));
            Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.Timeout));
        }
    }

    [Test]
    public async Task Serve_garbageAfterTheBanner_endsTheSessionWithProtocolViolation()
    {
        var (client, server) = DuplexPipe.CreatePair();
        await using (client)
        await using (server)
        {
            var serving = new VolumeServer(Loopback.LvolResolver()).ServeAsync(server, PeerIdentity.Local);
            await client.WriteAsync(Encoding.ASCII.GetBytes("DELTASNAP-SESSION/1 lz4\n"));
            await client.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
            var ex = Assert.ThrowsAsync<SessionException>(async () => await serving.WaitAsync(Limit));
            Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.ProtocolViolation));
        }
    }

    [Test]
    public async Task Serve_frameDeclaring2Pow40Bytes_endsTheSessionWithoutReadingIt()
    {
        var (client, server) = DuplexPipe.CreatePair();
        await using (client)
        await using (server)
        {
            var serving = new VolumeServer(Loopback.LvolResolver()).ServeAsync(server, PeerIdentity.Local);
            await client.WriteAsync(Encoding.ASCII.GetBytes("DELTASNAP-SESSION/1 lz4\n"));
            var header = new byte[FrameHeader.Size];
            new FrameHeader(FrameType.Control, 0, 0, 1UL << 40).Write(header);
            await client.WriteAsync(header);
            var before = GC.GetTotalAllocatedBytes(precise: false);
            var ex = Assert.ThrowsAsync<SessionException>(async () => await serving.WaitAsync(Limit));
            Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.ProtocolViolation));
            Assert.That(ex.Message, Does.Contain("1099511627776"));
            Assert.That(GC.GetTotalAllocatedBytes(precise: false) - before, Is.LessThan(64L << 20), "nothing of the declared size was allocated");
        }
    }

    [Test]
    public async Task Client_dataFrameOverLimit_endsTheSession()
    {
        var (client, server) = DuplexPipe.CreatePair();
        await using (client)
        await using (server)
        {
            var serving = new VolumeServer(Loopback.LvolResolver()).ServeAsync(server, PeerIdentity.Local);
            await client.WriteAsync(Encoding.ASCII.GetBytes("DELTASNAP-SESSION/1\n"));
            var header = new byte[FrameHeader.Size];
            new FrameHeader(FrameType.Data, 0, 1, 16UL << 20).Write(header);
            await client.WriteAsync(header);
            var ex = Assert.ThrowsAsync<SessionException>(async () => await serving.WaitAsync(Limit));
            Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.ProtocolViolation));
        }
    }

    [Test]
    public async Task Heartbeat_peerGoesSilent_callsFailWithTimeoutAfterThePeerTimeout()
    {
        SilenceableStream? silenceable = null;
        await using var loop = await Loopback.StartAsync(
            serverOptions: new VolumeServerOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(100), PeerTimeout = TimeSpan.FromSeconds(30) },
            clientOptions: new RemoteSessionOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(100), PeerTimeout = TimeSpan.FromSeconds(1), PeerName = "quiet" },
            wrapClient: s => silenceable = new SilenceableStream(s));
        using var dir = new TempDirectory();
        await (await LvolDriver.CreateStoreAsync(dir.File("a.lvs"))).DisposeAsync();
        Assert.That(await loop.Session.VolumeExistsAsync($"lvol:{dir.File("a.lvs")}#vm"), Is.False, "the session works before");
        silenceable!.Silence();
        await Task.Delay(200);
        var ex = Assert.ThrowsAsync<SessionException>(async () => await loop.Session.VolumeExistsAsync($"lvol:{dir.File("a.lvs")}#vm").WaitAsync(Limit));
        Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.Timeout).Or.EqualTo(SessionErrorReason.ConnectionLost));
        Assert.That(ex.Message, Does.Contain("silent").Or.Contain("quiet"));
    }

    [Test]
    public async Task Heartbeat_idleSessionLongerThanThePeerTimeout_staysAlive()
    {
        await using var loop = await Loopback.StartAsync(
            serverOptions: new VolumeServerOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(100), PeerTimeout = TimeSpan.FromMilliseconds(800) },
            clientOptions: new RemoteSessionOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(100), PeerTimeout = TimeSpan.FromMilliseconds(800) });
        await Task.Delay(2500);
        using var dir = new TempDirectory();
        await (await LvolDriver.CreateStoreAsync(dir.File("a.lvs"))).DisposeAsync();
        Assert.That(await loop.Session.VolumeExistsAsync($"lvol:{dir.File("a.lvs")}#vm"), Is.False);
    }

    [Test]
    public async Task Request_failingOnTheServer_failsTheCallWithTheServersTypeAndMessage()
    {
        await using var loop = await Loopback.StartAsync();
        using var dir = new TempDirectory();
        await (await LvolDriver.CreateStoreAsync(dir.File("a.lvs"))).DisposeAsync();
        var ex = Assert.ThrowsAsync<VolumeNotFoundException>(async () => await loop.Session.OpenVolumeAsync($"lvol:{dir.File("a.lvs")}#missing"));
        Assert.That(ex!.Message, Does.Contain("missing").And.Contain("loop"));
        Assert.That(async () => await loop.Session.OpenVolumeAsync("nosuch:thing"), Throws.TypeOf<FormatException>());
    }

    [Test]
    public async Task Authorize_refusesWrites_readsWorkAndWritesFailUnauthorized()
    {
        using var dir = new TempDirectory();
        var store = dir.File("a.lvs");
        await using (var driver = await LvolDriver.CreateStoreAsync(store))
        {
            var v = await driver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 1 << 20 });
            await v.CreateSnapshotAsync("s1");
        }
        var seen = new List<(string, string, VolumeAccess)>();
        await using var loop = await Loopback.StartAsync(serverOptions: new VolumeServerOptions
        {
            Authorize = (peer, address, access) =>
            {
                lock (seen)
                {
                    seen.Add((peer.Name, address, access));
                }
                return access == VolumeAccess.Read;
            },
        });
        var volume = await loop.Session.OpenVolumeAsync($"lvol:{store}#vm");
        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        var ex = Assert.ThrowsAsync<SessionException>(async () => await volume.CreateSnapshotAsync("s2"));
        Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.Unauthorized));
        Assert.That(async () => await volume.OpenDeviceAsync(null, writable: true), Throws.TypeOf<SessionException>());
        Assert.That(seen, Does.Contain(("test-client", $"lvol:{store}#vm", VolumeAccess.Write)));
        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }), "nothing changed");
        await volume.Driver.DisposeAsync();
    }

    [Test]
    public async Task Cancel_clientCancelsAReceive_serverAbortsItAndTheSessionGoesOn()
    {
        using var dir = new TempDirectory();
        var store = dir.File("t.lvs");
        await (await LvolDriver.CreateStoreAsync(store)).DisposeAsync();
        await using var loop = await Loopback.StartAsync();
        var target = await loop.Session.CreateVolumeAsync($"lvol:{store}#vm", new VolumeCreateOptions { Size = 4 << 20 });
        using var cts = new CancellationTokenSource();
        var never = new EndlessStream(firstBytes: 0);
        var info = new SnapshotInfo("s1", SnapshotIdentity.Parse("lvol:0f0e0d0c-0000-0000-0000-000000000001"), DateTimeOffset.UtcNow);
        var receiving = target.ReceiveAsync(never, new NativeReceiveRequest { Snapshot = info }, cts.Token);
        await never.Started.WaitAsync(Limit);
        await cts.CancelAsync();
        Assert.That(async () => await receiving.WaitAsync(Limit), Throws.InstanceOf<OperationCanceledException>());
        Assert.That((await target.GetLineageAsync()).Count, Is.Zero, "nothing was received");
        Assert.That(await target.GetSizeAsync(), Is.EqualTo(4 << 20), "the session still works");
        await target.Driver.DisposeAsync();
    }

    [Test]
    public async Task Cancel_serverStops_callsInFlightFailWithConnectionLost()
    {
        using var dir = new TempDirectory();
        var store = dir.File("t.lvs");
        await (await LvolDriver.CreateStoreAsync(store)).DisposeAsync();
        await using var loop = await Loopback.StartAsync();
        var target = await loop.Session.CreateVolumeAsync($"lvol:{store}#vm", new VolumeCreateOptions { Size = 4 << 20 });
        var never = new EndlessStream(firstBytes: 0);
        var info = new SnapshotInfo("s1", SnapshotIdentity.Parse("lvol:0f0e0d0c-0000-0000-0000-000000000001"), DateTimeOffset.UtcNow);
        var receiving = target.ReceiveAsync(never, new NativeReceiveRequest { Snapshot = info });
        await never.Started.WaitAsync(Limit);
        await loop.ServerStop.CancelAsync();
        var ex = Assert.ThrowsAsync<SessionException>(async () => await receiving.WaitAsync(Limit));
        Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.ConnectionLost));
        Assert.That(async () => await loop.Serving.WaitAsync(Limit), Throws.InstanceOf<OperationCanceledException>());
        await using var local = await LvolDriver.OpenAsync(store);
        Assert.That((await (await local.OpenVolumeAsync("vm")).GetLineageAsync()).Count, Is.Zero, "the aborted receive left nothing");
    }

    [Test]
    public async Task FlowControl_slowReader_keepsWhatIsInFlightWithinTheWindow()
    {
        using var dir = new TempDirectory();
        var store = dir.File("s.lvs");
        const int Size = 48 << 20;
        await using (var driver = await LvolDriver.CreateStoreAsync(store))
        {
            var v = await driver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = Size });
            await using (var device = await v.OpenDeviceAsync(null, writable: true))
            {
                var data = new byte[1 << 20];
                new Random(1).NextBytes(data);
                for (long o = 0; o < Size; o += data.Length)
                {
                    await device.WriteAsync(o, data);
                }
                await device.FlushAsync();
            }
            await v.CreateSnapshotAsync("s1");
        }
        await using var loop = await Loopback.StartAsync(clientOptions: new RemoteSessionOptions { Compression = [SessionCompression.None] });
        var source = await loop.Session.OpenVolumeAsync($"lvol:{store}#vm");
        var slow = new SlowSink(loop.Session, TimeSpan.FromMilliseconds(4));
        GC.Collect();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        long heapPeak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                heapPeak = Math.Max(heapPeak, GC.GetTotalMemory(forceFullCollection: false));
                await Task.Delay(20);
            }
        });
        await source.SendAsync(null, "s1", slow);
        await sampling.CancelAsync();
        await sampler;
        TestContext.Out.WriteLine($"sent {slow.Bytes} bytes; the most read off the wire ahead of the reader: {slow.MaxAhead} bytes; "
            + $"managed heap {heapBefore >> 20} MiB before, at most {heapPeak >> 20} MiB during (client and server in this process)");
        Assert.That(slow.Bytes, Is.GreaterThan(Size));
        Assert.That(slow.MaxAhead, Is.LessThanOrEqualTo(SessionConnection.ChannelWindow + (1 << 20)),
            "the server sends no more than the channel's window ahead of a slow reader");
        await source.Driver.DisposeAsync();
    }

    /// <summary>A destination that takes its time and records how far the wire ran ahead of it.</summary>
    private sealed class SlowSink(RemoteSession session, TimeSpan delay) : Stream
    {
        public long Bytes { get; private set; }

        public long MaxAhead { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Bytes;

        public override long Position { get => Bytes; set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            for (var at = 0; at < buffer.Length; at += 64 << 10)
            {
                var n = Math.Min(64 << 10, buffer.Length - at);
                Bytes += n;
                MaxAhead = Math.Max(MaxAhead, session.WireBytesReceived - Bytes);
                await Task.Delay(delay, cancellationToken);
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>A source stream that gives some bytes, then waits until cancelled (a sender that stalls).</summary>
internal sealed class EndlessStream(int firstBytes) : Stream
{
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _given;

    public Task Started => _started.Task;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _started.TrySetResult();
        if (_given < firstBytes)
        {
            var n = Math.Min(buffer.Length, firstBytes - _given);
            buffer.Span[..n].Fill(0x5a);
            _given += n;
            return n;
        }
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return 0;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
