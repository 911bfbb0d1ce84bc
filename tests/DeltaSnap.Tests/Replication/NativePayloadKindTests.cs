using DeltaSnap.Delta;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Tests.Replication;

/// <summary>
/// How a backend's native stream is labelled inside a delta stream, and that a receiver refuses a stream labelled
/// for another backend before its volume sees a byte.
/// </summary>
public class NativePayloadKindTests
{
    [TestCase("zfs", DeltaStreamPayloadKind.ZfsSend)]
    [TestCase("btrfs", DeltaStreamPayloadKind.BtrfsSend)]
    [TestCase("rbd", DeltaStreamPayloadKind.RbdDiff)]
    [TestCase("lvol", DeltaStreamPayloadKind.LvolDiff)]
    [TestCase("img", DeltaStreamPayloadKind.Blocks)]
    public void NativePayloadKind_byScheme_isTheBackendsKind(string scheme, DeltaStreamPayloadKind expected)
    {
        var driver = new MemoryNativeDriver(scheme);

        Assert.That(driver.NativePayloadKind, Is.EqualTo(expected));
    }

    [Test]
    public async Task Refresh_sameKindOnBothSides_receivesTheStream()
    {
        var source = await NewVolumeAsync("lvol", "source", [1, 2, 3, 4, 5], snapshot: "s1");
        var target = await NewVolumeAsync("lvol", "target", []);

        var result = await new Replicator().RefreshAsync(source, target);

        Assert.That(result.Route, Is.EqualTo(RefreshRoute.NativeStream));
        Assert.That(target.ReceiveCalls, Is.EqualTo(2), "s1, then the live state");
        Assert.That(target.Live, Is.EqualTo(source.Live));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
    }

    [TestCase("zfs", "lvol")]
    [TestCase("lvol", "rbd")]
    [TestCase("btrfs", "zfs")]
    public async Task Refresh_streamLabelledForAnotherBackend_isRefusedBeforeTheTargetReceivesAnything(string sourceScheme, string targetScheme)
    {
        var source = await NewVolumeAsync(sourceScheme, "source", [1, 2, 3, 4, 5], snapshot: "s1");
        var target = await NewVolumeAsync(targetScheme, "target", [9, 9]);

        var e = Assert.ThrowsAsync<DeltaStreamException>(() => new Replicator().RefreshAsync(source, target));

        Assert.That(e!.Message, Does.Contain(source.Driver.NativePayloadKind.ToString())
            .And.Contain(target.Driver.NativePayloadKind.ToString())
            .And.Contain(target.Address));
        Assert.That(target.ReceiveCalls, Is.Zero, "the receiver was never handed the stream");
        Assert.That(target.Live, Is.EqualTo(new byte[] { 9, 9 }), "the target's data is untouched");
        Assert.That(await target.GetLineageAsync(), Is.Empty, "no snapshot was made on the target");
        Assert.That((await source.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }), "the source keeps its own snapshot and no temporary one");
    }

    private static async Task<MemoryNativeVolume> NewVolumeAsync(string scheme, string name, byte[] data, string? snapshot = null)
    {
        var volume = new MemoryNativeVolume(new MemoryNativeDriver(scheme), name) { Live = data };
        if (snapshot is not null)
        {
            await volume.CreateSnapshotAsync(snapshot);
        }
        return volume;
    }
}
