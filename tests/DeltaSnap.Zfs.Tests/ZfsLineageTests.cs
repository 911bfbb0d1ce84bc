using System.Globalization;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Zfs.Tests;

/// <summary>Lineage, snapshots, rollback and paths on a real zfs-fuse pool.</summary>
[TestFixture]
public class ZfsLineageTests : ZfsFixture
{
    [Test]
    public async Task GetLineage_snapshots_exactGuidsInCreateTxgOrder()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        // Names that sort differently from their creation order.
        foreach (var name in new[] { "zeta", "alpha", "mid", "beta" })
        {
            await File.WriteAllTextAsync(Path.Combine(await volume.GetPathAsync(null), name), name);
            await volume.CreateSnapshotAsync(name);
        }

        var lineage = await volume.GetLineageAsync();

        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "zeta", "alpha", "mid", "beta" }));
        var txgs = lineage.Select(s => ulong.Parse(ZfsTestBed.Zfs("get", "-H", "-p", "-o", "value", "createtxg", $"{volume.Dataset}@{s.Name}").Trim(), CultureInfo.InvariantCulture)).ToList();
        Assert.That(txgs, Is.Ordered.Ascending);
        foreach (var s in lineage)
        {
            Assert.That(s.Identity.Kind, Is.EqualTo(ZfsDriver.GuidIdentityKind));
            Assert.That(s.Identity.Value, Is.EqualTo(ZfsTestBed.GuidOf($"{volume.Dataset}@{s.Name}")), "the exact 64-bit GUID, not zfs list's abbreviation");
            var creation = long.Parse(ZfsTestBed.Zfs("get", "-H", "-p", "-o", "value", "creation", $"{volume.Dataset}@{s.Name}").Trim(), CultureInfo.InvariantCulture);
            Assert.That(s.CreatedUtc, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(creation)));
        }
        Assert.That(lineage.Select(s => s.Identity).Distinct().Count(), Is.EqualTo(4));
    }

    [Test]
    public async Task GetLineage_childDatasetsAndTheirSnapshots_notIncluded()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        await volume.CreateSnapshotAsync("own");
        ZfsTestBed.Zfs("create", $"{volume.Dataset}/child");
        ZfsTestBed.Zfs("snapshot", $"{volume.Dataset}/child@childsnap");

        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "own" }));
    }

    [Test]
    public async Task CreateSnapshot_withCreatedTimeAndReceivedFrom_lineageReportsThem()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        var from = new SnapshotIdentity("btrfs-uuid", "6f1c0e2a-0000-4000-8000-000000000001");
        var created = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);

        var info = await volume.CreateSnapshotAsync("copy", new SnapshotCreateOptions { CreatedUtc = created, ReceivedFrom = from });

        Assert.That(info.CreatedUtc, Is.EqualTo(created));
        Assert.That(info.ReceivedFrom, Is.EqualTo(from));
        var read = (await volume.GetLineageAsync()).Single();
        Assert.That(read.ReceivedFrom, Is.EqualTo(from));
        Assert.That(read.CreatedUtc, Is.EqualTo(created));
        var source = new SnapshotInfo("copy", from, created);
        Assert.That(read.IsSameAs(source), Is.True, "a later refresh finds this snapshot as the common base");
    }

    [Test]
    public async Task Rollback_toOlderSnapshot_restoresItsTree()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        var path = await volume.GetPathAsync(null);
        Trees.WriteRandom(path, "a", 5, 8192, seed: 1);
        await volume.CreateSnapshotAsync("s1");
        var digest = Trees.Digest(path);
        Trees.WriteRandom(path, "b", 5, 8192, seed: 2);
        Trees.Modify(Path.Combine(path, "a", "f0001.bin"), 100, seed: 3);

        await volume.RollbackAsync("s1");

        Assert.That(Trees.Digest(path), Is.EqualTo(digest));
    }

    [Test]
    public async Task Rollback_newerSnapshotsExist_throwsCommandError()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        await volume.CreateSnapshotAsync("s1");
        await volume.CreateSnapshotAsync("s2");

        var error = Assert.ThrowsAsync<BackendCommandException>(() => volume.RollbackAsync("s1"));
        Assert.That(error!.StandardError, Does.Contain("more recent snapshots"));
        Assert.That((await volume.GetLineageAsync()).Count, Is.EqualTo(2));
    }

    [Test]
    public async Task DeleteAndRename_snapshots_lineageFollows()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        await volume.CreateSnapshotAsync("s1");
        var s2 = await volume.CreateSnapshotAsync("s2");
        await volume.CreateSnapshotAsync("s3");

        await volume.DeleteSnapshotAsync("s1");
        await volume.RenameSnapshotAsync("s2", "renamed");

        var lineage = await volume.GetLineageAsync();
        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "renamed", "s3" }));
        Assert.That(lineage[0].Identity, Is.EqualTo(s2.Identity), "a rename keeps the GUID");
        Assert.ThrowsAsync<VolumeNotFoundException>(() => volume.DeleteSnapshotAsync("s1"));
    }

    [Test]
    public async Task DeleteSnapshot_rightAfterReadingItsFiles_retriesPastBusy()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        var path = await volume.GetPathAsync(null);
        Trees.WriteRandom(path, "a", 10, 8192, seed: 4);
        await volume.CreateSnapshotAsync("s1");
        var snapshotPath = await volume.GetPathAsync("s1");
        Assert.That(Trees.Digest(snapshotPath), Is.EqualTo(Trees.Digest(path)));

        await volume.DeleteSnapshotAsync("s1");

        Assert.That(await volume.GetLineageAsync(), Is.Empty);
        Assert.That(Directory.Exists(snapshotPath), Is.False, "the snapshot's view went with it");
    }

    [Test]
    public async Task GetPath_snapshot_readOnlyTreeOfThatSnapshot()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        var path = await volume.GetPathAsync(null);
        Trees.WriteRandom(path, "a", 5, 8192, seed: 5);
        await volume.CreateSnapshotAsync("s1");
        var digest1 = Trees.Digest(path);
        Trees.WriteRandom(path, "b", 5, 8192, seed: 6);

        var snapshotPath = await volume.GetPathAsync("s1");

        Assert.That(Trees.Digest(snapshotPath), Is.EqualTo(digest1));
        Assert.That(() => File.WriteAllText(Path.Combine(snapshotPath, "new"), "x"), Throws.InstanceOf<IOException>().Or.InstanceOf<UnauthorizedAccessException>());
        Assert.That(await volume.GetPathAsync("s1"), Is.EqualTo(snapshotPath), "the view is made once");
        Assert.That(await Bed.A.ListVolumesAsync(), Does.Not.Contain(ZfsDriver.ViewsDatasetName).And.All.Not.StartsWith(ZfsDriver.ViewsDatasetName));
    }

    [Test]
    public async Task GetPath_snapshotReplacedUnderItsNameAfterTheLineageWasRead_readsTheNewSnapshot()
    {
        // The view is named by the GUID the lineage read; the zfs get after the clone finds the GUID changed.
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        var path = await volume.GetPathAsync(null);
        await File.WriteAllTextAsync(Path.Combine(path, "f"), "old");
        await volume.CreateSnapshotAsync("s1");
        var old = (await volume.GetLineageAsync()).Single();
        ZfsTestBed.Zfs("destroy", $"{volume.Dataset}@s1");
        await File.WriteAllTextAsync(Path.Combine(path, "f"), "new");
        ZfsTestBed.Zfs("snapshot", $"{volume.Dataset}@s1");
        var guid = ZfsTestBed.GuidOf($"{volume.Dataset}@s1");
        Assert.That(guid, Is.Not.EqualTo(old.Identity.Value));

        var snapshotPath = await volume.GetPathAsync("s1");

        Assert.That(await File.ReadAllTextAsync(Path.Combine(snapshotPath, "f")), Is.EqualTo("new"));
        Assert.That(Path.GetFileName(snapshotPath), Is.EqualTo(guid), "the view is named by the snapshot's real GUID");
        Assert.That(Directory.Exists(Path.Combine(Path.GetDirectoryName(snapshotPath)!, old.Identity.Value)), Is.False, "the view made under the stale GUID went");
        await volume.ReleasePathAsync("s1");
        Assert.That(Directory.Exists(snapshotPath), Is.False);
    }

    [Test]
    public async Task GetPath_snapshotDestroyedElsewhereAfterTheLineageWasRead_throwsNotFound()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        await volume.CreateSnapshotAsync("s1");
        _ = await volume.GetLineageAsync();
        ZfsTestBed.Zfs("destroy", $"{volume.Dataset}@s1");

        var error = Assert.ThrowsAsync<VolumeNotFoundException>(() => volume.GetPathAsync("s1"));

        Assert.That(error!.Message, Does.Contain($"{volume.Dataset}@s1"));
        Assert.ThrowsAsync<VolumeNotFoundException>(() => volume.GetPathAsync("never"));
    }

    [Test]
    public async Task GetPath_viewMadeByAnotherVolumeObject_isUsedAndReleasedByEither()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        await File.WriteAllTextAsync(Path.Combine(await volume.GetPathAsync(null), "f"), "x");
        await volume.CreateSnapshotAsync("s1");
        var first = await volume.GetPathAsync("s1");
        var other = await Bed.A.OpenVolumeAsync(volume.Name);
        _ = await other.GetLineageAsync();

        var second = await other.GetPathAsync("s1");

        Assert.That(second, Is.EqualTo(first));
        Assert.That(await File.ReadAllTextAsync(Path.Combine(second, "f")), Is.EqualTo("x"));
        await other.ReleasePathAsync("s1");
        Assert.That(Directory.Exists(first), Is.False);
        await volume.ReleasePathAsync("s1"); // already gone: nothing to do
    }

    [Test]
    public async Task GetPath_live_isTheMountpointUnderThePool()
    {
        var volume = await Bed.CreateAsync(Bed.A, "lin");
        var path = await volume.GetPathAsync(null);
        Assert.That(path, Is.EqualTo("/" + volume.Dataset));
        await File.WriteAllTextAsync(Path.Combine(path, "x"), "x");
        Assert.That(long.Parse(ZfsTestBed.Zfs("get", "-H", "-p", "-o", "value", "referenced", volume.Dataset).Trim(), CultureInfo.InvariantCulture), Is.GreaterThan(0));
        Assert.That(await volume.GetSizeAsync(), Is.GreaterThan(0));
    }
}
