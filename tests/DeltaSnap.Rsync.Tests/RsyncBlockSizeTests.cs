using DeltaSnap.Drivers;
using DeltaSnap.Replication;

namespace DeltaSnap.Rsync.Tests;

/// <summary>
/// The block size of an in-place update (<see cref="RsyncTreeSynchronizerOptions.InPlaceBlockSize"/>): 4 KiB by default,
/// raised for the receiver's largest file so that rsync's memory stays bounded, chosen by the receiver on either machine;
/// and on real Btrfs, what it changes: a scattered 1 % change is rewritten in 4 KiB units, not rsync's own larger ones.
/// </summary>
public sealed class RsyncBlockSizeTests
{
    private const long GiB = 1L << 30;

    [TestCase(0L, 4096, 4096)]
    [TestCase(4 * GiB, 4096, 4096)]
    [TestCase(4 * GiB + 1, 4096, 8192)]
    [TestCase(16 * GiB, 4096, 16384)]
    [TestCase(100 * GiB, 4096, 102400)]
    [TestCase(1024 * GiB, 4096, 131072)]
    [TestCase(GiB, 65536, 65536)]
    [TestCase(1024 * GiB, 0, 0)]
    public void For_largestFile_configuredSizeRaisedToAtMostAMillionBlocks(long largest, int configured, int expected) =>
        Assert.That(RsyncBlockSize.For(largest, configured), Is.EqualTo(expected));

    [Test]
    public void LargestFile_treeWithSparseFileAndSymlinks_apparentSizeOfTheLargestRegularFileBeneath()
    {
        var root = Directory.CreateTempSubdirectory("dsblock-");
        var outside = Directory.CreateTempSubdirectory("dsblock-outside-");
        try
        {
            Directory.CreateDirectory(Path.Combine(root.FullName, "a", "b"));
            File.WriteAllBytes(Path.Combine(root.FullName, "small"), new byte[100]);
            SparseFile(Path.Combine(root.FullName, "a", "b", "sparse.img"), 5 * GiB); // no data: what counts is the apparent size, which rsync splits
            SparseFile(Path.Combine(outside.FullName, "huge.img"), 50 * GiB);
            File.CreateSymbolicLink(Path.Combine(root.FullName, "link-to-file"), Path.Combine(outside.FullName, "huge.img"));
            Directory.CreateSymbolicLink(Path.Combine(root.FullName, "link-to-dir"), outside.FullName);

            Assert.That(RsyncBlockSize.LargestFile(root.FullName), Is.EqualTo(5 * GiB), "symbolic links are not followed");
            Assert.That(RsyncBlockSize.LargestFile(Path.Combine(root.FullName, "missing")), Is.Zero);
        }
        finally
        {
            root.Delete(recursive: true);
            outside.Delete(recursive: true);
        }
    }

