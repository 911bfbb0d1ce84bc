using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Rsync.Tests;

/// <summary>
/// Refreshes across unlike file system backends through the rsync route, with trees holding everything rsync can
/// get wrong, compared after each refresh by a tree digest (data, modes, owners, times, links, devices, holes,
/// xattrs and ACLs). zfs-fuse stores neither extended attributes (so no POSIX ACLs) nor sub-second times, and shows
/// no holes (SEEK_HOLE finds none; block counts lag by seconds): pairs with a ZFS side build their trees without
/// xattrs/ACLs, compare times in whole seconds and leave holes out of the digest, and say so by name.
/// </summary>
public sealed class RsyncRefreshTests
{
    internal static readonly TreeDigestOptions ZfsFuseDigest = new() { ExtendedAttributes = false, NanosecondTimes = false, Sparseness = false };

    [Test]
    public async Task Refresh_zfsToBtrfs_withoutXattrsAclsSubsecondTimesAndHoles_targetEqualsSource()
    {
        await using var bed = new RsyncTestBed();
        await RefreshTwiceAndCompareAsync(await bed.ZfsAsync('a'), await bed.BtrfsAsync('b'), xattrs: false, ZfsFuseDigest);
    }

    [Test]
    public async Task Refresh_zfsFuseSource_leavesNoSnapshotViewMounted()
    {
        // zfs-fuse has no .zfs/snapshot: each snapshot is read through a read-only clone, which the route releases.
        await using var bed = new RsyncTestBed();
        var source = (DeltaSnap.Zfs.ZfsVolume)await bed.ZfsAsync('a');
        var target = await bed.BtrfsAsync('b');
        TestTrees.Build(await source.GetPathAsync(null), xattrs: false);
        await source.CreateSnapshotAsync("s1");
        await source.CreateSnapshotAsync("s2");

        var result = await new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() }.RefreshAsync(source, target);

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s1", "s2" }));
        var views = await ViewsOfAsync(source.Dataset);
        Assert.That(views, Is.Empty, "every view the refresh mounted was destroyed");
        Assert.That(TreeDigest.Describe(await target.GetPathAsync("s2"), ZfsFuseDigest), Is.EqualTo(TreeDigest.Describe(await source.GetPathAsync("s2"), ZfsFuseDigest)));
        Assert.That(await ViewsOfAsync(source.Dataset), Has.Count.EqualTo(1), "reading a snapshot's path mounts its view again");
        await source.ReleasePathAsync("s2");
        Assert.That(await ViewsOfAsync(source.Dataset), Is.Empty);
    }

    [Test]
    public async Task Refresh_fileRewrittenWithSameSizeWithinTheSameSecond_isSent()
    {
        // rsync's quick check compares whole seconds unless told otherwise: the rewrite must not be skipped.
        await using var bed = new RsyncTestBed();
        var source = await bed.DirAsync();
        var target = await bed.DirAsync();
        var file = Path.Combine(await source.GetPathAsync(null), "f.txt");
        var second = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.WriteAllText(file, "aaaa");
        File.SetLastWriteTimeUtc(file, second.AddTicks(1_000_000));
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() };
        await replicator.RefreshAsync(source, target);
        File.WriteAllText(file, "bbbb");
        File.SetLastWriteTimeUtc(file, second.AddTicks(9_000_000));
        await source.CreateSnapshotAsync("s2");

        await replicator.RefreshAsync(source, target);

        Assert.That(File.ReadAllText(Path.Combine(await target.GetPathAsync("s2"), "f.txt")), Is.EqualTo("bbbb"));
        Assert.That(File.ReadAllText(Path.Combine(await target.GetPathAsync("s1"), "f.txt")), Is.EqualTo("aaaa"));
    }

    /// <summary>The snapshot views (clones under POOL/deltasnap-views) whose origin is a snapshot of <paramref name="dataset"/>.</summary>
    internal static async Task<IReadOnlyList<string>> ViewsOfAsync(string dataset)
    {
        var pool = dataset.Split('/')[0];
        using var zfs = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("zfs", ["list", "-H", "-o", "name,origin", "-r", "-d", "1", pool + "/deltasnap-views"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = await zfs.StandardOutput.ReadToEndAsync();
        await zfs.WaitForExitAsync();
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Where(fields => fields.Length == 2 && fields[1].StartsWith(dataset + "@", StringComparison.Ordinal))
            .Select(fields => fields[0])
            .ToArray();
    }

    [Test]
    public async Task Refresh_btrfsToZfs_withoutXattrsAclsSubsecondTimesAndHoles_targetEqualsSource()
    {
        await using var bed = new RsyncTestBed();
        await RefreshTwiceAndCompareAsync(await bed.BtrfsAsync('a'), await bed.ZfsAsync('b'), xattrs: false, ZfsFuseDigest);
    }

    [Test]
    public async Task Refresh_zfsToDir_withoutXattrsAclsSubsecondTimesAndHoles_targetEqualsSource()
    {
        await using var bed = new RsyncTestBed();
        await RefreshTwiceAndCompareAsync(await bed.ZfsAsync('a'), await bed.DirAsync(), xattrs: false, ZfsFuseDigest);
    }

    [Test]
    public async Task Refresh_dirToBtrfs_everything_targetEqualsSource()
    {
        await using var bed = new RsyncTestBed();
        await RefreshTwiceAndCompareAsync(await bed.DirAsync(), await bed.BtrfsAsync('b'), xattrs: true, TreeDigestOptions.Full);
    }

    [Test]
    public async Task Refresh_btrfsToDirOnBtrfs_everything_targetEqualsSourceWithReflinkSnapshots()
    {
        await using var bed = new RsyncTestBed();
        var target = await bed.DirAsync(RsyncTestBed.BtrfsMount('b'));
        Assert.That(((DirDriver)target.Driver).SnapshotMethod, Is.EqualTo(SnapshotCopyMethod.Reflink));
        Assert.That(target.Driver.Has(DriverCapabilities.CopyOnWriteTarget), Is.True);
        await RefreshTwiceAndCompareAsync(await bed.BtrfsAsync('a'), target, xattrs: true, TreeDigestOptions.Full);
    }

    [Test]
    public async Task Refresh_btrfsWithXattrsToZfsFuse_failsNamingRsyncAndRollsBack()
    {
        await using var bed = new RsyncTestBed();
        var source = await bed.BtrfsAsync('a');
        var target = await bed.ZfsAsync('b');
        var sourcePath = await source.GetPathAsync(null);
        TestTrees.Build(sourcePath, xattrs: false);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() };
        await replicator.RefreshAsync(source, target, new RefreshOptions());
        var before = TreeDigest.Describe(await target.GetPathAsync(null), ZfsFuseDigest);

        NativeCalls.SetXattr(Path.Combine(sourcePath, "plain.txt"), "user.lost-on-zfs-fuse", [1]);
        await source.CreateSnapshotAsync("s2");
        var error = Assert.ThrowsAsync<BackendCommandException>(() => replicator.RefreshAsync(source, target, new RefreshOptions()));

        Assert.That(error!.ExitCode, Is.EqualTo(23), "zfs-fuse cannot store the attribute: rsync reports a partial transfer");
        Assert.That(error.CommandLine, Does.StartWith("rsync "));
        Assert.That(error.StandardError, Does.Contain("Operation not supported"));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(TreeDigest.Describe(await target.GetPathAsync(null), ZfsFuseDigest), Is.EqualTo(before), "rolled back to s1");
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
    }

    /// <summary>
    /// Builds a tree, snapshots s1, changes, snapshots s2, changes the live state; refreshes; checks snapshots and live
    /// tree; then changes again, snapshots s3, refreshes incrementally (base found by identity across backends).
    /// </summary>
    private static async Task RefreshTwiceAndCompareAsync(Volume source, Volume target, bool xattrs, TreeDigestOptions digest)
    {
        var sourcePath = await source.GetPathAsync(null);
        TestTrees.Build(sourcePath, xattrs);
        var s1 = await source.CreateSnapshotAsync("s1");
        TestTrees.Change(sourcePath, xattrs, 1);
        await source.CreateSnapshotAsync("s2");
        TestTrees.Change(sourcePath, xattrs, 2);

        var replicator = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() };
        var first = await replicator.RefreshAsync(source, target, new RefreshOptions());

        Assert.That(first.Route, Is.EqualTo(RefreshRoute.Rsync));
        Assert.That(first.SnapshotsSent, Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(first.LiveStateSent, Is.True);
        await AssertEqualAsync(source, target, ["s1", "s2"], digest);
        var targetLineage = await target.GetLineageAsync();
        Assert.That(targetLineage[0].ReceivedFrom, Is.EqualTo(s1.Identity), "the target records which source snapshot it was made from");
        Assert.That(targetLineage[0].CreatedUtc, Is.EqualTo(s1.CreatedUtc));

        TestTrees.Change(sourcePath, xattrs, 3);
        await source.CreateSnapshotAsync("s3");
        var second = await replicator.RefreshAsync(source, target, new RefreshOptions());

        Assert.That(second.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(second.SnapshotsSent, Is.EqualTo(new[] { "s3" }), "s2 found as the common base by identity");
        await AssertEqualAsync(source, target, ["s1", "s2", "s3"], digest);
        if (target.Driver.Has(DriverCapabilities.CopyOnWriteTarget))
        {
            // 1 % of the 16 MiB file changed: in-place delta updates send little beyond that (plus the new small files).
            Assert.That(second.BytesSent, Is.LessThan(TestTrees.LargeFileSize / 4), "only what changed crossed");
        }
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
        Assert.That((await target.GetLineageAsync()).Temporary, Is.Empty);
    }

    internal static async Task AssertEqualAsync(Volume source, Volume target, string[] snapshots, TreeDigestOptions digest)
    {
        Assert.That((await target.GetLineageAsync()).WithoutTemporary().Select(s => s.Name), Is.EqualTo(snapshots));
        foreach (var name in snapshots)
        {
            Assert.That(TreeDigest.Describe(await target.GetPathAsync(name), digest), Is.EqualTo(TreeDigest.Describe(await source.GetPathAsync(name), digest)),
                $"snapshot {name}");
        }
        Assert.That(TreeDigest.Describe(await target.GetPathAsync(null), digest), Is.EqualTo(TreeDigest.Describe(await source.GetPathAsync(null), digest)),
            "live tree");
    }
}
