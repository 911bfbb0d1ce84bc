namespace DeltaSnap.Ceph.Tests;

public class RbdChangedRangesTests
{
    [Test]
    public async Task GetChangedRanges_betweenSnapshots_coverEveryWriteAndDiscard()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 64 << 20);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(0, CephCluster.RandomBytes(64 << 20, 1));
        }
        await volume.CreateSnapshotAsync("base");
        var written = new[] { new ByteRange(5_000_000, 70_000), new ByteRange(33 << 20, 4096), new ByteRange((64 << 20) - 100, 100) };
        var discarded = new ByteRange(16 << 20, 8 << 20);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            foreach (var w in written)
            {
                await device.WriteAsync(w.Offset, CephCluster.RandomBytes((int)w.Length, (int)w.Offset));
            }
            await device.UnmapAsync(discarded);
        }
        await volume.CreateSnapshotAsync("next");
        var changed = await volume.GetChangedRangesAsync("base", "next");
        var extents = await volume.GetChangedExtentsAsync("base", "next");
        Assert.Multiple(() =>
        {
            foreach (var w in written)
            {
                Assert.That(changed.Intersect(new RangeSet([w])).TotalLength, Is.EqualTo(w.Length), $"write {w}");
            }
            Assert.That(changed.Intersect(new RangeSet([discarded])).TotalLength, Is.EqualTo(discarded.Length), "discard");
            Assert.That(extents.Where(e => !e.HasData).Sum(e => e.Range.Length), Is.EqualTo(discarded.Length), "the discarded objects are zero extents");
            // Far less than the image: 3 written objects (whole objects at most) and the discard.
            Assert.That(changed.TotalLength, Is.LessThanOrEqualTo(discarded.Length + 3 * (4 << 20)));
            Assert.That(changed.Contains(0), Is.False);
        });
    }

    [Test]
    public async Task GetChangedRanges_fromNothing_coverAllocatedOnly()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 256 << 20);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(100 << 20, CephCluster.RandomBytes(1 << 20, 1));
        }
        await volume.CreateSnapshotAsync("s1");
        var changed = await volume.GetChangedRangesAsync(null, "s1");
        Assert.Multiple(() =>
        {
            Assert.That(changed.Contains(100 << 20), Is.True);
            Assert.That(changed.Contains((101 << 20) - 1), Is.True);
            Assert.That(changed.TotalLength, Is.LessThanOrEqualTo(4 << 20));
        });
    }

    [Test]
    public async Task GetChangedRanges_noChanges_isEmpty()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 8 << 20);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(0, CephCluster.RandomBytes(8 << 20, 1));
        }
        await volume.CreateSnapshotAsync("a");
        await volume.CreateSnapshotAsync("b");
        Assert.That(await volume.GetChangedRangesAsync("a", "b"), Is.Empty);
    }
}
