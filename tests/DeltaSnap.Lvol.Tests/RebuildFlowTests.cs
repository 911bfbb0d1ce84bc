namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// Longhorn's delta rebuild of a replica, driven entirely through <see cref="SpdkRpcClient"/> against two servers
/// (the healthy replica's store and the rebuilding one's): register range checksums on both sides, compare them 256
/// clusters per call, range-shallow-copy the clusters that differ 256 per call, poll until complete, and verify the
/// whole snapshot checksum.
/// </summary>
public sealed class RebuildFlowTests : StoreFixture
{
    private const int Cluster = 64 * 1024;
    private const int Clusters = 700;
    private const ulong Window = 256;

    [Test]
    public async Task Rebuild_copiesOnlyDifferingClustersAndEndsWithEqualChecksums()
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

        // The rebuilding replica holds a stale copy of snap1: most clusters right, some stale, some missing, some extra.
        await dstStore.CreateLvolAsync("replica", (long)Clusters * Cluster);
        var expectedDiffs = new SortedSet<ulong>();
        foreach (var c in snap1Clusters)
        {
            var roll = rng.Next(20);
            if (roll == 0)
            {
                expectedDiffs.Add((ulong)c); // missing
                continue;
            }
            await WriteAsync(dstStore, "replica", (long)c * Cluster, Pattern(Cluster, roll == 1 ? 9000 + c : 1000 + c), flush: false);
            if (roll == 1)
            {
                expectedDiffs.Add((ulong)c); // stale
            }
        }
        foreach (var c in Enumerable.Range(0, Clusters).Except(snap1Clusters).Take(15))
        {
            await WriteAsync(dstStore, "replica", (long)c * Cluster, Pattern(Cluster, 7000 + c), flush: false);
            expectedDiffs.Add((ulong)c); // extra
        }
        await dstStore.FlushAsync();

        await using var src = await RpcTestBed.StartAsync(Directory, "src", srcStore);
        await using var dst = await RpcTestBed.StartAsync(Directory, "dst", dstStore);
        // The source target reaches the rebuilding lvol as a bdev (in Longhorn, an NVMe-oF attach of it).
        await using var dstDevice = dstStore.OpenDevice("replica", writable: true);
        src.Server.RegisterBdev("rebuild-target", dstDevice);
        await using var srcClient = await src.ConnectAsync();
        await using var dstClient = await dst.ConnectAsync();

        // snap1: compare with the stale copy (snapshotted so its checksums can be registered).
        await dstClient.BdevLvolSnapshotAsync("dst/replica", "stale");
        await srcClient.BdevLvolRegisterRangeChecksumsAsync("src/snap1");
        await dstClient.BdevLvolRegisterRangeChecksumsAsync("dst/stale");
        var differing = new List<ulong>();
        var calls = 0;
        for (ulong start = 0; start < Clusters; start += Window)
        {
            var ours = await srcClient.BdevLvolGetRangeChecksumsAsync("src/snap1", start, Window);
            var theirs = await dstClient.BdevLvolGetRangeChecksumsAsync("dst/stale", start, Window);
            calls++;
            foreach (var c in ours.Keys.Union(theirs.Keys).Order())
            {
                if (!ours.TryGetValue(c, out var a) || !theirs.TryGetValue(c, out var b) || a != b)
                {
                    differing.Add(c);
                }
            }
        }
        Assert.That(calls, Is.EqualTo(3), "700 clusters compared in windows of 256");
        Assert.That(differing, Is.EqualTo(expectedDiffs), "exactly the stale, missing and extra clusters differ");

        var copied = await CopyAsync(srcClient, "src/snap1", differing);
        Assert.That(copied.Copied + copied.Unmapped, Is.EqualTo((ulong)differing.Count));
        Assert.That(copied.Unmapped, Is.EqualTo(15UL), "the extra clusters are unmapped");
        await dstClient.BdevLvolSnapshotAsync("dst/replica", "snap1");
        await dstClient.BdevLvolDeleteAsync("dst/stale");
        await VerifyChecksumAsync(srcClient, dstClient, "snap1");

        // snap2: nothing to compare against on the rebuilding side; its own clusters are all copied.
        await srcClient.BdevLvolRegisterRangeChecksumsAsync("src/snap2");
        var snap2Clusters = new List<ulong>();
        for (ulong start = 0; start < Clusters; start += Window)
        {
            snap2Clusters.AddRange((await srcClient.BdevLvolGetRangeChecksumsAsync("src/snap2", start, Window)).Keys.Order());
        }
        Assert.That(snap2Clusters, Has.Count.EqualTo(41), "40 rewritten clusters and one unmapped");
        await CopyAsync(srcClient, "src/snap2", snap2Clusters);
        await dstClient.BdevLvolSnapshotAsync("dst/replica", "snap2");
        await VerifyChecksumAsync(srcClient, dstClient, "snap2");

        Assert.That(await ReadAllAsync(dstStore, "snap1"), Is.EqualTo(await ReadAllAsync(srcStore, "snap1")));
        Assert.That(await ReadAllAsync(dstStore, "snap2"), Is.EqualTo(await ReadAllAsync(srcStore, "snap2")));
        Assert.That((await dstStore.FsckAsync()).IsConsistent, Is.True);
    }

    private static async Task<(ulong Copied, ulong Unmapped)> CopyAsync(SpdkRpcClient client, string source, List<ulong> clusters)
    {
        ulong copied = 0, unmapped = 0;
        foreach (var chunk in clusters.Chunk((int)Window))
        {
            var id = await client.BdevLvolStartRangeShallowCopyAsync(source, "rebuild-target", chunk);
            SpdkShallowCopyStatus status;
            while ((status = await client.BdevLvolCheckShallowCopyAsync(id)).State == "in progress")
            {
                await Task.Delay(5);
            }
            Assert.That(status.State, Is.EqualTo("complete"), status.Error);
            Assert.That(status.TotalClusters, Is.EqualTo((ulong)chunk.Length));
            copied += status.CopiedClusters;
            unmapped += status.UnmappedClusters;
        }
        return (copied, unmapped);
    }

    private static async Task VerifyChecksumAsync(SpdkRpcClient srcClient, SpdkRpcClient dstClient, string snapshot)
    {
        await dstClient.BdevLvolRegisterSnapshotChecksumAsync($"dst/{snapshot}");
        var expected = await srcClient.BdevLvolGetSnapshotChecksumAsync($"src/{snapshot}");
        Assert.That(await dstClient.BdevLvolGetSnapshotChecksumAsync($"dst/{snapshot}"), Is.EqualTo(expected), $"the whole checksum of {snapshot}");
    }
}
