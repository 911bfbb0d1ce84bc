using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Ceph.Tests;

/// <summary>The native RBD stream (<see cref="RbdDriverOptions.NativeStream"/>): rbd diff v2 with identities and a digest.</summary>
public class RbdNativeStreamTests
{
    private static async Task<CephScope> NativeScopeAsync() => await CephScope.CreateAsync(new RbdDriverOptions { NativeStream = true });

    private static async Task WriteAsync(Volume volume, long offset, int length, int seed)
    {
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        await device.WriteAsync(offset, CephCluster.RandomBytes(length, seed));
    }

    private static async Task<string> DigestAsync(Volume volume, string? snapshot)
    {
        await using var device = await volume.OpenDeviceAsync(snapshot);
        return await CephCluster.HashAsync(device);
    }

    /// <summary>A source with s1 and s2 and a target that received s1 (its live state at s1).</summary>
    private static async Task<(RbdVolume Source, RbdVolume Target)> PairAtS1Async(CephScope scope)
    {
        var source = await scope.CreateAsync(CephCluster.PoolA, 32 << 20, "src");
        var target = await scope.CreateAsync(CephCluster.PoolB, 32 << 20, "dst");
        await WriteAsync(source, 0, 20 << 20, 1);
        await source.CreateSnapshotAsync("s1");
        await new Replicator().RefreshAsync(source, target, new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } });
        await WriteAsync(source, 9 << 20, 3 << 20, 2);
        await source.CreateSnapshotAsync("s2");
        return (source, target);
    }

    /// <summary>The request to receive the source's s2 on the target's s1.</summary>
    private static async Task<NativeReceiveRequest> S2OnS1Async(RbdVolume source, RbdVolume target) =>
        new() { Snapshot = (await source.GetLineageAsync()).Find("s2")!, TargetBase = (await target.GetLineageAsync()).Find("s1") };

    private static async Task<byte[]> SendAsync(RbdVolume source, string? baseSnapshot, string snapshot)
    {
        var stream = new MemoryStream();
        await source.SendAsync(baseSnapshot, snapshot, stream);
        return stream.ToArray();
    }

    [Test]
    public async Task Refresh_incrementalOnNativeRoute_sendsAboutTheChangeAndRecordsIdentity()
    {
        await using var scope = await NativeScopeAsync();
        var (source, target) = await PairAtS1Async(scope);
        var result = await new Replicator().RefreshAsync(source, target);
        var s2 = (await source.GetLineageAsync()).Find("s2")!;
        var t2 = (await target.GetLineageAsync()).Find("s2")!;
        Assert.Multiple(async () =>
        {
            Assert.That(result.Route, Is.EqualTo(RefreshRoute.NativeStream));
            Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
            Assert.That(result.BytesSent, Is.InRange(3 << 20, (3 << 20) + (64 << 10)), "the 3 MiB written, plus record headers");
            Assert.That(t2.ReceivedFrom, Is.EqualTo(s2.Identity));
            Assert.That(t2.CreatedUtc, Is.EqualTo(s2.CreatedUtc));
            Assert.That(await DigestAsync(target, "s2"), Is.EqualTo(await DigestAsync(source, "s2")));
            Assert.That(await DigestAsync(target, null), Is.EqualTo(await DigestAsync(source, null)));
        });
    }

    [Test]
    public async Task Refresh_dataOverwrittenWithZerosAndDiscarded_sendsZeroRecordsNotData()
    {
        await using var scope = await NativeScopeAsync();
        var (source, target) = await PairAtS1Async(scope);
        await using (var device = await source.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(1 << 20, new byte[4 << 20]);              // zeros written as data over data
            await device.UnmapAsync(new ByteRange(12 << 20, 4 << 20));        // a discard
        }
        await source.CreateSnapshotAsync("s3");
        var extents = await source.GetChangedExtentsAsync("s2", "s3");
        var result = await new Replicator().RefreshAsync(source, target, new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } });
        Assert.Multiple(async () =>
        {
            Assert.That(extents.Where(e => e.HasData).Sum(e => e.Range.Length), Is.GreaterThanOrEqualTo(4 << 20), "RBD reports the zeros written as data");
            Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s2", "s3" }));
            Assert.That(result.BytesSent, Is.LessThan((3 << 20) + (256 << 10)), "s2's 3 MiB of data; s3 only as zero records");
            Assert.That(await DigestAsync(target, "s3"), Is.EqualTo(await DigestAsync(source, "s3")));
        });
    }

    [Test]
    public async Task Receive_streamFromAnotherBase_refusedNamingBothIdentitiesAndNothingWritten()
    {
        await using var scope = await NativeScopeAsync();
        var (source, target) = await PairAtS1Async(scope);
        await source.CreateSnapshotAsync("s3");
        var stream = await SendAsync(source, "s2", "s3"); // the target has s1, not s2
        var sourceLineage = await source.GetLineageAsync();
        var targetS1 = (await target.GetLineageAsync()).Find("s1")!;
        var before = await DigestAsync(target, null);
        var request = new NativeReceiveRequest { Snapshot = sourceLineage.Find("s3")!, TargetBase = targetS1 };
        var e = Assert.ThrowsAsync<NativeStreamMismatchException>(() => target.ReceiveAsync(new MemoryStream(stream), request));
        Assert.Multiple(async () =>
        {
            Assert.That(e!.Message, Does.Contain(sourceLineage.Find("s2")!.Identity.ToString()));
            Assert.That(e.Message, Does.Contain(targetS1.Identity.ToString()));
            Assert.That(e.Message, Does.Contain("nothing was written").IgnoreCase);
            Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
            Assert.That(await DigestAsync(target, null), Is.EqualTo(before));
        });
    }

    [Test]
    public async Task Receive_plainRbdExportDiff_refusedAsNotNative()
    {
        await using var scope = await NativeScopeAsync();
        var (source, target) = await PairAtS1Async(scope);
        var plain = await CephCluster.RbdAsync(["export-diff", "--no-progress", "--from-snap", "s1", $"{source.Name}@s2", "-"]);
        var request = await S2OnS1Async(source, target);
        var e = Assert.ThrowsAsync<NativeStreamMismatchException>(() => target.ReceiveAsync(new MemoryStream(plain), request));
        Assert.That(e!.Message, Does.Contain("not a native RBD stream"));
    }

    [Test]
    public async Task Receive_dataDamagedInTransit_restoresBaseAndCreatesNoSnapshot()
    {
        await using var scope = await NativeScopeAsync();
        var (source, target) = await PairAtS1Async(scope);
        var stream = await SendAsync(source, "s1", "s2");
        var damaged = Damage.FlipBit(stream, stream.Length / 2, 3);
        var atS1 = await DigestAsync(target, "s1");
        var request = await S2OnS1Async(source, target);
        var e = Assert.ThrowsAsync<CorruptDataException>(() => target.ReceiveAsync(new MemoryStream(damaged), request));
        Assert.Multiple(async () =>
        {
            Assert.That(e!.Message, Does.Contain("digest"));
            Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
            Assert.That(await DigestAsync(target, null), Is.EqualTo(atS1), "the live image is back at the base");
        });
    }

    [Test]
    public async Task Receive_streamCutMidway_restoresBaseAndRerunSucceeds()
    {
        await using var scope = await NativeScopeAsync();
        var (source, target) = await PairAtS1Async(scope);
        var stream = await SendAsync(source, "s1", "s2");
        var atS1 = await DigestAsync(target, "s1");
        var lineage = await source.GetLineageAsync();
        var request = await S2OnS1Async(source, target);
        Assert.ThrowsAsync<IOException>(() => target.ReceiveAsync(new ThrowAfterNBytesStream(new MemoryStream(stream), stream.Length / 2), request));
        Assert.That(await DigestAsync(target, null), Is.EqualTo(atS1));
        var received = await target.ReceiveAsync(new MemoryStream(stream), request);
        Assert.Multiple(async () =>
        {
            Assert.That(received.Name, Is.EqualTo("s2"));
            Assert.That(received.IsSameAs(lineage.Find("s2")!), Is.True);
            Assert.That(await DigestAsync(target, "s2"), Is.EqualTo(await DigestAsync(source, "s2")));
        });
    }

    [Test]
    public async Task Receive_targetLiveStateDiverged_isBroughtBackToBaseFirst()
    {
        await using var scope = await NativeScopeAsync();
        var (source, target) = await PairAtS1Async(scope);
        await WriteAsync(target, 30 << 20, 1 << 20, 99); // written on the target after s1, outside the source's change
        var stream = await SendAsync(source, "s1", "s2");
        var request = await S2OnS1Async(source, target);
        await target.ReceiveAsync(new MemoryStream(stream), request);
        Assert.That(await DigestAsync(target, "s2"), Is.EqualTo(await DigestAsync(source, "s2")));
    }

    [Test]
    public async Task Receive_targetLiveStateDivergedInsideAndOutsideTheChange_endsEqualToTheSnapshot()
    {
        await using var scope = await NativeScopeAsync();
        var (source, target) = await PairAtS1Async(scope);
        await WriteAsync(target, 8 << 20, 2 << 20, 97);  // half inside the source's change at [9, 12) MiB: the stream overwrites it
        await WriteAsync(target, 30 << 20, 1 << 20, 98); // outside it: only the rollback brings it back
        var stream = await SendAsync(source, "s1", "s2");
        var request = await S2OnS1Async(source, target);
        await target.ReceiveAsync(new MemoryStream(stream), request);
        var expected = await DigestAsync(source, "s2");
        Assert.Multiple(async () =>
        {
            Assert.That(await DigestAsync(target, "s2"), Is.EqualTo(expected));
            Assert.That(await DigestAsync(target, null), Is.EqualTo(expected));
        });
    }

    [Test]
    public async Task Receive_coverageListingARangeTheStreamDoesNotWrite_refusedAndBaseRestored()
    {
        await using var scope = await NativeScopeAsync();
        var (source, target) = await PairAtS1Async(scope);
        var atS1 = await DigestAsync(target, "s1");
        await WriteAsync(target, 30 << 20, 1 << 20, 98); // diverged where the false coverage claim points
        var stream = await SendAsync(source, "s1", "s2");
        // A coverage record claiming [30, 31) MiB, which no data or zero record of the stream writes, right after the banner.
        var claim = new byte[1 + 8 + 16];
        claim[0] = (byte)'X';
        BitConverter.TryWriteBytes(claim.AsSpan(1), 16UL);
        BitConverter.TryWriteBytes(claim.AsSpan(9), 30UL << 20);
        BitConverter.TryWriteBytes(claim.AsSpan(17), 1UL << 20);
        var banner = RbdDiffReader.BannerV2.Length;
        byte[] forged = [.. stream.AsSpan(0, banner), .. claim, .. stream.AsSpan(banner)];
        var request = await S2OnS1Async(source, target);
        var e = Assert.ThrowsAsync<CorruptDataException>(() => target.ReceiveAsync(new MemoryStream(forged), request));
        Assert.Multiple(async () =>
        {
            Assert.That(e!.Message, Does.Contain("says it writes"));
            Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
            Assert.That(await DigestAsync(target, null), Is.EqualTo(atS1), "the live image is back at the base, the range the claim skipped included");
        });
    }

    [Test]
    public void Coverage_moreRangesThanTheRecordsHold_listsTheFirstOnesAndRoundTrips()
    {
        var ranges = Enumerable.Range(0, (RbdStreamCoverage.RangesPerRecord * RbdStreamCoverage.MaxRecords) + 10)
            .Select(i => new ByteRange((long)i * 8192, 4096)).ToList();
        var records = RbdStreamCoverage.Encode(ranges).ToList();
        var decoded = RbdStreamCoverage.Decode(records, long.MaxValue);
        Assert.Multiple(() =>
        {
            Assert.That(records, Has.Count.EqualTo(RbdStreamCoverage.MaxRecords));
            Assert.That(records.Max(r => r.Length), Is.LessThanOrEqualTo(60 << 10));
            Assert.That(decoded, Is.EqualTo(new RangeSet(ranges.Take(RbdStreamCoverage.RangesPerRecord * RbdStreamCoverage.MaxRecords))));
        });
    }

    [Test]
    public void Coverage_partialPairOrRangeOutsideTheImage_isCorrupt()
    {
        var inside = RbdStreamCoverage.Encode([new ByteRange(0, 4096)]).Single();
        Assert.Multiple(() =>
        {
            Assert.That(() => RbdStreamCoverage.Decode([inside[..15]], 1 << 20), Throws.TypeOf<CorruptDataException>().With.Message.Contains("16-byte"));
            Assert.That(() => RbdStreamCoverage.Decode([inside], 2048), Throws.TypeOf<CorruptDataException>().With.Message.Contains("outside the image"));
            Assert.That(RbdStreamCoverage.Decode([inside], 4096), Is.EqualTo(new RangeSet([new ByteRange(0, 4096)])));
        });
    }

    [Test]
    public async Task Send_fullStream_isAnRbdDiffV2ThatRbdImports()
    {
        await using var scope = await NativeScopeAsync();
        var (source, _) = await PairAtS1Async(scope);
        var full = await SendAsync(source, null, "s2");
        var image = ImageStreamV2.Build([full]);
        var imported = scope.Track($"{CephCluster.PoolB}/{CephCluster.UniqueName("v2n")}");
        await CephCluster.RbdAsync(["import", "--no-progress", "--export-format", "2", "-", imported], new MemoryStream(image));
        Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{imported}@s2")), Is.EqualTo(CephCluster.Hash(await CephCluster.ExportAsync($"{source.Name}@s2"))));
    }

    [Test]
    public async Task Rollback_smallChange_copiesBackOnlyChangedExtents()
    {
        await using var scope = await NativeScopeAsync();
        var volume = await scope.CreateAsync(CephCluster.PoolA, 64 << 20);
        await WriteAsync(volume, 0, 64 << 20, 1);
        await volume.CreateSnapshotAsync("s1");
        var atS1 = await DigestAsync(volume, "s1");
        await WriteAsync(volume, 5 << 20, 100_000, 2);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.UnmapAsync(new ByteRange(40 << 20, 8 << 20));
        }
        await volume.RollbackAsync("s1");
        Assert.That(await DigestAsync(volume, null), Is.EqualTo(atS1));

        // A resized image takes librbd's own rollback.
        await volume.ResizeAsync(80 << 20);
        await WriteAsync(volume, 70 << 20, 4096, 3);
        await volume.RollbackAsync("s1");
        Assert.Multiple(async () =>
        {
            Assert.That(await volume.GetSizeAsync(), Is.EqualTo(64 << 20));
            Assert.That(await DigestAsync(volume, null), Is.EqualTo(atS1));
        });
    }
}
