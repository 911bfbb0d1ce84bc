using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// Issue 16: the native lvol route sends content that changed, not clusters that were written, and a refresh whose
/// source did not move since its newest snapshot takes no temporary snapshot.
/// </summary>
public sealed class LvolUnchangedContentTests : StoreFixture
{
    private const int Cluster = 64 * 1024;
    private const int Block = 4096;

    private async Task<LvolDriver> DriverAsync(string name) => await LvolDriver.CreateStoreAsync(StorePath(name), Cluster);

    private static async Task WriteVolumeAsync(Volume volume, long offset, byte[] data)
    {
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        await device.WriteAsync(offset, data);
        await device.FlushAsync();
    }

    private static async Task<byte[]> ReadVolumeAsync(Volume volume, string? snapshot = null)
    {
        await using var device = await volume.OpenDeviceAsync(snapshot);
        var data = new byte[device.Length];
        await device.ReadAsync(0, data);
        return data;
    }

    [Test]
    public async Task NativeRefresh_wholeImageRewrittenWithOnePercentDifferent_sendsOnlyTheDifferentBlocks()
    {
        await using var sourceDriver = await DriverAsync("a");
        await using var targetDriver = await DriverAsync("b");
        const int size = 256 * Cluster;
        var source = await sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = size });
        var target = await targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = size });
        var image = Pattern(size, 31);
        // Some zero blocks, which must stay unsent too when they are rewritten as zeros.
        Array.Clear(image, 10 * Cluster, 2 * Cluster);
        await WriteVolumeAsync(source, 0, image);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator();
        await replicator.RefreshAsync(source, target);

        // The image re-imported whole: every cluster written, 1 % of its 4 KiB blocks with other content.
        var rng = new Random(32);
        long changed = 0;
        foreach (var block in Enumerable.Range(0, size / Block).OrderBy(_ => rng.Next()).Take(size / Block / 100))
        {
            Pattern(Block, 1000 + block).CopyTo(image, block * Block);
            changed += Block;
        }
        await WriteVolumeAsync(source, 0, image);
        await source.CreateSnapshotAsync("s2");
        Assert.That((await source.GetChangedRangesAsync("s1", "s2")).TotalLength, Is.EqualTo(size), "every cluster was written");
        var result = await replicator.RefreshAsync(source, target);

        Assert.That(result.Route, Is.EqualTo(RefreshRoute.NativeStream));
        Assert.That(result.BytesSent, Is.GreaterThanOrEqualTo(changed).And.LessThanOrEqualTo((long)(changed * 1.1)), $"{result.BytesSent} bytes sent for {changed} changed");
        Assert.That(await ReadVolumeAsync(target, "s2"), Is.EqualTo(image));
        Assert.That(await ReadVolumeAsync(target), Is.EqualTo(image));
        Assert.That((await targetDriver.Store.FsckAsync()).IsConsistent, Is.True);
    }

    [Test]
    public async Task Refresh_liveStateUnchangedSinceNewestSnapshot_takesNoTemporarySnapshotAndIsThenUpToDate()
    {
        await using var sourceDriver = await DriverAsync("a");
        await using var targetDriver = await DriverAsync("b");
        var source = await sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 16 * Cluster });
        var target = await targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 16 * Cluster });
        await WriteVolumeAsync(source, 0, Pattern(16 * Cluster, 40));
        await source.CreateSnapshotAsync("s1");
        Assert.That(await source.IsLiveStateUnchangedAsync("s1"), Is.True);
        var replicator = new Replicator();

        var first = await replicator.RefreshAsync(source, target);

        Assert.That(first.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        Assert.That(first.LiveStateSent, Is.False, "the live state equals s1: no temporary snapshot");
        Assert.That(await ReadVolumeAsync(target), Is.EqualTo(await ReadVolumeAsync(source)));
        Assert.That(await target.IsLiveStateUnchangedAsync("s1"), Is.True);

        var second = await replicator.RefreshAsync(source, target);

        Assert.That(second.Kind, Is.EqualTo(RefreshKind.UpToDate));
        Assert.That(second.Route, Is.EqualTo(RefreshRoute.None));
        Assert.That(second.BytesSent, Is.Zero);
        Assert.That((await source.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));

        // The target written to: the refresh brings it back to s1 without sending anything.
        await WriteVolumeAsync(target, 3 * Block, Pattern(Block, 41));
        Assert.That(await target.IsLiveStateUnchangedAsync("s1"), Is.False);
        var third = await replicator.RefreshAsync(source, target);

        Assert.That(third.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(third.LiveStateSent, Is.False);
        Assert.That(third.BytesSent, Is.Zero);
        Assert.That(await ReadVolumeAsync(target), Is.EqualTo(await ReadVolumeAsync(source)));

        // The source written to: its live state travels again.
        await WriteVolumeAsync(source, 5 * Block, Pattern(Block, 42));
        Assert.That(await source.IsLiveStateUnchangedAsync("s1"), Is.False);
        var fourth = await replicator.RefreshAsync(source, target);

        Assert.That(fourth.LiveStateSent, Is.True);
        Assert.That(await ReadVolumeAsync(target), Is.EqualTo(await ReadVolumeAsync(source)));
        Assert.That((await source.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }), "the temporary snapshot is gone");
    }
}
