using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Replication;

namespace DeltaSnap.Remote.Tests;

/// <summary>
/// <see cref="RefreshOptions.VerifyWholeVolume"/> on the checksum route with a volume across a session: the whole
/// volume is verified, but only digests cross the wire, not the volume's bytes.
/// </summary>
[NonParallelizable]
public sealed class VerifyWholeVolumeTests
{
    private const int VolumeBytes = 32 << 20;

    [TestCase(true, TestName = "VerifyWholeVolume_push_verifiesByDigestsWithoutReadingTheTargetAcrossTheWire")]
    [TestCase(false, TestName = "VerifyWholeVolume_pull_verifiesByDigestsWithoutReadingTheSourceAcrossTheWire")]
    public async Task VerifyWholeVolume(bool push)
    {
        using var dir = new TempDirectory();
        var (storeA, storeB) = (dir.File("a.lvs"), dir.File("b.lvs"));
        await using (var a = await LvolDriver.CreateStoreAsync(storeA))
        {
            var v = await a.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = VolumeBytes });
            await RemoteRefreshTests.WriteRandomAsync(v, seed: 11, blocks: VolumeBytes / (1 << 20), blockSize: 1 << 20, sequential: true);
            await v.CreateSnapshotAsync("s1");
        }
        await (await LvolDriver.CreateStoreAsync(storeB)).DisposeAsync();
        // The local side is opened in this process, the other through the session.
        await using var local = await LvolDriver.OpenAsync(push ? storeA : storeB);
        await using var loop = await Loopback.StartAsync();
        Volume source, target;
        if (push)
        {
            source = await local.OpenVolumeAsync("vm");
            target = await loop.Session.CreateVolumeAsync($"lvol:{storeB}#vm", new VolumeCreateOptions { Size = VolumeBytes });
        }
        else
        {
            source = await loop.Session.OpenVolumeAsync($"lvol:{storeA}#vm");
            target = await local.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = VolumeBytes });
        }
        var options = new RefreshOptions { DisableNativeStreams = true, VerifyWholeVolume = true };
        var replicator = new Replicator();
        await replicator.RefreshAsync(source, target, options with { VerifyWholeVolume = false });

        // A small change: the transfer moves a few 4 KiB blocks, the verification covers all 32 MiB.
        if (push)
        {
            await RemoteRefreshTests.WriteRandomAsync(source, seed: 12, blocks: 8, blockSize: 4096);
            await source.CreateSnapshotAsync("s2");
        }
        else
        {
            await using var a = await LvolDriver.OpenAsync(storeA);
            var v = await a.OpenVolumeAsync("vm");
            await RemoteRefreshTests.WriteRandomAsync(v, seed: 12, blocks: 8, blockSize: 4096);
            await v.CreateSnapshotAsync("s2");
        }
        var (sentBefore, receivedBefore) = (loop.Session.WireBytesSent, loop.Session.WireBytesReceived);
        var result = await replicator.RefreshAsync(source, target, options);
        var wire = loop.Session.WireBytesSent - sentBefore + (loop.Session.WireBytesReceived - receivedBefore);

        TestContext.Out.WriteLine($"{(push ? "push" : "pull")}: {wire} bytes on the wire for a whole-volume verification of {VolumeBytes} bytes");
        Assert.That(result.Route, Is.EqualTo(RefreshRoute.Checksum));
        Assert.That(wire, Is.LessThan(VolumeBytes / 8), "digests cross the wire, not the volume");
        await RemoteRefreshTests.AssertSameAsync(source, target, "s1", "s2");
        await (push ? target : source).Driver.DisposeAsync();
    }
}
