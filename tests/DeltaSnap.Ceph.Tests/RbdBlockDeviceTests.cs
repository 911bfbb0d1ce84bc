using DeltaSnap.Devices;

namespace DeltaSnap.Ceph.Tests;

public class RbdBlockDeviceTests
{
    [Test]
    public async Task WriteRead_randomBlocks_roundTripAndMatchRbdExport()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 16 << 20);
        var model = new byte[16 << 20];
        var random = new Random(7);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            var writes = new List<Task>();
            for (var i = 0; i < 40; i++)
            {
                var offset = random.NextInt64(0, model.Length - 300_000);
                var data = new byte[random.Next(1, 300_000)];
                random.NextBytes(data);
                await device.WriteAsync(offset, data);
                data.CopyTo(model, offset);
            }
            var back = new byte[model.Length];
            await device.ReadAsync(0, back);
            Assert.That(CephCluster.Hash(back), Is.EqualTo(CephCluster.Hash(model)));
        }
        var exported = await CephCluster.ExportAsync(volume.Name);
        Assert.That(CephCluster.Hash(exported), Is.EqualTo(CephCluster.Hash(model)));
    }

    [Test]
    public async Task Read_concurrentOnOneHandle_returnsEachRange()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 32 << 20);
        var model = CephCluster.RandomBytes(32 << 20, 3);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(0, model);
        }
        await volume.CreateSnapshotAsync("s1");
        await using var snap = await volume.OpenDeviceAsync("s1");
        var reads = Enumerable.Range(0, 64).Select(async i =>
        {
            var buffer = new byte[512 << 10];
            var offset = (long)i * buffer.Length;
            await snap.ReadAsync(offset, buffer);
            return buffer.AsSpan().SequenceEqual(model.AsSpan((int)offset, buffer.Length));
        }).ToArray();
        var results = await Task.WhenAll(reads);
        Assert.That(results, Is.All.True);
    }

    [Test]
    public async Task Snapshot_device_isReadOnlyAndKeepsOldContent()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 8 << 20);
        var first = CephCluster.RandomBytes(8 << 20, 1);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(0, first);
        }
        await volume.CreateSnapshotAsync("s1");
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(0, CephCluster.RandomBytes(8 << 20, 2));
        }
        await using var snapshot = await volume.OpenDeviceAsync("s1");
        Assert.Multiple(async () =>
        {
            Assert.That(snapshot.IsReadOnly, Is.True);
            Assert.That(await CephCluster.HashAsync(snapshot), Is.EqualTo(CephCluster.Hash(first)));
            Assert.Throws<InvalidOperationException>(() => snapshot.WriteAsync(0, new byte[1]).AsTask().GetAwaiter().GetResult());
        });
    }

    [Test]
    public async Task Unmap_partialObjects_readsZerosAndReleasesWholeObjects()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 16 << 20);
        var data = CephCluster.RandomBytes(16 << 20, 5);
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        await device.WriteAsync(0, data);
        // From the middle of object 0 to the middle of object 3: partial, whole, whole, partial.
        var hole = new ByteRange(1_000_000, 12_000_000);
        await device.UnmapAsync(hole);
        var back = new byte[data.Length];
        await device.ReadAsync(0, back);
        Array.Clear(data, (int)hole.Offset, (int)hole.Length);
        Assert.That(CephCluster.Hash(back), Is.EqualTo(CephCluster.Hash(data)));
        var allocated = await device.ReadAllocationAsync();
        Assert.That(allocated.Contains(6 << 20), Is.False, $"object 1 should be released: {allocated}");
    }

    [Test]
    public async Task SetLength_liveDevice_resizesImage()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 4 << 20);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            Assert.That(device.CanResize, Is.True);
            await device.SetLengthAsync(12 << 20);
            Assert.That(device.Length, Is.EqualTo(12 << 20));
            await device.WriteAsync((12 << 20) - 10, new byte[10]);
        }
        Assert.That(await volume.GetSizeAsync(), Is.EqualTo(12 << 20));
    }

    [Test]
    public async Task GetAllocatedRanges_sparseImage_reportsWrittenObjectsOnly()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 64 << 20);
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        await device.WriteAsync(20 << 20, CephCluster.RandomBytes(100_000, 1));
        await device.WriteAsync(50 << 20, CephCluster.RandomBytes(4096, 2));
        var allocated = await device.ReadAllocationAsync();
        Assert.Multiple(() =>
        {
            Assert.That(allocated.Contains(20 << 20), Is.True);
            Assert.That(allocated.Contains((20 << 20) + 99_999), Is.True);
            Assert.That(allocated.Contains(50 << 20), Is.True);
            Assert.That(allocated.Contains(0), Is.False);
            Assert.That(allocated.Contains(40 << 20), Is.False);
            Assert.That(allocated.TotalLength, Is.LessThanOrEqualTo(8 << 20));
        });
    }
}
