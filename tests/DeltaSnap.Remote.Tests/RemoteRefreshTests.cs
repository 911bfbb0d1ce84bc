using System.Security.Cryptography;
using DeltaSnap.Checksums;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Replication;
using DeltaSnap.Testing;

namespace DeltaSnap.Remote.Tests;

/// <summary>Refreshes through an in-memory session: push, pull and relay, native and checksum routes, wire bytes, failures.</summary>
[NonParallelizable]
public sealed class RemoteRefreshTests
{
    private static readonly DeltaSnap.Delta.DeltaPlanOptions DeltaOptions = new();

    [TestCase(false, TestName = "Push_nativeRoute_targetMatchesSource")]
    [TestCase(true, TestName = "Push_checksumRoute_targetMatchesSource")]
    public async Task Push(bool checksumRoute)
    {
        using var dir = new TempDirectory();
        await using var source = await LvolDriver.CreateStoreAsync(dir.File("a.lvs"));
        await (await LvolDriver.CreateStoreAsync(dir.File("b.lvs"))).DisposeAsync();
        await using var loop = await Loopback.StartAsync();
        var volume = await source.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 32 << 20 });
        var target = await loop.Session.CreateVolumeAsync($"lvol:{dir.File("b.lvs")}#vm", new VolumeCreateOptions { Size = 32 << 20 });
        var options = new RefreshOptions { DisableNativeStreams = checksumRoute };
        var replicator = new Replicator();

        await WriteRandomAsync(volume, seed: 1, blocks: 64, blockSize: 64 << 10);
        await volume.CreateSnapshotAsync("s1");
        var first = await replicator.RefreshAsync(volume, target, options);
        await WriteRandomAsync(volume, seed: 2, blocks: 16, blockSize: 4096);
        await volume.CreateSnapshotAsync("s2");
        await WriteRandomAsync(volume, seed: 3, blocks: 4, blockSize: 4096);
        var second = await replicator.RefreshAsync(volume, target, options);

        Assert.That(first.Route, Is.EqualTo(checksumRoute ? RefreshRoute.Checksum : RefreshRoute.NativeStream));
        Assert.That(second.Kind, Is.EqualTo(Lineage.RefreshKind.Incremental));
        Assert.That(target.Address, Is.EqualTo($"loop/lvol:{dir.File("b.lvs")}#vm"));
        await AssertSameAsync(volume, target, "s1", "s2");
        await target.Driver.DisposeAsync();
    }

    [TestCase(false, TestName = "Pull_nativeRoute_targetMatchesSource")]
    [TestCase(true, TestName = "Pull_checksumRoute_targetMatchesSource")]
    public async Task Pull(bool checksumRoute)
    {
        using var dir = new TempDirectory();
        await using (var remoteStore = await LvolDriver.CreateStoreAsync(dir.File("a.lvs")))
        {
            var v = await remoteStore.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 32 << 20 });
            await WriteRandomAsync(v, seed: 4, blocks: 64, blockSize: 64 << 10);
            await v.CreateSnapshotAsync("s1");
            await WriteRandomAsync(v, seed: 5, blocks: 8, blockSize: 4096);
        }
        await using var targetStore = await LvolDriver.CreateStoreAsync(dir.File("b.lvs"));
        await using var loop = await Loopback.StartAsync();
        var source = await loop.Session.OpenVolumeAsync($"lvol:{dir.File("a.lvs")}#vm");
        var target = await targetStore.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 32 << 20 });

        var result = await new Replicator().RefreshAsync(source, target, new RefreshOptions { DisableNativeStreams = checksumRoute });

        Assert.That(result.Route, Is.EqualTo(checksumRoute ? RefreshRoute.Checksum : RefreshRoute.NativeStream));
        Assert.That(result.LiveStateSent, Is.True);
        await AssertSameAsync(source, target, "s1");
        await source.Driver.DisposeAsync();
    }

    [Test]
    public async Task Relay_bothVolumesRemote_targetMatchesSource()
    {
        using var dir = new TempDirectory();
        await using (var remoteStore = await LvolDriver.CreateStoreAsync(dir.File("a.lvs")))
        {
            var v = await remoteStore.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 16 << 20 });
            await WriteRandomAsync(v, seed: 6, blocks: 32, blockSize: 64 << 10);
            await v.CreateSnapshotAsync("s1");
        }
        await (await LvolDriver.CreateStoreAsync(dir.File("b.lvs"))).DisposeAsync();
        await using var sourceLoop = await Loopback.StartAsync(clientOptions: new RemoteSessionOptions { PeerName = "host-a" });
        await using var targetLoop = await Loopback.StartAsync(clientOptions: new RemoteSessionOptions { PeerName = "host-b", Compression = [SessionCompression.Zstd] });
        var source = await sourceLoop.Session.OpenVolumeAsync($"lvol:{dir.File("a.lvs")}#vm");
        var target = await targetLoop.Session.CreateVolumeAsync($"lvol:{dir.File("b.lvs")}#vm", new VolumeCreateOptions { Size = 16 << 20 });
        var replicator = new Replicator();

        await replicator.RefreshAsync(source, target);
        var checksum = await replicator.RefreshAsync(source, target, new RefreshOptions { DisableNativeStreams = true });

        Assert.That(checksum.Route, Is.EqualTo(RefreshRoute.Checksum));
        await AssertSameAsync(source, target, "s1");
        await source.Driver.DisposeAsync();
        await target.Driver.DisposeAsync();
    }

    [Test]
    public async Task WireBytes_onePercentScattered4KiBChangeOf256MiB_atMostTenPercentOverTheChangePlusTheMap()
    {
        const long Size = 256L << 20;
        using var dir = new TempDirectory();
        await using var sourceStore = await LvolDriver.CreateStoreAsync(dir.File("a.lvs"));
        await (await LvolDriver.CreateStoreAsync(dir.File("b.lvs"))).DisposeAsync();
        // Peer timeouts of a minute: this test hashes 256 MiB several times on a shared 2-core machine.
        await using var loop = await Loopback.StartAsync(
            serverOptions: new VolumeServerOptions { PeerTimeout = TimeSpan.FromMinutes(1) },
            clientOptions: new RemoteSessionOptions { PeerName = "loop", Compression = [SessionCompression.Lz4], PeerTimeout = TimeSpan.FromMinutes(1) });
        var source = await sourceStore.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = Size });
        var target = await loop.Session.CreateVolumeAsync($"lvol:{dir.File("b.lvs")}#vm", new VolumeCreateOptions { Size = Size });
        var options = new RefreshOptions { DisableNativeStreams = true };
        await WriteRandomAsync(source, seed: 7, blocks: (int)(Size / (1 << 20)), blockSize: 1 << 20, sequential: true);
        await source.CreateSnapshotAsync("s1");
        await new Replicator().RefreshAsync(source, target, options);

        // 1 % of the volume in 4 KiB blocks at random 4 KiB-aligned offsets, each with new random content.
        var changed = await WriteRandomAsync(source, seed: 8, blocks: (int)(Size / 100 / 4096), blockSize: 4096);
        await source.CreateSnapshotAsync("s2");
        var sentBefore = loop.Session.WireBytesSent;
        var receivedBefore = loop.Session.WireBytesReceived;
        var result = await new Replicator().RefreshAsync(source, target, options);
        var wire = loop.Session.WireBytesSent - sentBefore + loop.Session.WireBytesReceived - receivedBefore;

        var clusters = Size / DeltaOptions.ClusterSize;
        var map = clusters * 16;
        TestContext.Out.WriteLine($"changed {changed} bytes; wire {wire} bytes (sent {loop.Session.WireBytesSent - sentBefore}, received {loop.Session.WireBytesReceived - receivedBefore}); "
            + $"bound 1.1 x changed + map = {1.1 * changed + map:0}; ratio to changed {(double)wire / changed:0.000}; refresh sent {result.BytesSent}");
        Assert.That(result.Route, Is.EqualTo(RefreshRoute.Checksum));
        Assert.That(wire, Is.LessThanOrEqualTo((long)(1.1 * changed) + map));
        await AssertSameAsync(source, target, "s1", "s2");
        await target.Driver.DisposeAsync();
    }

    [Test]
    public async Task Failure_serverFailsMidReceive_targetStaysAtItsLastSnapshotAndTheNextRefreshSucceeds()
    {
        using var dir = new TempDirectory();
        await using var sourceStore = await LvolDriver.CreateStoreAsync(dir.File("a.lvs"));
        await (await LvolDriver.CreateStoreAsync(dir.File("b.lvs"))).DisposeAsync();
        var faults = new FaultSwitch();
        var resolver = new VolumeResolver().Add(new FaultInjectingLvolBackend(faults));
        var source = await sourceStore.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 32 << 20 });
        await WriteRandomAsync(source, seed: 9, blocks: 32, blockSize: 64 << 10);
        await source.CreateSnapshotAsync("s1");
        var address = $"faulty:{dir.File("b.lvs")}#vm";
        await using (var loop = await Loopback.StartAsync(resolver))
        {
            var target = await loop.Session.CreateVolumeAsync(address, new VolumeCreateOptions { Size = 32 << 20 });
            await new Replicator().RefreshAsync(source, target);
            await target.Driver.DisposeAsync();
        }
        var s1 = await DigestAsync(source, "s1");
        await WriteRandomAsync(source, seed: 10, blocks: 64, blockSize: 64 << 10);
        await source.CreateSnapshotAsync("s2");

        faults.FailReceiveAfterBytes = 256 << 10;
        await using (var loop = await Loopback.StartAsync(resolver))
        {
            var target = await loop.Session.OpenVolumeAsync(address);
            var ex = Assert.ThrowsAsync<SessionException>(async () => await new Replicator().RefreshAsync(source, target));
            Assert.That(ex!.Reason, Is.EqualTo(SessionErrorReason.PeerError));
            Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
            Assert.That(await DigestAsync(target, "s1"), Is.EqualTo(s1));
            Assert.That(await DigestAsync(target, null), Is.EqualTo(s1), "the live state is back at s1");
            Assert.That((await source.GetLineageAsync()).Any(s => s.IsTemporary), Is.False);
            await target.Driver.DisposeAsync();
        }

        faults.FailReceiveAfterBytes = null;
        await using (var loop = await Loopback.StartAsync(resolver))
        {
            var target = await loop.Session.OpenVolumeAsync(address);
            await new Replicator().RefreshAsync(source, target);
            await AssertSameAsync(source, target, "s1", "s2");
            await target.Driver.DisposeAsync();
        }
    }

    /// <summary>Writes random blocks at random aligned offsets (or sequentially); returns the distinct bytes written.</summary>
    internal static async Task<long> WriteRandomAsync(Volume volume, int seed, int blocks, int blockSize, bool sequential = false)
    {
        var random = new Random(seed);
        var device = await volume.OpenDeviceAsync(null, writable: true);
        await using (device)
        {
            var data = new byte[blockSize];
            var offsets = new HashSet<long>();
            for (var i = 0; i < blocks; i++)
            {
                random.NextBytes(data);
                var offset = sequential ? (long)i * blockSize : random.NextInt64(0, device.Length / blockSize) * blockSize;
                offsets.Add(offset);
                await device.WriteAsync(offset, data);
            }
            await device.FlushAsync();
            return offsets.Count * (long)blockSize;
        }
    }

    internal static async Task<string> DigestAsync(Volume volume, string? snapshot)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var device = await volume.OpenDeviceAsync(snapshot);
        await using (device)
        {
            var buffer = new byte[1 << 20];
            for (long offset = 0; offset < device.Length; offset += buffer.Length)
            {
                var n = (int)Math.Min(buffer.Length, device.Length - offset);
                await device.ReadAsync(offset, buffer.AsMemory(0, n));
                hash.AppendData(buffer, 0, n);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    internal static async Task AssertSameAsync(Volume source, Volume target, params string[] snapshots)
    {
        var targetLineage = await target.GetLineageAsync();
        var sourceLineage = await source.GetLineageAsync();
        Assert.That(targetLineage.Select(s => s.Name), Is.EqualTo(snapshots));
        Assert.That(sourceLineage.Any(s => s.IsTemporary), Is.False, "no temporary snapshot on the source");
        foreach (var name in snapshots)
        {
            Assert.That(targetLineage.Find(name)!.IsSameAs(sourceLineage.Find(name)!), Is.True, name);
            Assert.That(await DigestAsync(target, name), Is.EqualTo(await DigestAsync(source, name)), $"content of {name}");
        }
        Assert.That(await DigestAsync(target, null), Is.EqualTo(await DigestAsync(source, null)), "live content");
    }
}

/// <summary>What the faulty backend's volumes do wrong (shared with the test).</summary>
internal sealed class FaultSwitch
{
    public long? FailReceiveAfterBytes { get; set; }
}

/// <summary>The lvol backend under the scheme <c>faulty</c>, whose volumes fail receives as <see cref="FaultSwitch"/> says: a failure on the server.</summary>
internal sealed class FaultInjectingLvolBackend(FaultSwitch faults) : VolumeBackend("faulty")
{
    private readonly VolumeBackend _lvol = new VolumeResolver().AddLvol().GetBackend("lvol");

    public override string AddressSyntax => "faulty:STORE#VOLUME";

    protected override VolumeAddress ParseAddressCore(string path)
    {
        var inner = _lvol.ParseAddress("lvol:" + path);
        return inner with { Scheme = "faulty" };
    }

    protected override Task<VolumeDriver> OpenDriverCoreAsync(string location, Microsoft.Extensions.Logging.ILoggerFactory loggerFactory, CancellationToken cancellationToken) =>
        _lvol.OpenDriverAsync(location, loggerFactory, cancellationToken);

    protected override async Task<Volume> OpenVolumeCoreAsync(VolumeAddress address, Microsoft.Extensions.Logging.ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var volume = await base.OpenVolumeCoreAsync(address, loggerFactory, cancellationToken);
        return new FaultInjectingVolume(volume) { FailReceiveAfterBytes = faults.FailReceiveAfterBytes };
    }

    protected override async Task<Volume> CreateVolumeCoreAsync(VolumeAddress address, VolumeCreateOptions options, Microsoft.Extensions.Logging.ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        var volume = await base.CreateVolumeCoreAsync(address, options, loggerFactory, cancellationToken);
        return new FaultInjectingVolume(volume) { FailReceiveAfterBytes = faults.FailReceiveAfterBytes };
    }
}
