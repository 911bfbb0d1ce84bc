using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using DeltaSnap.Zfs;

namespace DeltaSnap.Rsync.Tests;

/// <summary>
/// The rsync route around a zfs-fuse source's snapshot views (read-only clones, since zfs-fuse has no .zfs/snapshot):
/// the live state is captured and its view made while the snapshots before it are sent, views are released in the
/// background, and nothing of either outlives the refresh, whether it succeeds or fails.
/// </summary>
public sealed class RsyncSnapshotViewTests
{
    private static readonly TreeDigestOptions ZfsFuseDigest = RsyncRefreshTests.ZfsFuseDigest;

    [Test]
    public async Task Refresh_zfsSourceWithSnapshotsToSend_capturesLiveStateWhileTheyAreSent()
    {
        await using var bed = new RsyncTestBed();
        var source = (ZfsVolume)await bed.ZfsAsync('a');
        var target = await bed.BtrfsAsync('b');
        TestTrees.Build(await source.GetPathAsync(null), xattrs: false);
        await source.CreateSnapshotAsync("s1");
        File.WriteAllText(Path.Combine(await source.GetPathAsync(null), "live-only"), "live");
        var temporariesDuringFirst = new List<string>();
        var sourceDirectories = new List<string>();
        var synchronizer = new HookedSynchronizer(async (call, request) =>
        {
            sourceDirectories.Add(request.SourceDirectory);
            if (call == 1)
            {
                // The capture runs beside this synchronization; give it time to land, but no more than needed.
                for (var i = 0; i < 100 && temporariesDuringFirst.Count == 0; i++)
                {
                    temporariesDuringFirst.AddRange((await source.GetLineageAsync()).Where(s => s.IsTemporary).Select(s => s.Name));
                    if (temporariesDuringFirst.Count == 0)
                    {
                        await Task.Delay(100);
                    }
                }
            }
        });

        var result = await new Replicator { TreeSynchronizer = synchronizer }.RefreshAsync(source, target);

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        Assert.That(result.LiveStateSent, Is.True);
        Assert.That(temporariesDuringFirst, Has.Count.EqualTo(1), "the live state was captured while s1 was sent");
        Assert.That(sourceDirectories, Has.Count.EqualTo(2));
        Assert.That(sourceDirectories[1], Is.Not.EqualTo(sourceDirectories[0]));
        Assert.That(Directory.Exists(sourceDirectories[0]) || Directory.Exists(sourceDirectories[1]), Is.False, "both views were destroyed");
        Assert.That((await source.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }), "the temporary snapshot went");
        Assert.That(TreeDigest.Describe(await target.GetPathAsync(null), ZfsFuseDigest), Is.EqualTo(TreeDigest.Describe(await source.GetPathAsync(null), ZfsFuseDigest)));
    }

    [Test]
    public async Task Refresh_zfsSourceFailingOnItsFirstSnapshot_leavesNoViewNorTemporarySnapshot()
    {
        await using var bed = new RsyncTestBed();
        var source = (ZfsVolume)await bed.ZfsAsync('a');
        var target = await bed.BtrfsAsync('b');
        TestTrees.Build(await source.GetPathAsync(null), xattrs: false);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() };
        await replicator.RefreshAsync(source, target);
        var targetDigest = TreeDigest.Describe(await target.GetPathAsync(null), ZfsFuseDigest);
        File.WriteAllText(Path.Combine(await source.GetPathAsync(null), "new"), "new");
        await source.CreateSnapshotAsync("s2");
        File.WriteAllText(Path.Combine(await source.GetPathAsync(null), "newer"), "newer");
        string? viewOfS2 = null;
        var failing = new HookedSynchronizer((_, request) =>
        {
            viewOfS2 = request.SourceDirectory;
            throw new DeltaSnapException("injected failure of the first synchronization");
        });

        var error = Assert.ThrowsAsync<DeltaSnapException>(() => new Replicator { TreeSynchronizer = failing }.RefreshAsync(source, target));

        Assert.That(error!.Message, Does.Contain("injected"));
        Assert.That(viewOfS2, Is.Not.Null);
        Assert.That(Directory.Exists(viewOfS2), Is.False, "the view of s2 was destroyed");
        Assert.That(await RsyncRefreshTests.ViewsOfAsync(source.Dataset), Is.Empty, "no view is left, the live state's included");
        Assert.That((await source.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }), "the temporary snapshot went");
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(TreeDigest.Describe(await target.GetPathAsync(null), ZfsFuseDigest), Is.EqualTo(targetDigest), "the target is at its last complete snapshot");

        var retried = await replicator.RefreshAsync(source, target);

        Assert.That(retried.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That(TreeDigest.Describe(await target.GetPathAsync(null), ZfsFuseDigest), Is.EqualTo(TreeDigest.Describe(await source.GetPathAsync(null), ZfsFuseDigest)));
        Assert.That(await RsyncRefreshTests.ViewsOfAsync(source.Dataset), Is.Empty);
    }

    /// <summary>rsync, with a hook before each synchronization (its 1-based number and the request).</summary>
    private sealed class HookedSynchronizer(Func<int, TreeSyncRequest, Task> before) : TreeSynchronizer
    {
        private readonly RsyncTreeSynchronizer _rsync = new();
        private int _calls;

        protected override async Task<TreeSyncResult> SynchronizeCoreAsync(TreeSyncRequest request, CancellationToken cancellationToken)
        {
            await before(Interlocked.Increment(ref _calls), request);
            return await _rsync.SynchronizeAsync(request, cancellationToken);
        }
    }
}
