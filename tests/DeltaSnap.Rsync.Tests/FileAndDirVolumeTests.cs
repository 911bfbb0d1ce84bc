using DeltaSnap.Delta;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Replication;

namespace DeltaSnap.Rsync.Tests;

/// <summary>dir: and file: volumes on their own, and file: volumes on the checksum route with lvol.</summary>
public sealed class FileAndDirVolumeTests
{
    private const int Cluster = 64 * 1024;

    [Test]
    public async Task DirSnapshot_withoutReflinks_hardLinksUnchangedFilesToPreviousSnapshotNeverToLiveTree()
    {
        await using var bed = new RsyncTestBed();
        var volume = await bed.DirAsync();
        Assert.That(((DirDriver)volume.Driver).SnapshotMethod, Is.EqualTo(SnapshotCopyMethod.HardLinkTree), "ext4 here: no reflinks");
        var live = await volume.GetPathAsync(null);
        TestTrees.Build(live, xattrs: true);
        await volume.CreateSnapshotAsync("s1");
        File.WriteAllText(Path.Combine(live, "a", "b", "deep.txt"), "changed");
        await volume.CreateSnapshotAsync("s2");
        var s1 = await volume.GetPathAsync("s1");
        var s2 = await volume.GetPathAsync("s2");

        Assert.That(TreeDigest.Stat(Path.Combine(s2, "large.bin")).Ino, Is.EqualTo(TreeDigest.Stat(Path.Combine(s1, "large.bin")).Ino), "unchanged: shared with s1");
        Assert.That(TreeDigest.Stat(Path.Combine(s1, "large.bin")).Ino, Is.Not.EqualTo(TreeDigest.Stat(Path.Combine(live, "large.bin")).Ino), "never linked to the live tree");
        Assert.That(TreeDigest.Stat(Path.Combine(s2, "a", "b", "deep.txt")).Ino, Is.Not.EqualTo(TreeDigest.Stat(Path.Combine(s1, "a", "b", "deep.txt")).Ino));
        Assert.That(File.ReadAllText(Path.Combine(s1, "a", "b", "deep.txt")), Is.Not.EqualTo("changed"));

        var s1Digest = TreeDigest.Describe(s1);
        File.WriteAllText(Path.Combine(live, "plain.txt"), "scribbled");
        File.Delete(Path.Combine(live, "large.bin"));
        await volume.DeleteSnapshotAsync("s2");
        await volume.RollbackAsync("s1");

        Assert.That(TreeDigest.Describe(live), Is.EqualTo(s1Digest));
        Assert.That(TreeDigest.Describe(s1), Is.EqualTo(s1Digest), "the snapshot was not touched by the rollback");
        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task DirVolume_reopenedByAddress_keepsLineageAndIdentities()
    {
        await using var bed = new RsyncTestBed();
        var volume = await bed.DirAsync();
        var s1 = await volume.CreateSnapshotAsync("s1", new SnapshotCreateOptions { ReceivedFrom = new SnapshotIdentity("zfs-guid", "123"), CreatedUtc = DateTimeOffset.FromUnixTimeSeconds(1_600_000_000) });

        var reopened = await new VolumeResolver().AddDir().OpenVolumeAsync("dir:" + volume.LivePath);
        var lineage = await reopened.GetLineageAsync();

        Assert.That(reopened.Address, Is.EqualTo(volume.Address));
        Assert.That(lineage.Single().Identity, Is.EqualTo(s1.Identity));
        Assert.That(lineage.Single().ReceivedFrom, Is.EqualTo(new SnapshotIdentity("zfs-guid", "123")));
        Assert.That(lineage.Single().CreatedUtc, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_600_000_000)));
    }

    [Test]
    public async Task FileSnapshot_withoutReflinks_isSparseCopyKeepingHoles()
    {
        await using var bed = new RsyncTestBed();
        var volume = await bed.FileAsync(64L << 20);
        Assert.That(((FileDriver)volume.Driver).SnapshotMethod, Is.EqualTo(SnapshotCopyMethod.SparseCopy));
        await WriteAsync(volume, 10L << 20, TestTrees.Random(1 << 20, 3));
        await volume.CreateSnapshotAsync("s1");

        await using var device = await volume.OpenDeviceAsync("s1");
        var allocated = await device.ReadAllocationAsync();
        Assert.That(allocated.TotalLength, Is.LessThanOrEqualTo(2L << 20), "holes stay holes");
        Assert.That(await ReadAllAsync(volume, "s1"), Is.EqualTo(await ReadAllAsync(volume, null)));
    }

    [Test]
    public async Task FileSnapshot_onBtrfs_isReflink()
    {
        await using var bed = new RsyncTestBed();
        var volume = await bed.FileAsync(8L << 20, RsyncTestBed.BtrfsMount('a'));
        Assert.That(((FileDriver)volume.Driver).SnapshotMethod, Is.EqualTo(SnapshotCopyMethod.Reflink));
        await WriteAsync(volume, 0, TestTrees.Random(1 << 20, 4));
        await volume.CreateSnapshotAsync("s1");
        await WriteAsync(volume, 0, TestTrees.Random(4096, 5));

        Assert.That((await ReadAllAsync(volume, "s1")).AsSpan(0, 4096).SequenceEqual(TestTrees.Random(1 << 20, 4).AsSpan(0, 4096)), Is.True, "the reflink copy is separate");
        await volume.RollbackAsync("s1");
        Assert.That(await ReadAllAsync(volume, null), Is.EqualTo(await ReadAllAsync(volume, "s1")));
    }

    [Test]
    public async Task Refresh_lvolToFileAndFileToLvol_checksumRouteCopiesOnlyChanges()
    {
        await using var bed = new RsyncTestBed();
        var store = Path.Combine(bed.NewDirectory(Path.GetTempPath()), "store");
        await using var lvol = await LvolDriver.CreateStoreAsync(store, Cluster);
        var source = await lvol.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 128 * Cluster });
        var file = await bed.FileAsync(128 * Cluster);
        await WriteAsync(source, 0, TestTrees.Random(128 * Cluster, 20));
        var s1 = await source.CreateSnapshotAsync("s1");
        var options = new RefreshOptions { Delta = new DeltaPlanOptions { ClusterSize = Cluster } };
        var replicator = new Replicator();

        var first = await replicator.RefreshAsync(source, file, options);
        await WriteAsync(source, 77 * 4096, TestTrees.Random(4096, 21));
        await source.CreateSnapshotAsync("s2");
        var second = await replicator.RefreshAsync(source, file, options);

        Assert.That(first.Route, Is.EqualTo(RefreshRoute.Checksum));
        Assert.That(second.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That(second.BytesSent, Is.LessThanOrEqualTo(2 * 4096));
        Assert.That((await file.GetLineageAsync())[0].ReceivedFrom, Is.EqualTo(s1.Identity));
        Assert.That(await ReadAllAsync(file, "s2"), Is.EqualTo(await ReadAllAsync(source, "s2")));
        Assert.That(await ReadAllAsync(file, null), Is.EqualTo(await ReadAllAsync(source, null)));

        // And back: file -> a new lvol volume, then incremental from the file.
        var back = await lvol.CreateVolumeAsync("back", new VolumeCreateOptions { Size = 128 * Cluster });
        await replicator.RefreshAsync(file, back, options);
        await WriteAsync(file, 5 * Cluster, TestTrees.Random(4096, 22));
        await file.CreateSnapshotAsync("s3");
        var third = await replicator.RefreshAsync(file, back, options);

        Assert.That(third.Route, Is.EqualTo(RefreshRoute.Checksum));
        Assert.That(third.SnapshotsSent, Is.EqualTo(new[] { "s3" }));
        Assert.That(await ReadAllAsync(back, "s3"), Is.EqualTo(await ReadAllAsync(file, "s3")));
        Assert.That((await back.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2", "s3" }));
    }

    private static async Task WriteAsync(Volume volume, long offset, byte[] data)
    {
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        await device.WriteAsync(offset, data);
        await device.FlushAsync();
    }

    private static async Task<byte[]> ReadAllAsync(Volume volume, string? snapshot)
    {
        await using var device = await volume.OpenDeviceAsync(snapshot);
        var bytes = new byte[device.Length];
        await device.ReadAsync(0, bytes);
        return bytes;
    }
}
