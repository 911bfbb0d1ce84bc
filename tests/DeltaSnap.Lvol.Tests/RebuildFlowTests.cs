namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// Longhorn's delta rebuild of a replica as longhorn-spdk-engine drives it (replica.go), entirely over the sockets of
/// two servers (the healthy replica's store and the rebuilding one's): range checksums compared in windows of 256,
/// mismatches taken from the indices the <em>source</em> returns, the stale destination snapshot deleted so its
/// clusters merge into the rebuilding lvol, range shallow copies of at most 256 clusters, status polled until
/// terminal (the terminal read is kept: the server frees it), then the destination snapshot is taken again.
/// </summary>
public sealed class RebuildFlowTests : StoreFixture
{
    private const int Cluster = 64 * 1024;
    private const int Clusters = 700;
    private const ulong Window = 256;

    [Test]
    public async Task EngineRebuild_destinationHoldingClustersTheSourceDoesNot_endsByteEqual()
    {
        var srcStore = await CreateStoreAsync(Cluster, "src");
        var dstStore = await CreateStoreAsync(Cluster, "dst");
        var rng = new Random(42);

        // The healthy replica: snap1 (most clusters) <- snap2 (a few changed, one unmapped) <- live.
        await srcStore.CreateLvolAsync("replica", (long)Clusters * Cluster);
        var snap1Clusters = Enumerable.Range(0, Clusters).Where(_ => rng.Next(10) < 7).ToList();
        foreach (var c in snap1Clusters)
        {
            await WriteAsync(srcStore, "replica", (long)c * Cluster, Pattern(Cluster, 1000 + c), flush: false);
        }
        await srcStore.SnapshotAsync("replica", "snap1");
        foreach (var c in snap1Clusters.Take(40))
        {
            await WriteAsync(srcStore, "replica", ((long)c * Cluster) + 4096, Pattern(4096, 5000 + c), flush: false);
        }
        await using (var d = srcStore.OpenDevice("replica", writable: true))
        {
            await d.UnmapAsync(new ByteRange((long)snap1Clusters[100] * Cluster, Cluster));
            await d.FlushAsync();
        }
        await srcStore.SnapshotAsync("replica", "snap2");

        // The rebuilding replica holds a stale snap1: most clusters right, some stale, some missing, and some that
        // only it holds (the source's snap1 does not): those are what an allocated-only listing never reports.
        await dstStore.CreateLvolAsync("replica", (long)Clusters * Cluster);
        var expected = new SortedSet<ulong>();
        foreach (var c in snap1Clusters)
        {
            var roll = rng.Next(20);
            if (roll == 0)
            {
                expected.Add((ulong)c); // missing
                continue;
            }
            await WriteAsync(dstStore, "replica", (long)c * Cluster, Pattern(Cluster, roll == 1 ? 9000 + c : 1000 + c), flush: false);
            if (roll == 1)
            {
                expected.Add((ulong)c); // stale
            }
        }
        var destinationOnly = Enumerable.Range(0, Clusters).Except(snap1Clusters).Where(c => c % 7 == 0).Select(c => (ulong)c).ToList();
        foreach (var c in destinationOnly)
        {
            await WriteAsync(dstStore, "replica", (long)c * Cluster, Pattern(Cluster, 7000 + (int)c), flush: false);
            expected.Add(c);
        }
        await dstStore.SnapshotAsync("replica", "snap1");
        Assert.That(destinationOnly, Has.Count.GreaterThan(20));

        await using var src = await RpcTestBed.StartAsync(Directory, "src", srcStore);
        await using var dst = await RpcTestBed.StartAsync(Directory, "dst", dstStore);
        await using var srcClient = await src.ConnectAsync();
        await using var dstClient = await dst.ConnectAsync();

        // 1. Eligible for the range path: range checksums answer on both sides.
        await srcClient.BdevLvolRegisterRangeChecksumsAsync("src/snap1");
        await dstClient.BdevLvolRegisterRangeChecksumsAsync("dst/snap1");
        Assert.That(await srcClient.BdevLvolGetRangeChecksumsAsync("src/snap1", 0, 1), Has.Count.EqualTo(1));
        Assert.That(await dstClient.BdevLvolGetRangeChecksumsAsync("dst/snap1", 0, 1), Has.Count.EqualTo(1));

        // 2. Mismatches: every index the source returns whose checksum differs (a missing destination entry is 0).
        var mismatches = new List<ulong>();
        var windows = 0;
        for (ulong start = 0; start < Clusters; start += Window)
        {
            var count = Math.Min(Window, Clusters - start);
            var source = await srcClient.BdevLvolGetRangeChecksumsAsync("src/snap1", start, count);
            var destination = await dstClient.BdevLvolGetRangeChecksumsAsync("dst/snap1", start, count);
            Assert.That(source, Has.Count.EqualTo((int)count), "one entry per cluster of the window");
            windows++;
            foreach (var (index, checksum) in source.OrderBy(kv => kv.Key))
            {
                if (checksum != destination.GetValueOrDefault(index))
                {
                    mismatches.Add(index);
                }
            }
        }
        Assert.That(windows, Is.EqualTo(3), "700 clusters compared in windows of 256");
        Assert.That(mismatches, Is.EqualTo(expected), "the stale, missing and destination-only clusters, no other");

        // 3. Delete the stale destination snapshot (tolerating -19): its clusters merge into the rebuilding lvol.
        try
        {
            await dstClient.BdevLvolDeleteAsync("dst/snap1");
        }
        catch (SpdkRpcException e) when (e.Code == -19)
        {
        }

        // 4. Stop any hash on the source (tolerating -3), then range shallow copies of at most 256 clusters.
        await using var rebuilding = dstStore.OpenDevice("replica", writable: true);
        src.Server.RegisterBdev("rebuild-target", rebuilding);
        try
        {
            await srcClient.BdevLvolStopSnapshotChecksumAsync("src/snap1");
        }
        catch (SpdkRpcException e) when (e.Code is -3 or -19)
        {
        }
        ulong copied = 0, unmapped = 0;
        foreach (var batch in mismatches.Chunk((int)Window))
        {
            var id = await srcClient.BdevLvolStartRangeShallowCopyAsync("src/snap1", "rebuild-target", batch);
            var status = await PollAsync(srcClient, id);
            Assert.That(status.State, Is.EqualTo("complete"), status.Error);
            Assert.That(status.TotalClusters, Is.EqualTo((ulong)batch.Length));
            copied += status.CopiedClusters;
            unmapped += status.UnmappedClusters;
            var freed = Assert.ThrowsAsync<SpdkRpcException>(() => srcClient.BdevLvolCheckShallowCopyAsync(id));
            Assert.That(freed!.Code, Is.EqualTo(-19), "the terminal read freed the entry");
        }
        Assert.That(unmapped, Is.EqualTo((ulong)destinationOnly.Count), "the destination-only clusters are unmapped");
        Assert.That(copied + unmapped, Is.EqualTo((ulong)mismatches.Count));
        await rebuilding.FlushAsync();
        await dstClient.BdevLvolSnapshotAsync("dst/replica", "snap1");

        Assert.That(Hash(await ReadAllAsync(dstStore, "snap1")), Is.EqualTo(Hash(await ReadAllAsync(srcStore, "snap1"))), "snap1 byte-equal");
        await VerifyChecksumAsync(srcClient, dstClient, "snap1");

        // 5. snap2 has no counterpart on the destination: a whole shallow copy; progress = copied + unmapped.
        var whole = await srcClient.BdevLvolStartShallowCopyAsync("src/snap2", "rebuild-target");
        var wholeStatus = await PollAsync(srcClient, whole);
        Assert.That(wholeStatus.State, Is.EqualTo("complete"), wholeStatus.Error);
        Assert.That(wholeStatus.TotalClusters, Is.EqualTo(41UL), "snap2's own clusters: 40 rewritten, one unmapped");
        Assert.That(wholeStatus.CopiedClusters + wholeStatus.UnmappedClusters, Is.EqualTo(wholeStatus.TotalClusters));
        await rebuilding.FlushAsync();
        await dstClient.BdevLvolSnapshotAsync("dst/replica", "snap2");

        Assert.That(Hash(await ReadAllAsync(dstStore, "snap2")), Is.EqualTo(Hash(await ReadAllAsync(srcStore, "snap2"))), "snap2 byte-equal");
        await VerifyChecksumAsync(srcClient, dstClient, "snap2");
        Assert.That((await dstStore.FsckAsync()).IsConsistent, Is.True);
    }

    private static async Task<SpdkShallowCopyStatus> PollAsync(SpdkRpcClient client, uint id)
    {
        SpdkShallowCopyStatus status;
        while ((status = await client.BdevLvolCheckShallowCopyAsync(id)).State == "in progress")
        {
            await Task.Delay(5);
        }
        return status;
    }

    private static async Task VerifyChecksumAsync(SpdkRpcClient srcClient, SpdkRpcClient dstClient, string snapshot)
    {
        await srcClient.BdevLvolRegisterSnapshotChecksumAsync($"src/{snapshot}");
        await dstClient.BdevLvolRegisterSnapshotChecksumAsync($"dst/{snapshot}");
        var expected = await srcClient.BdevLvolGetSnapshotChecksumAsync($"src/{snapshot}");
        Assert.That(await dstClient.BdevLvolGetSnapshotChecksumAsync($"dst/{snapshot}"), Is.EqualTo(expected), $"the whole checksum of {snapshot}");
    }
}
