using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using DeltaSnap.Testing;

namespace DeltaSnap.Btrfs.Tests;

/// <summary>Issue 16: a refresh whose source did not change since its newest snapshot takes no temporary snapshot (Btrfs generations).</summary>
public sealed class BtrfsLiveStateTests : BtrfsTestBase
{
    [Test]
    public async Task IsLiveStateUnchanged_afterSnapshot_trueUntilAFileIsWritten()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        TestData.Populate(source.LivePath, seed: 50, files: 2);
        await source.CreateSnapshotAsync("s1");

        Assert.That(await source.IsLiveStateUnchangedAsync("s1"), Is.True);

        // Not synced by the test: the check writes the file system's dirty data back before it compares.
        await File.AppendAllTextAsync(Path.Combine(source.LivePath, "new.txt"), "x");

        Assert.That(await source.IsLiveStateUnchangedAsync("s1"), Is.False);
        await source.CreateSnapshotAsync("s2");
        Assert.That(await source.IsLiveStateUnchangedAsync("s2"), Is.True);
        Assert.That(await source.IsLiveStateUnchangedAsync("s1"), Is.False, "only the newest snapshot can equal the live state");
    }

    [Test]
    public async Task Refresh_unchangedSource_takesNoTemporarySnapshotAndIsThenUpToDate()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 51, files: 4);
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator(Logs);

        var first = await replicator.RefreshAsync(source, target);

        Assert.That(first.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        Assert.That(first.LiveStateSent, Is.False, "the live state equals s1: no temporary snapshot");
        var second = await replicator.RefreshAsync(source, target);

        Assert.That(second.Kind, Is.EqualTo(RefreshKind.UpToDate), "neither side changed since s1");
        Assert.That(second.BytesSent, Is.Zero);
        Assert.That((await source.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        // Read only now: reading files updates their access times, which is a change (relatime, the first read after a write).
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(await source.GetPathAsync("s1"))));

        // The source changes: the live state travels again.
        TestData.Change(source.LivePath, seed: 52);
        var third = await replicator.RefreshAsync(source, target);

        Assert.That(third.LiveStateSent, Is.True);
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
    }
}
