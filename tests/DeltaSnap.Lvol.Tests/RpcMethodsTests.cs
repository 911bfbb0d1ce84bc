namespace DeltaSnap.Lvol.Tests;

public sealed class RpcMethodsTests : StoreFixture
{
    private const int Cluster = 1 << 20;

    [Test]
    public async Task LvolLifecycle_throughTheClient_matchesSpdkShapes()
    {
        var store = await CreateStoreAsync(Cluster, "lvs");
        await using var bed = await RpcTestBed.StartAsync(Directory, "rpc", store);
        await using var client = await bed.ConnectAsync();

        var stores = await client.BdevLvolGetLvstoresAsync();
        Assert.That(stores.Single().Name, Is.EqualTo("lvs"));
        Assert.That(stores.Single().ClusterSize, Is.EqualTo(Cluster));

        var uuid = await client.BdevLvolCreateAsync("lvs", null, "vol", 4, thinProvision: true);
        Assert.That(store.GetLvol("vol").Uuid.ToString(), Is.EqualTo(uuid));
        await WriteAsync(store, "vol", Cluster, Pattern(100, 1));
        var snap = await client.BdevLvolSnapshotAsync("lvs/vol", "snap", new Dictionary<string, string> { ["snapshot_timestamp"] = "2024-01-01T00:00:00Z" });
        Assert.That(await client.BdevLvolGetXattrAsync(snap, "snapshot_timestamp"), Is.EqualTo("2024-01-01T00:00:00Z"));
        await client.BdevLvolCloneAsync("snap", "clone");

        var lvols = await client.BdevLvolGetLvolsAsync("lvs");
        var snapInfo = lvols.Single(l => l.Name == "snap");
        Assert.That(snapInfo.IsSnapshot, Is.True);
        Assert.That(snapInfo.Alias, Is.EqualTo("lvs/snap"));
        Assert.That(lvols.Single(l => l.Name == "clone").IsClone, Is.True);

        var bdev = (await client.BdevGetBdevsAsync("lvs/snap")).Single();
        Assert.That(bdev.Name, Is.EqualTo(snap));
        Assert.That(bdev.NumBlocks * bdev.BlockSize, Is.EqualTo(4UL * Cluster));
        Assert.That(bdev.DriverSpecific!.Lvol!.Snapshot, Is.True);
        Assert.That(bdev.DriverSpecific.Lvol.Clones, Is.EquivalentTo(new[] { "clone", "vol" }));
        Assert.That(bdev.DriverSpecific.Lvol.NumAllocatedClusters, Is.EqualTo(1));

        var fragmap = await client.BdevLvolGetFragmapAsync("lvs/snap");
        Assert.That((fragmap.ClusterSize, fragmap.NumClusters, fragmap.NumAllocatedClusters, fragmap.Fragmap), Is.EqualTo(((ulong)Cluster, 4UL, 1UL, "Ag==")));

        Assert.That(await client.BdevLvolDeleteAsync("clone"), Is.True);
        Assert.That(await client.BdevLvolDeleteAsync("snap"), Is.True);
        Assert.That((await client.BdevLvolGetLvolsAsync()).Select(l => l.Name), Is.EqualTo(new[] { "vol" }));
    }

    [Test]
    public async Task Checksums_throughTheClient_equalTheStoreComputation()
    {
        var store = await CreateStoreAsync(64 * 1024, "lvs");
        await store.CreateLvolAsync("vol", 8 * 64 * 1024);
        await WriteAsync(store, "vol", 3 * 64 * 1024, Pattern(2 * 64 * 1024, 2));
        await store.SnapshotAsync("vol", "snap");
        await using var bed = await RpcTestBed.StartAsync(Directory, "rpc", store);
        await using var client = await bed.ConnectAsync();

        Assert.That(await client.BdevLvolRegisterRangeChecksumsAsync("snap"), Is.True);
        var ranges = await client.BdevLvolGetRangeChecksumsAsync("snap", 0, 8);
        Assert.That(ranges.Keys.Order(), Is.EqualTo(Enumerable.Range(0, 8).Select(i => (ulong)i)), "one entry per cluster of the window");
        Assert.That(ranges.Where(kv => kv.Value != 0).Select(kv => kv.Key).Order(), Is.EqualTo(new ulong[] { 3, 4 }), "0 for clusters the snapshot does not hold");
        Assert.That(ranges[3], Is.EqualTo(store.GetRangeChecksums("snap", 3, 1).Single().Checksum));
        Assert.That(await client.BdevLvolGetSnapshotChecksumAsync("snap"), Is.EqualTo(store.GetSnapshotChecksum("snap")));
        var stop = Assert.ThrowsAsync<SpdkRpcException>(() => client.BdevLvolStopSnapshotChecksumAsync("snap"));
        Assert.That((stop!.Code, stop.ServerMessage), Is.EqualTo((-3, "No such process")), "nothing is running: ESRCH, which the engine waits for");
    }

