using System.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;

namespace DeltaSnap.Remote.Tests;

/// <summary>Negotiated compression of data frames, and the bandwidth limit.</summary>
[NonParallelizable]
public sealed class CompressionAndLimitTests
{
    [TestCase(SessionCompression.Lz4)]
    [TestCase(SessionCompression.Zstd)]
    public async Task Send_compressibleStream_crossesTheWireCompressed(SessionCompression compression)
    {
        using var dir = new TempDirectory();
        var store = dir.File("a.lvs");
        await using (var driver = await LvolDriver.CreateStoreAsync(store))
        {
            var v = await driver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 16 << 20 });
            await using (var device = await v.OpenDeviceAsync(null, writable: true))
            {
                var text = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 100_000).Select(i => $"line {i % 977} of a log file\n")));
                await device.WriteAsync(0, text.AsMemory(0, Math.Min(text.Length, 8 << 20)));
                await device.FlushAsync();
            }
            await v.CreateSnapshotAsync("s1");
        }
        await using var loop = await Loopback.StartAsync(clientOptions: new RemoteSessionOptions { Compression = [compression] });
        Assert.That(loop.Session.Compression, Is.EqualTo(compression));
        var source = await loop.Session.OpenVolumeAsync($"lvol:{store}#vm");
        var before = loop.Session.WireBytesReceived;
        using var sink = new MemoryStream();
        await source.SendAsync(null, "s1", sink);
        var wire = loop.Session.WireBytesReceived - before;
        TestContext.Out.WriteLine($"{compression}: stream {sink.Length} bytes, wire {wire} bytes");
        Assert.That(wire, Is.LessThan(sink.Length / 3));
        await source.Driver.DisposeAsync();
    }

    [Test]
    public async Task Send_streamTheBackendCompressed_isNotCompressedAgain()
    {
        using var dir = new TempDirectory();
        var store = dir.File("a.lvs");
        await using (var driver = await LvolDriver.CreateStoreAsync(store))
        {
            var v = await driver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 8 << 20 });
            await using (var device = await v.OpenDeviceAsync(null, writable: true))
            {
                await device.WriteAsync(0, new byte[4 << 20].Select((_, i) => (byte)(i % 7 == 0 ? 1 : 0)).ToArray());
                await device.FlushAsync();
            }
            await v.CreateSnapshotAsync("s1");
        }
        await using var loop = await Loopback.StartAsync(clientOptions: new RemoteSessionOptions { Compression = [SessionCompression.Lz4] });
        var source = await loop.Session.OpenVolumeAsync($"lvol:{store}#vm");
        var before = loop.Session.WireBytesReceived;
        using var sink = new MemoryStream();
        // lvol ignores Compressed; the flag alone tells the session the payload is compressed already.
        await source.SendAsync(null, "s1", sink, new NativeSendOptions { Compressed = true });
        var wire = loop.Session.WireBytesReceived - before;
        Assert.That(wire, Is.GreaterThan(sink.Length), "sent as it is: the stream plus framing");
        await source.Driver.DisposeAsync();
    }

    [Test]
    public async Task BandwidthLimit_serverLimit_sendTakesAtLeastTheBytesOverTheLimit()
    {
        using var dir = new TempDirectory();
        var store = dir.File("a.lvs");
        await using (var driver = await LvolDriver.CreateStoreAsync(store))
        {
            var v = await driver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 8 << 20 });
            await using (var device = await v.OpenDeviceAsync(null, writable: true))
            {
                var data = new byte[6 << 20];
                new Random(3).NextBytes(data);
                await device.WriteAsync(0, data);
                await device.FlushAsync();
            }
            await v.CreateSnapshotAsync("s1");
        }
        const long Limit = 2 << 20;
        await using var loop = await Loopback.StartAsync(serverOptions: new VolumeServerOptions { BandwidthLimit = Limit },
            clientOptions: new RemoteSessionOptions { Compression = [SessionCompression.None] });
        var source = await loop.Session.OpenVolumeAsync($"lvol:{store}#vm");
        using var sink = new MemoryStream();
        var watch = Stopwatch.StartNew();
        await source.SendAsync(null, "s1", sink);
        var elapsed = watch.Elapsed;
        TestContext.Out.WriteLine($"{sink.Length} bytes in {elapsed.TotalSeconds:0.00} s at a limit of {Limit} B/s");
        // A lower bound only (a loaded machine can only make it slower): the bucket starts with at most 0.2 MiB.
        Assert.That(elapsed.TotalSeconds, Is.GreaterThanOrEqualTo((sink.Length - (Limit / 10) - (64 << 10)) / (double)Limit * 0.9));
        await source.Driver.DisposeAsync();
    }
}
