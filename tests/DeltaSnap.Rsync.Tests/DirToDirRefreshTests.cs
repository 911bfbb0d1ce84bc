using DeltaSnap.Drivers;
using DeltaSnap.Replication;

namespace DeltaSnap.Rsync.Tests;

/// <summary>
/// dir: to dir: refreshes without reflinks (ext4 here): each snapshot received aside with one rsync --link-dest, the
/// live tree swapped in sharing files with the newest snapshot, and nothing shared ever written in place.
/// </summary>
public sealed class DirToDirRefreshTests
{
    [Test]
    public async Task Refresh_dirToDir_snapshotsAndLiveTreeShareUnchangedFilesAndEarlierSnapshotsKeepTheirContent()
    {
        await using var bed = new RsyncTestBed();
        var (source, target, replicator, s1Digest) = await RefreshedPairAsync(bed);
        Assert.That(target.Driver.Has(DriverCapabilities.StagedTrees), Is.True, "ext4 here: no reflinks");
        var sourcePath = await source.GetPathAsync(null);

        // Changed in place, and a file whose mode alone changes (rsync would chmod it in place if it were the target's).
        File.WriteAllText(Path.Combine(sourcePath, "a", "b", "deep.txt"), "changed");
        File.SetUnixFileMode(Path.Combine(sourcePath, "a", "data.bin"), (UnixFileMode)Convert.ToInt32("600", 8));
        // Past the file system's clock tick (coarse: up to 10 ms), so that the snapshot's clock is later than the changes;
        // within one tick the live tree counts as changed (safe, but then a live state is sent).
        await Task.Delay(50);
        await source.CreateSnapshotAsync("s2");
        var result = await replicator.RefreshAsync(source, target, new RefreshOptions());

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That(TreeDigest.Describe(await target.GetPathAsync("s1")), Is.EqualTo(s1Digest), "s1 untouched by the later refresh");
        var (t1, t2, live) = (await target.GetPathAsync("s1"), await target.GetPathAsync("s2"), target.LivePath);
        Assert.That(Ino(t2, "sparse.img"), Is.EqualTo(Ino(t1, "sparse.img")), "unchanged: one inode in s1 and s2");
        Assert.That(Ino(live, "sparse.img"), Is.EqualTo(Ino(t2, "sparse.img")), "and in the live tree");
        Assert.That(Ino(t2, "a/b/deep.txt"), Is.Not.EqualTo(Ino(t1, "a/b/deep.txt")));
        Assert.That(Ino(t2, "a/data.bin"), Is.Not.EqualTo(Ino(t1, "a/data.bin")), "a mode change makes a new inode, not a chmod of s1's");
        Assert.That(File.GetUnixFileMode(Path.Combine(t1, "a", "data.bin")), Is.Not.EqualTo((UnixFileMode)Convert.ToInt32("600", 8)));
        Assert.That(await target.IsLiveStateUnchangedAsync("s2"), Is.True, "the live tree is a linked copy of s2");
        Assert.That(await target.IsLiveStateUnchangedAsync("s1"), Is.False);
        // (Reading the live tree through GetPathAsync copies it apart from the snapshots first: compared last.)
        await RsyncRefreshTests.AssertEqualAsync(source, target, ["s1", "s2"], TreeDigestOptions.Full);
        Assert.That(StagingDirectories(target), Is.Empty);
        Assert.That(result.LiveStateSent, Is.False, "the source's live tree did not change since s2");
    }

    [Test]
    public async Task Refresh_dirToDir_sourceLiveChangedAfterSnapshot_liveStateSentAndLinkedToNewestSnapshot()
    {
        await using var bed = new RsyncTestBed();
        var source = await bed.DirAsync();
        var target = await bed.DirAsync();
        var sourcePath = await source.GetPathAsync(null);
        TestTrees.Build(sourcePath, xattrs: true);
        await source.CreateSnapshotAsync("s1");
        File.WriteAllText(Path.Combine(sourcePath, "after-s1.txt"), "live only");
        var replicator = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() };