    [Test]
    public void BuildArguments_inPlaceUpdate_blockSizeForTheTargetsLargestFile()
    {
        var target = Directory.CreateTempSubdirectory("dsblock-");
        try
        {
            SparseFile(Path.Combine(target.FullName, "disk.img"), 8 * GiB);
            var request = new TreeSyncRequest { SourceDirectory = "/s", TargetDirectory = target.FullName, TargetIsCopyOnWrite = true };

            Assert.That(new RsyncTreeSynchronizer().BuildArguments(request), Does.Contain("--block-size=8192"), "8 GiB in at most 2^20 blocks");
            Assert.That(new RsyncTreeSynchronizer().BuildArguments(request with { TargetDirectory = "/nonexistent" }), Does.Contain("--block-size=4096"));
            Assert.That(new RsyncTreeSynchronizer().BuildArguments(request with { TargetIsCopyOnWrite = false }).Any(a => a.StartsWith("--block-size", StringComparison.Ordinal)), Is.False, "whole files: no blocks");
            Assert.That(new RsyncTreeSynchronizer(new() { InPlaceBlockSize = 0 }).BuildArguments(request).Any(a => a.StartsWith("--block-size", StringComparison.Ordinal)), Is.False, "rsync's own choice");
            Assert.That(new RsyncTreeSynchronizer(new() { ExtraArguments = ["--block-size=2048"] }).BuildArguments(request).Count(a => a.StartsWith("--block-size", StringComparison.Ordinal)), Is.EqualTo(1), "the caller's wins");
            Assert.That(() => new RsyncTreeSynchronizerOptions { InPlaceBlockSize = 256 << 10 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
        }
        finally
        {
            target.Delete(recursive: true);
        }
    }

    [Test]
    public void ServerCheck_writtenTreeUpdatedInPlace_theServerChoosesTheBlockSizeAndRefusesThePeers()
    {
        var tree = Directory.CreateTempSubdirectory("dsblock-");
        try
        {
            SparseFile(Path.Combine(tree.FullName, "disk.img"), 16 * GiB);
            string[] push = ["--server", "-logDtpre.iLsfxCIvu", "--inplace", ".", RsyncServerArguments.TreePlaceholder];

            var words = RsyncServerArguments.Check(push, tree.FullName, writable: true, inPlaceBlockSize: 4096);

            Assert.That(words, Does.Contain("-B16384"), "raised for the server's own largest file");
            Assert.That(RsyncServerArguments.Check(push, tree.FullName, writable: true), Has.None.StartsWith("-B"), "0: rsync's own choice");
            Assert.That(RsyncServerArguments.Check(["--server", "-logDtpre.iLsfxCIvu", ".", RsyncServerArguments.TreePlaceholder], tree.FullName, writable: true, inPlaceBlockSize: 4096),
                Has.None.StartsWith("-B"), "not in place: whole files");
            Assert.That(() => RsyncServerArguments.Check(["--server", "-logDtpre.iLsfxCIvu", "-B1", "--inplace", ".", RsyncServerArguments.TreePlaceholder], tree.FullName, writable: true, inPlaceBlockSize: 4096),
                Throws.InstanceOf<UnauthorizedAccessException>(), "a peer's block size (1 byte on 16 GiB: 16 G blocks of rsync's memory) is refused");
        }
        finally
        {
            tree.Delete(recursive: true);
        }
    }

    /// <summary>A file of <paramref name="length"/> bytes with no data (a hole): its apparent size is what rsync splits.</summary>
    private static void SparseFile(string path, long length)
    {
        using var file = File.Create(path);
        file.SetLength(length);
    }

    /// <summary>
    /// dir: → Btrfs, a 64 MiB file with 1 % of its 4 KiB blocks rewritten: rsync's own block size for it would be
    /// 8 KiB (the square root), so it writes about twice what changed; at 4 KiB, little more than what changed.
    /// </summary>
    [TestCase(4096)]
    [TestCase(0)]
    public async Task Refresh_scatteredChangeOnCopyOnWriteTarget_writtenInUnitsOfTheBlockSize(int blockSize)
    {
        await using var bed = new RsyncTestBed();
        var source = await bed.DirAsync();
        var target = await bed.BtrfsAsync('b');
        Assume.That(target.Driver.Has(DriverCapabilities.CopyOnWriteTarget), Is.True);
        var file = Path.Combine(await source.GetPathAsync(null), "disk.img");
        File.WriteAllBytes(file, TestTrees.Random(64 << 20, 7));
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer(new() { InPlaceBlockSize = blockSize }) };
        await replicator.RefreshAsync(source, target);
        var changed = 0L;
        var random = new Random(8);
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            var blocks = (64 << 20) / 4096;
            foreach (var block in Enumerable.Range(0, blocks).OrderBy(_ => random.Next()).Take(blocks / 100))
            {
                stream.Position = (long)block * 4096;
                stream.Write(TestTrees.Random(4096, block));
                changed += 4096;
            }
        }
        await source.CreateSnapshotAsync("s2");

        var second = await replicator.RefreshAsync(source, target);

        await TestContext.Out.WriteLineAsync($"block size {blockSize}: {changed} bytes changed, {second.BytesWritten} written");
        Assert.That(File.ReadAllBytes(Path.Combine(await target.GetPathAsync("s2"), "disk.img")), Is.EqualTo(File.ReadAllBytes(file)));
        if (blockSize == 4096)
        {
            Assert.That(second.BytesWritten, Is.LessThan(changed * 5 / 4), "4 KiB units");
        }
        else
        {
            Assert.That(second.BytesWritten, Is.GreaterThan(changed * 3 / 2), "rsync's own 8 KiB units (the block size matters)");
        }
    }
}
