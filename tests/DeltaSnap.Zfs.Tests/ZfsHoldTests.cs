using DeltaSnap.Drivers;

namespace DeltaSnap.Zfs.Tests;

/// <summary>
/// The common base protected by holds (zfs-fuse, pool version 23, has user holds): pruning by another tool
/// cannot remove it, DeltaSnap's own deletes still can, and the protection moves with each refresh.
/// </summary>
[TestFixture]
public class ZfsHoldTests : ZfsFixture
{
    [SetUp]
    public void RequireHolds()
    {
        if (!Bed.A.Features.Holds)
        {
            Assert.Ignore("The installed ZFS has no user holds (zfs hold/release), so the base cannot be protected; this is not faked.");
        }
    }

    [Test]
    public async Task SendReceive_nonTemporarySnapshots_baseHeldOnBothSidesAndOldHoldsReleased()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        await source.CreateSnapshotAsync("s1");
        await source.CreateSnapshotAsync("s2");
        await source.CreateSnapshotAsync("s3");
        var target = await Bed.CreateAsync(Bed.B, "dst");

        var r1 = await NativeTransfer.RunAsync(source, null, "s1", target, null);
        Assert.That(await target.GetHeldSnapshotsAsync(), Is.EqualTo(new[] { "s1" }));
        Assert.That(await source.GetHeldSnapshotsAsync(), Is.EqualTo(new[] { "s1" }));

        var r2 = await NativeTransfer.RunAsync(source, "s1", "s2", target, r1);
        Assert.That(await target.GetHeldSnapshotsAsync(), Is.EqualTo(new[] { "s2" }));
        Assert.That(await source.GetHeldSnapshotsAsync(), Is.EquivalentTo(new[] { "s1", "s2" }), "the source keeps the proven base until the next send");

        await NativeTransfer.RunAsync(source, "s2", "s3", target, r2);
        Assert.That(await target.GetHeldSnapshotsAsync(), Is.EqualTo(new[] { "s3" }));
        Assert.That(await source.GetHeldSnapshotsAsync(), Is.EquivalentTo(new[] { "s2", "s3" }));

        // Another tool pruning the base fails on both sides.
        Assert.That(() => ZfsTestBed.Zfs("destroy", $"{target.Dataset}@s3"), Throws.InvalidOperationException.With.Message.Contains("busy"));
        Assert.That(() => ZfsTestBed.Zfs("destroy", $"{source.Dataset}@s3"), Throws.InvalidOperationException.With.Message.Contains("busy"));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Does.Contain("s3"));
    }

    [Test]
    public async Task Receive_temporarySnapshot_isNotHeldAndPreviousBaseStaysHeld()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        await source.CreateSnapshotAsync("s1");
        var temporary = Lineage.TemporarySnapshot.NewName();
        await source.CreateSnapshotAsync(temporary);
        var target = await Bed.CreateAsync(Bed.B, "dst");
        var r1 = await NativeTransfer.RunAsync(source, null, "s1", target, null);

        await NativeTransfer.RunAsync(source, "s1", temporary, target, r1);

        Assert.That(await target.GetHeldSnapshotsAsync(), Is.EqualTo(new[] { "s1" }));
        Assert.That(await source.GetHeldSnapshotsAsync(), Is.EqualTo(new[] { "s1" }));
        await target.DeleteSnapshotAsync(temporary);
        await source.DeleteSnapshotAsync(temporary);
    }

    [Test]
    public async Task DeleteSnapshot_heldByDeltaSnap_releasesAndDeletes()
    {
        var volume = await Bed.CreateAsync(Bed.A, "vol");
        await volume.CreateSnapshotAsync("s1");
        await volume.ProtectBaseAsync("s1");
        Assert.That(await volume.GetHeldSnapshotsAsync(), Is.EqualTo(new[] { "s1" }));

        await volume.DeleteSnapshotAsync("s1");

        Assert.That(await volume.GetLineageAsync(), Is.Empty);
    }

    [Test]
    public async Task DeleteSnapshot_heldByAnotherTag_failsFastNamingTheHolds()
    {
        var volume = await Bed.CreateAsync(Bed.A, "vol");
        await volume.CreateSnapshotAsync("s1");
        ZfsTestBed.Zfs("hold", "someone-else", $"{volume.Dataset}@s1");
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var error = Assert.ThrowsAsync<BackendCommandException>(() => volume.DeleteSnapshotAsync("s1"));
            Assert.That(error!.Message, Does.Contain("holds"));
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(3)), "no busy-retry loop for a held snapshot");
            Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        }
        finally
        {
            ZfsTestBed.Zfs("release", "someone-else", $"{volume.Dataset}@s1");
        }
    }

    [Test]
    public async Task ProtectBase_movesTheHoldToTheNamedSnapshot()
    {
        var volume = await Bed.CreateAsync(Bed.A, "vol");
        await volume.CreateSnapshotAsync("s1");
        await volume.CreateSnapshotAsync("s2");
        await volume.ProtectBaseAsync("s1");
        await volume.ProtectBaseAsync("s2");
        Assert.That(await volume.GetHeldSnapshotsAsync(), Is.EqualTo(new[] { "s2" }));
        Assert.That(ZfsTestBed.Zfs("get", "-H", "-p", "-o", "value", "userrefs", $"{volume.Dataset}@s1").Trim(), Is.EqualTo("0"));
    }

    [Test]
    public async Task ProtectBase_disabledInOptions_capabilityAbsentAndNothingHeld()
    {
        await using var bed = await ZfsTestBed.OpenAsync(new ZfsDriverOptions { BaseProtection = ZfsBaseProtection.None });
        Assert.That(bed.A.Has(DriverCapabilities.ProtectBase), Is.False);
        var source = await bed.CreateAsync(bed.A, "src");
        await source.CreateSnapshotAsync("s1");
        var target = await bed.CreateAsync(bed.B, "dst");
        await NativeTransfer.RunAsync(source, null, "s1", target, null);
        Assert.That(await target.GetHeldSnapshotsAsync(), Is.Empty);
        Assert.That(await source.GetHeldSnapshotsAsync(), Is.Empty);
        Assert.ThrowsAsync<NotSupportedException>(() => source.ProtectBaseAsync("s1"));
    }
}
