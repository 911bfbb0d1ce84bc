using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Zfs.Tests;

/// <summary>Refreshing into a target dataset ZFS does not mount (<c>mountpoint=none</c>, <c>canmount=off</c>): it receives unmounted.</summary>
[TestFixture]
public class ZfsUnmountedTargetTests : ZfsFixture
{
    [TestCase("mountpoint=none")]
    [TestCase("canmount=off")]
    public async Task Refresh_fullThenIncrementalIntoUnmountedTarget_receivesAndStaysUnmounted(string property)
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        var sourcePath = await source.GetPathAsync(null);
        Trees.WriteRandom(sourcePath, "a", 8, 32 << 10, seed: 21);
        await source.CreateSnapshotAsync("s1");
        var target = await Bed.CreateAsync(Bed.B, "dst");
        ZfsTestBed.Zfs("unmount", target.Dataset);
        ZfsTestBed.Zfs("set", property, target.Dataset);
        var replicator = new Replicator();
        var options = new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } };

        var full = await replicator.RefreshAsync(source, target, options);

        Assert.That(full.Route, Is.EqualTo(RefreshRoute.NativeStream));
        Assert.That(full.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        Assert.That(ZfsTestBed.Zfs("get", "-H", "-o", "value", "mounted", target.Dataset).Trim(), Is.EqualTo("no"));

        Trees.WriteRandom(sourcePath, "b", 4, 16 << 10, seed: 22);
        await source.CreateSnapshotAsync("s2");

        var incremental = await replicator.RefreshAsync(source, target, options);

        Assert.That(incremental.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(incremental.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That(ZfsTestBed.Zfs("get", "-H", "-o", "value", "mounted", target.Dataset).Trim(), Is.EqualTo("no"));
        var targetLineage = await target.GetLineageAsync();
        var sourceLineage = await source.GetLineageAsync();
        Assert.That(targetLineage.Select(s => s.Identity), Is.EqualTo(sourceLineage.Select(s => s.Identity)));

        // Made mountable again, the received file system holds the source's files.
        if (property.StartsWith("canmount", StringComparison.Ordinal))
        {
            ZfsTestBed.Zfs("set", "canmount=on", target.Dataset);
        }
        else
        {
            ZfsTestBed.Zfs("inherit", "mountpoint", target.Dataset);
        }
        Assert.That(Trees.Digest(await target.GetPathAsync(null)), Is.EqualTo(Trees.Digest(await source.GetPathAsync("s2"))));
    }
}
