using DeltaSnap.Delta;
using DeltaSnap.Drivers;
using DeltaSnap.Replication;

namespace DeltaSnap.Tests.Replication;

/// <summary>
/// How a backend's native stream is labelled inside a delta stream, and that the route between two volumes follows the
/// payload kinds their drivers declare, not the drivers' .NET types.
/// </summary>
public class NativePayloadKindTests
{
    [Test]
    public void NativePayloadKind_driverThatDeclaresNone_isBlocksWhateverItsScheme()
    {
        var driver = new PlainDriver("zfs");

        Assert.That(driver.NativePayloadKind, Is.EqualTo(DeltaStreamPayloadKind.Blocks), "the core maps no scheme names");
    }

    [Test]
    public async Task Refresh_samePayloadKindDifferentDriverTypes_takesTheNativeRouteAndCopiesTheData()
    {
        var source = await NewVolumeAsync(new MemoryNativeDriver("one"), "source", [1, 2, 3, 4, 5], snapshot: "s1");
        var target = new MemoryNativeVolume(new OtherMemoryNativeDriver("two", DeltaStreamPayloadKind.LvolDiff), "target");
        Assert.That(source.Driver.GetType(), Is.Not.EqualTo(target.Driver.GetType()));

        var result = await new Replicator().RefreshAsync(source, target);

        Assert.That(result.Route, Is.EqualTo(RefreshRoute.NativeStream));
        Assert.That(target.ReceiveCalls, Is.EqualTo(2), "s1, then the live state");
        Assert.That(target.Live, Is.EqualTo(source.Live));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
    }

    [TestCase(DeltaStreamPayloadKind.ZfsSend, DeltaStreamPayloadKind.LvolDiff)]
    [TestCase(DeltaStreamPayloadKind.LvolDiff, DeltaStreamPayloadKind.RbdDiff)]
    [TestCase(DeltaStreamPayloadKind.BtrfsSend, DeltaStreamPayloadKind.ZfsSend)]
    public void ChooseRoute_differentPayloadKinds_isTheChecksumRoute(DeltaStreamPayloadKind sourceKind, DeltaStreamPayloadKind targetKind)
    {
        var source = new MemoryNativeVolume(new MemoryNativeDriver("mem", payloadKind: sourceKind), "source");
        var target = new MemoryNativeVolume(new MemoryNativeDriver("mem", payloadKind: targetKind), "target");

        Assert.That(Replicator.ChooseRoute(source, target), Is.EqualTo(RefreshRoute.Checksum));
    }

    [Test]
    public void ChooseRoute_samePayloadKind_isNativeUnlessOneSideHasNoNativeStreamOrDeclaresNoKind()
    {
        var lvolDiff = new MemoryNativeVolume(new MemoryNativeDriver("a"), "a");
        var sameKind = new MemoryNativeVolume(new OtherMemoryNativeDriver("b", DeltaStreamPayloadKind.LvolDiff), "b");
        var blocks = new MemoryNativeVolume(new MemoryNativeDriver("c", payloadKind: DeltaStreamPayloadKind.Blocks), "c");
        var blocksToo = new MemoryNativeVolume(new OtherMemoryNativeDriver("d", DeltaStreamPayloadKind.Blocks), "d");

        Assert.Multiple(() =>
        {
            Assert.That(Replicator.ChooseRoute(lvolDiff, sameKind), Is.EqualTo(RefreshRoute.NativeStream));
            Assert.That(Replicator.ChooseRoute(sameKind, lvolDiff), Is.EqualTo(RefreshRoute.NativeStream));
            Assert.That(Replicator.ChooseRoute(lvolDiff, sameKind, new RefreshOptions { DisableNativeStreams = true }), Is.EqualTo(RefreshRoute.Checksum));
            Assert.That(Replicator.ChooseRoute(blocks, blocksToo), Is.EqualTo(RefreshRoute.Checksum), "Blocks is the checksum route's payload, no native kind");
        });
    }

    private static async Task<MemoryNativeVolume> NewVolumeAsync(MemoryNativeDriver driver, string name, byte[] data, string? snapshot = null)
    {
        var volume = new MemoryNativeVolume(driver, name) { Live = data };
        if (snapshot is not null)
        {
            await volume.CreateSnapshotAsync(snapshot);
        }
        return volume;
    }

    /// <summary>A driver that overrides nothing about native streams.</summary>
    private sealed class PlainDriver(string scheme) : VolumeDriver(scheme, null)
    {
        public override DriverCapabilities Capabilities => DriverCapabilities.BlockVolumes;

        protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