        var result = await replicator.RefreshAsync(source, target, new RefreshOptions());

        Assert.That(result.LiveStateSent, Is.True);
        var (t1, live) = (await target.GetPathAsync("s1"), target.LivePath);
        Assert.That(Ino(live, "sparse.img"), Is.EqualTo(Ino(t1, "sparse.img")), "the live tree shares unchanged files with s1");
        await RsyncRefreshTests.AssertEqualAsync(source, target, ["s1"], TreeDigestOptions.Full);
        Assert.That(File.Exists(Path.Combine(t1, "after-s1.txt")), Is.False);
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
        Assert.That((await target.GetLineageAsync()).Temporary, Is.Empty);
    }

    [Test]
    public async Task Refresh_dirToDir_targetLiveTreeChanged_rollbackSwapsInNewLinkTreeWithoutTouchingSnapshot()
    {
        await using var bed = new RsyncTestBed();
        var (source, target, replicator, s1Digest) = await RefreshedPairAsync(bed);
        var sourcePath = await source.GetPathAsync(null);
        var live = await target.GetPathAsync(null);
        // Replaced (not written in place), removed and added: the snapshot's files are not touched.
        File.Delete(Path.Combine(live, "plain.txt"));
        File.WriteAllText(Path.Combine(live, "plain.txt"), "scribbled");
        File.Delete(Path.Combine(live, "to-rename.txt"));
        File.WriteAllText(Path.Combine(live, "a", "new.txt"), "new");

        Assert.That(await target.IsLiveStateUnchangedAsync("s1"), Is.False);
        var result = await replicator.RefreshAsync(source, target, new RefreshOptions());

        Assert.That(result.SnapshotsSent, Is.Empty);
        Assert.That(TreeDigest.Describe(await target.GetPathAsync("s1")), Is.EqualTo(s1Digest));
        Assert.That(TreeDigest.Describe(live), Is.EqualTo(TreeDigest.Describe(sourcePath)));
        Assert.That(await target.IsLiveStateUnchangedAsync("s1"), Is.True);
    }

    [Test]
    public async Task Refresh_dirToDir_rsyncKilledThenLeftoverStaging_nextRunRemovesItAndCompletes()
    {
        await using var bed = new RsyncTestBed();
        var source = await bed.DirAsync();
        var target = await bed.DirAsync();
        var (good, killing, liveDigest) = await RsyncFailureTests.PrepareKilledRefreshAsync(bed, source, target);

        var error = Assert.ThrowsAsync<BackendCommandException>(() => killing.RefreshAsync(source, target, new RefreshOptions()));

        Assert.That(error!.ExitCode, Is.EqualTo(128 + 9), error.Message);
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(TreeDigest.Describe(await target.GetPathAsync(null)), Is.EqualTo(liveDigest), "the live tree was never written");
        Assert.That(StagingDirectories(target), Is.Empty, "a failed write removes its staging directory");

        // What a killed process leaves: a half-written staging directory.
        var metadata = Path.GetDirectoryName(StagingGlobRoot(target))!;
        var leftover = Path.Combine(metadata, "staging-leftover");
        Directory.CreateDirectory(Path.Combine(leftover, "half"));
        File.WriteAllText(Path.Combine(leftover, "half", "file"), "partial");
        var result = await good.RefreshAsync(source, target, new RefreshOptions());

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        await RsyncRefreshTests.AssertEqualAsync(source, target, ["s1", "s2"], TreeDigestOptions.Full);
        Assert.That(StagingDirectories(target), Is.Empty);
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
    }

    [Test]
    public async Task IsLiveStateUnchanged_dirSource_trueUntilAnEntryChanges()
    {
        await using var bed = new RsyncTestBed();
        var source = await bed.DirAsync();
        var live = await source.GetPathAsync(null);
        TestTrees.Build(live, xattrs: true);
        await Task.Delay(50); // past the file system's clock tick: changes in the snapshot's own tick count as later
        await source.CreateSnapshotAsync("s1");

        Assert.That(await source.IsLiveStateUnchangedAsync("s1"), Is.True);
        File.SetUnixFileMode(Path.Combine(live, "a", "data.bin"), (UnixFileMode)Convert.ToInt32("600", 8));
        Assert.That(await source.IsLiveStateUnchangedAsync("s1"), Is.False, "a mode change");
        await Task.Delay(50);
        await source.CreateSnapshotAsync("s2");
        Assert.That(await source.IsLiveStateUnchangedAsync("s2"), Is.True);
        Assert.That(await source.IsLiveStateUnchangedAsync("s1"), Is.False);
        File.Delete(Path.Combine(live, "a", "b", "deep.txt"));
        Assert.That(await source.IsLiveStateUnchangedAsync("s2"), Is.False, "a file removed deep down");
        await source.CreateSnapshotAsync("s3");
        await using (var f = new FileStream(Path.Combine(live, "a", "data.bin"), FileMode.Open, FileAccess.Write))
        {
            f.Write([1]);
        }
        Assert.That(await source.IsLiveStateUnchangedAsync("s3"), Is.False, "one byte written in place");
    }

    /// <summary>Two dir: volumes, the source with the full test tree in s1, refreshed once; the target's s1 digest.</summary>
    [Test]
    public async Task GetPath_liveTreeSharingSnapshotFiles_isCopiedApartFirst_soWritesThroughItNeverReachASnapshot()
    {
        await using var bed = new RsyncTestBed();
        var (source, target, replicator, s1Digest) = await RefreshedPairAsync(bed);
        var t1 = await target.GetPathAsync("s1");
        Assert.That(Ino(target.LivePath, "a/data.bin"), Is.EqualTo(Ino(t1, "a/data.bin")), "shared after the refresh");

        // What a pull's rsync or a server's rsync --server does with a file whose mode alone differs: chmod in place.
        var live = await target.GetPathAsync(null);
        Assert.That(Ino(live, "a/data.bin"), Is.Not.EqualTo(Ino(t1, "a/data.bin")), "the live tree was copied apart");
        File.SetUnixFileMode(Path.Combine(live, "a", "data.bin"), (UnixFileMode)Convert.ToInt32("600", 8));
        await File.AppendAllTextAsync(Path.Combine(live, "plain.txt"), " appended in place");

        Assert.That(TreeDigest.Describe(t1), Is.EqualTo(s1Digest), "s1 untouched by writes into the live tree");
        Assert.That(StagingDirectories(target), Is.Empty);
        Assert.That(await target.IsLiveStateUnchangedAsync("s1"), Is.False);
        // The next refresh rolls the written live tree back and converges.
        await source.CreateSnapshotAsync("s2");
        await replicator.RefreshAsync(source, target, new RefreshOptions());
        await RsyncRefreshTests.AssertEqualAsync(source, target, ["s1", "s2"], TreeDigestOptions.Full);
        Assert.That(TreeDigest.Describe(await target.GetPathAsync("s1")), Is.EqualTo(s1Digest));
    }

    private static async Task<(DirVolume Source, DirVolume Target, Replicator Replicator, IReadOnlyList<string> S1Digest)> RefreshedPairAsync(RsyncTestBed bed)
    {
        var source = await bed.DirAsync();
        var target = await bed.DirAsync();
        TestTrees.Build(await source.GetPathAsync(null), xattrs: true);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() };
        await replicator.RefreshAsync(source, target, new RefreshOptions());
        return (source, target, replicator, TreeDigest.Describe(await target.GetPathAsync("s1")));
    }

    private static ulong Ino(string root, string relative) => TreeDigest.Stat(Path.Combine(root, relative)).Ino;

    private static string StagingGlobRoot(DirVolume volume) =>
        Path.Combine(Path.GetDirectoryName(volume.LivePath)!, "." + Path.GetFileName(volume.LivePath) + ".deltasnap", "x");

    private static string[] StagingDirectories(DirVolume volume) =>
        Directory.GetDirectories(Path.GetDirectoryName(StagingGlobRoot(volume))!, "staging-*");
}