    [Test]
    public async Task CheckShallowCopy_freesTheEntryAfterTheFirstTerminalRead()
    {
        var store = await CreateStoreAsync(64 * 1024, "lvs");
        await store.CreateLvolAsync("vol", 8 * 64 * 1024);
        await WriteAsync(store, "vol", 0, Pattern(8 * 64 * 1024, 3));
        await store.SnapshotAsync("vol", "snap");
        await store.CreateLvolAsync("dst", 8 * 64 * 1024);
        await using var bed = await RpcTestBed.StartAsync(Directory, "rpc", store);
        await using var client = await bed.ConnectAsync();

        var id = await client.BdevLvolStartShallowCopyAsync("snap", "lvs/dst");
        SpdkShallowCopyStatus status;
        do
        {
            status = await client.BdevLvolCheckShallowCopyAsync(id);
        }
        while (status.State == "in progress");

        Assert.That(status.State, Is.EqualTo("complete"));
        Assert.That((status.CopiedClusters, status.TotalClusters), Is.EqualTo((8UL, 8UL)));
        var again = Assert.ThrowsAsync<SpdkRpcException>(() => client.BdevLvolCheckShallowCopyAsync(id));
        Assert.That(again!.Code, Is.EqualTo(-19));
        Assert.That(await ReadAllAsync(store, "dst"), Is.EqualTo(await ReadAllAsync(store, "snap")));
    }

    [Test]
    public async Task SetAndDetachParent_throughTheClient()
    {
        var store = await CreateStoreAsync(64 * 1024, "lvs");
        await store.CreateLvolAsync("base", 4 * 64 * 1024);
        await WriteAsync(store, "base", 0, Pattern(4 * 64 * 1024, 4));
        await store.SnapshotAsync("base", "parent");
        await store.CreateLvolAsync("child", 4 * 64 * 1024);
        await using var bed = await RpcTestBed.StartAsync(Directory, "rpc", store);
        await using var client = await bed.ConnectAsync();

        Assert.That(await client.BdevLvolSetParentAsync("child", "parent"), Is.True);
        Assert.That(await ReadAllAsync(store, "child"), Is.EqualTo(await ReadAllAsync(store, "parent")));
        Assert.That(await client.BdevLvolDetachParentAsync("child"), Is.True);
        Assert.That((await ReadAllAsync(store, "child")).Any(b => b != 0), Is.False);
    }

    [Test]
    public async Task StopSnapshotChecksum_fromAnotherConnection_cancelsTheRegistration()
    {
        // Small clusters make the registration long enough (65536 clusters) to be caught running; with 16384 it
        // sometimes finished within one stop round trip on every try.
        var store = await CreateStoreAsync(4096, "lvs");
        const long size = 256L << 20;
        await store.CreateLvolAsync("vol", size);
        await using (var device = store.OpenDevice("vol", writable: true))
        {
            var chunk = Pattern(1 << 20, 5);
            for (long o = 0; o < size; o += chunk.Length)
            {
                await device.WriteAsync(o, chunk);
            }
            await device.FlushAsync();
        }
        await store.SnapshotAsync("vol", "snap");
        await using var bed = await RpcTestBed.StartAsync(Directory, "rpc", store);
        await using var registering = await bed.ConnectAsync();
        await using var stopping = await bed.ConnectAsync();

        // A registration of 256 MiB from the page cache takes a few tens of milliseconds, and on a loaded machine the
        // stops may all be answered before it starts or after it ends. So tries go on for up to half a minute (a fixed
        // twenty tries were once all missed on a busy CI host).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var tries = 0;
        while (DateTime.UtcNow < deadline)
        {
            tries++;
            var running = registering.BdevLvolRegisterRangeChecksumsAsync("snap");
            var stopped = false;
            while (!stopped && !running.IsCompleted)
            {
                stopped = await TryStopAsync();
            }
            if (stopped)
            {
                var e = Assert.ThrowsAsync<SpdkRpcException>(async () => await running);
                Assert.That((e!.Code, e.ServerMessage), Is.EqualTo((-32603, "Interrupted system call")));
                return;
            }
            await running;
        }
        Assert.Fail($"No registration was caught running in {tries} tries over 30 s.");

        async Task<bool> TryStopAsync()
        {
            try
            {
                return await stopping.BdevLvolStopSnapshotChecksumAsync("snap");
            }
            catch (SpdkRpcException e) when (e.Code == -3)
            {
                return false; // Not running (yet, or any more).
            }
        }
    }
}
