using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Ceph.Tests;

/// <summary>
/// Issue 16, "content, not writes", on the RBD native route: extents written since the base whose content equals the
/// base's are not sent (the sender compares them with its own base snapshot).
/// </summary>
public class RbdUnchangedContentTests
{
    private const int Block = 4096;

    private static async Task WriteAsync(Volume volume, long offset, byte[] data)
    {
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        await device.WriteAsync(offset, data);
        await device.FlushAsync();
    }

    private static async Task<string> DigestAsync(Volume volume, string? snapshot)
    {
        await using var device = await volume.OpenDeviceAsync(snapshot);
        return await CephCluster.HashAsync(device);
    }

    private static async Task<List<(RbdDiffRecordKind Kind, ByteRange Range)>> RecordsAsync(RbdVolume source, string baseSnapshot, string snapshot)
    {
        var stream = new MemoryStream();
        await source.SendAsync(baseSnapshot, snapshot, stream);
        stream.Position = 0;
        using var reader = new RbdDiffReader(stream) { RecordLog = [] };
        await reader.ReadHeaderAsync();
        await reader.ValidateRestAsync();
        return reader.RecordLog!;
    }

    private static Task<RefreshResult> RefreshAsync(Volume source, Volume target) =>
        new Replicator().RefreshAsync(source, target, new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } });

    [Test]
    public async Task NativeRefresh_wholeImageRewrittenWithOnePercentDifferent_sendsOnlyTheDifferentBlocks()
    {
        await using var scope = await CephScope.CreateAsync();
        const int size = 32 << 20;
        var source = await scope.CreateAsync(CephCluster.PoolA, size, "rw");
        var target = await scope.CreateAsync(CephCluster.PoolB, size, "rw");
        var image = CephCluster.RandomBytes(size, 31);
        Array.Clear(image, 10 << 20, 256 << 10); // zero blocks, rewritten as zeros: not sent either
        await WriteAsync(source, 0, image);
        await source.CreateSnapshotAsync("s1");
        await RefreshAsync(source, target);

        // The image written again whole, 1 % of its 4 KiB blocks with other content.
        var random = new Random(32);
        long changed = 0;
        foreach (var block in Enumerable.Range(0, size / Block).OrderBy(_ => random.Next()).Take(size / Block / 100))
        {
            CephCluster.RandomBytes(Block, 1000 + block).CopyTo(image, block * Block);
            changed += Block;
        }
        await WriteAsync(source, 0, image);
        await source.CreateSnapshotAsync("s2");
        var written = (await source.GetChangedExtentsAsync("s1", "s2")).Sum(e => e.Range.Length);
        var result = await RefreshAsync(source, target);

        var expected = CephCluster.Hash(image);
        Assert.Multiple(async () =>
        {
            Assert.That(written, Is.EqualTo(size), "every byte was written");
            Assert.That(result.Route, Is.EqualTo(RefreshRoute.NativeStream));
            Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
            Assert.That(result.BytesSent, Is.GreaterThanOrEqualTo(changed).And.LessThanOrEqualTo((long)(changed * 1.1)), $"{result.BytesSent} bytes sent for {changed} changed");
            Assert.That(await DigestAsync(source, "s2"), Is.EqualTo(expected));
            Assert.That(await DigestAsync(target, "s2"), Is.EqualTo(expected));
            Assert.That(await DigestAsync(target, null), Is.EqualTo(expected));
        });
    }

    [Test]
    public async Task Send_extentWrittenWithItsOwnContent_sendsNoRecordAndTheTargetStaysEqual()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 16 << 20, "same");
        var target = await scope.CreateAsync(CephCluster.PoolB, 16 << 20, "same");
        var data = CephCluster.RandomBytes(8 << 20, 41);
        await WriteAsync(source, 0, data);
        await source.CreateSnapshotAsync("s1");
        await RefreshAsync(source, target);
        await WriteAsync(source, 1 << 20, data.AsSpan(1 << 20, 3 << 20).ToArray()); // the same bytes again
        await WriteAsync(source, 12 << 20, new byte[1 << 20]);                      // zeros where the image was never written
        await source.CreateSnapshotAsync("s2");

        var extents = await source.GetChangedExtentsAsync("s1", "s2");
        var records = await RecordsAsync(source, "s1", "s2");
        var result = await RefreshAsync(source, target);

        Assert.Multiple(async () =>
        {
            Assert.That(extents.Sum(e => e.Range.Length), Is.GreaterThanOrEqualTo(3 << 20), "RBD reports the rewrite as changed");
            Assert.That(records, Is.Empty);
            Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
            Assert.That(result.BytesSent, Is.LessThan(4096), "a header, identities and a digest");
            Assert.That(await DigestAsync(target, "s2"), Is.EqualTo(await DigestAsync(source, "s2")));
        });
    }

    [Test]
    public async Task Refresh_rangesZeroedAndDiscarded_arriveZeroed()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await scope.CreateAsync(CephCluster.PoolA, 16 << 20, "zero");
        var target = await scope.CreateAsync(CephCluster.PoolB, 16 << 20, "zero");
        await WriteAsync(source, 0, CephCluster.RandomBytes(12 << 20, 51));
        await source.CreateSnapshotAsync("s1");
        await RefreshAsync(source, target);
        await WriteAsync(source, 1 << 20, new byte[64 << 10]);                 // data overwritten with zeros
        await using (var device = await source.OpenDeviceAsync(null, writable: true))
        {
            await device.UnmapAsync(new ByteRange(4 << 20, 4 << 20));          // a whole object and more discarded
            await device.UnmapAsync(new ByteRange((11 << 20) + 8192, 2 << 20)); // across the end of the data
        }
        await source.CreateSnapshotAsync("s2");

        var records = await RecordsAsync(source, "s1", "s2");
        var result = await RefreshAsync(source, target);

        var zeroed = new RangeSet([new ByteRange(1 << 20, 64 << 10), new ByteRange(4 << 20, 4 << 20), ByteRange.FromBounds((11 << 20) + 8192, 12 << 20)]);
        Assert.Multiple(async () =>
        {
            Assert.That(records.Where(r => r.Kind == RbdDiffRecordKind.Data), Is.Empty);
            Assert.That(new RangeSet(records.Select(r => r.Range)), Is.EqualTo(zeroed), "zero records where the base held data, nowhere else");
            Assert.That(result.BytesSent, Is.LessThan(4096));
            Assert.That(await DigestAsync(target, "s2"), Is.EqualTo(await DigestAsync(source, "s2")));
            Assert.That(await DigestAsync(target, null), Is.EqualTo(await DigestAsync(source, "s2")));
        });
    }
}
