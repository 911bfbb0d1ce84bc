using DeltaSnap.Drivers;
using DeltaSnap.Replication;

namespace DeltaSnap.Ceph.Tests;

/// <summary>RBD with another block backend (image files): the replicator's checksum route, RBD's changed ranges as candidates.</summary>
public class RbdCrossBackendTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("dsnap-img-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static async Task WriteAsync(Volume volume, long offset, int length, int seed)
    {
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        await device.WriteAsync(offset, CephCluster.RandomBytes(length, seed));
    }

    private static async Task<string> DigestAsync(Volume volume, string? snapshot)
    {
        await using var device = await volume.OpenDeviceAsync(snapshot);
        return await CephCluster.HashAsync(device);
    }

    private static async Task AssertSameAsync(Volume source, Volume target, params string[] snapshots)
    {
        var sourceLineage = await source.GetLineageAsync();
        var targetLineage = await target.GetLineageAsync();
        Assert.That(targetLineage.Select(s => s.Name), Is.EqualTo(snapshots));
        foreach (var name in snapshots)
        {
            Assert.That(targetLineage.Find(name)!.IsSameAs(sourceLineage.Find(name)!), Is.True, name);
            Assert.That(targetLineage.Find(name)!.CreatedUtc, Is.EqualTo(sourceLineage.Find(name)!.CreatedUtc), name);
            Assert.That(await DigestAsync(target, name), Is.EqualTo(await DigestAsync(source, name)), name);
        }
        Assert.That(await DigestAsync(target, null), Is.EqualTo(await DigestAsync(source, null)), "live");
    }

    [Test]
    public async Task Refresh_rbdToImageFile_fullThenIncrementalByChangedRanges()
    {
        await using var scope = await CephScope.CreateAsync();
        var files = new ImageFileDriver(_dir);
        var source = await scope.CreateAsync(CephCluster.PoolA, 32 << 20, "x");
        var target = await files.CreateVolumeAsync("copy", new VolumeCreateOptions { Size = 32 << 20 });
        await WriteAsync(source, 0, 24 << 20, 1);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator();
        var first = await replicator.RefreshAsync(source, target);
        await WriteAsync(source, 5 << 20, 200_000, 2);
        await source.CreateSnapshotAsync("s2");
        var second = await replicator.RefreshAsync(source, target);
        Assert.Multiple(() =>
        {
            Assert.That(first.Route, Is.EqualTo(RefreshRoute.Checksum));
            Assert.That(second.Kind, Is.EqualTo(Lineage.RefreshKind.Incremental));
            Assert.That(second.BytesSent, Is.LessThan(first.BytesSent / 10), $"{second.BytesSent} vs {first.BytesSent}");
        });
        await AssertSameAsync(source, target, "s1", "s2");
    }

    [Test]
    public async Task Refresh_imageFileToRbd_targetRecordsIdentityAndNextRefreshIsIncremental()
    {
        await using var scope = await CephScope.CreateAsync();
        var files = new ImageFileDriver(_dir);
        var source = await files.CreateVolumeAsync("orig", new VolumeCreateOptions { Size = 16 << 20 });
        var target = await scope.CreateAsync(CephCluster.PoolB, 8 << 20, "x"); // smaller: the refresh grows it
        await WriteAsync(source, 0, 16 << 20, 3);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator();
        await replicator.RefreshAsync(source, target);
        await WriteAsync(source, 3 << 20, 100_000, 4);
        await source.CreateSnapshotAsync("s2");
        var second = await replicator.RefreshAsync(source, target);
        var s1 = (await source.GetLineageAsync()).Find("s1")!;
        var t1 = (await target.GetLineageAsync()).Find("s1")!;
        Assert.Multiple(() =>
        {
            Assert.That(second.Kind, Is.EqualTo(Lineage.RefreshKind.Incremental));
            Assert.That(t1.ReceivedFrom, Is.EqualTo(s1.Identity));
        });
        await AssertSameAsync(source, target, "s1", "s2");
    }
}
