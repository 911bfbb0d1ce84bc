namespace DeltaSnap.Lvol.Tests;

public sealed class CopyOnWriteTests : StoreFixture
{
    private const int Cluster = 64 * 1024;

    [Test]
    public async Task Snapshot_isMetadataOnly_andKeepsTheOldContent()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 8 * Cluster);
        var original = Pattern(8 * Cluster, 10);
        await WriteAsync(store, "vol", 0, original);
        var used = store.UsedClusters;

        var snap = await store.SnapshotAsync("vol", "snap");

        Assert.That(store.UsedClusters, Is.EqualTo(used), "a snapshot copies no data");
        Assert.That(snap.IsSnapshot, Is.True);
        Assert.That(snap.AllocatedClusters, Is.EqualTo(8));
        var live = store.GetLvol("vol");
        Assert.That(live.ParentName, Is.EqualTo("snap"));
        Assert.That(live.AllocatedClusters, Is.Zero);

        var update = Pattern(1000, 11);
        await WriteAsync(store, "vol", 3 * Cluster + 100, update);
        var expected = original.ToArray();
        update.CopyTo(expected, 3 * Cluster + 100);
        Assert.That(await ReadAllAsync(store, "snap"), Is.EqualTo(original));
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(expected));
        Assert.That(store.GetLvol("vol").AllocatedClusters, Is.EqualTo(1), "a partial write allocates one cluster in the clone");
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task Snapshot_ofASnapshot_throwsEinval()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", Cluster);
        await store.SnapshotAsync("vol", "snap");
        var e = Assert.ThrowsAsync<LvolException>(() => store.SnapshotAsync("snap", "snap2"));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EINVAL));
    }

    [Test]
    public async Task OpenDevice_snapshotForWriting_throwsEperm()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", Cluster);
        await store.SnapshotAsync("vol", "snap");
        var e = Assert.Throws<LvolException>(() => store.OpenDevice("snap", writable: true));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EPERM));
        await using var device = store.OpenDevice("snap");
        Assert.That(device.IsReadOnly, Is.True);
    }

    [Test]
    public async Task Unmap_wholeClusterOfAClone_readsZeroDespiteTheParent()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(4 * Cluster, 12));
        await store.SnapshotAsync("vol", "snap");
        await using (var device = store.OpenDevice("vol", writable: true))
        {
            await device.UnmapAsync(new ByteRange(Cluster, Cluster));
            await device.FlushAsync();
        }
        var all = await ReadAllAsync(store, "vol");
        var snap = await ReadAllAsync(store, "snap");
        Assert.That(all.AsSpan(Cluster, Cluster).ContainsAnyExcept((byte)0), Is.False);
        Assert.That(all.AsSpan(0, Cluster).SequenceEqual(snap.AsSpan(0, Cluster)), Is.True);
        Assert.That(store.GetLvol("vol").AllocatedClusters, Is.EqualTo(1), "the hole is recorded in the clone's own map");
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task Unmap_ownClusterWithoutParent_freesIt()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(4 * Cluster, 13));
        await using (var device = store.OpenDevice("vol", writable: true))
        {
            await device.UnmapAsync(new ByteRange(0, 2 * Cluster));
            await device.UnmapAsync(new ByteRange(2 * Cluster + 4096, 8192));
            await device.FlushAsync();
        }
        var all = await ReadAllAsync(store, "vol");
        Assert.That(all.AsSpan(0, 2 * Cluster).ContainsAnyExcept((byte)0), Is.False);
        Assert.That(all.AsSpan(2 * Cluster + 4096, 8192).ContainsAnyExcept((byte)0), Is.False);
        Assert.That(store.GetLvol("vol").AllocatedClusters, Is.EqualTo(2));
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task Clone_readsTheSnapshot_andWritesStayInTheClone()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        var original = Pattern(4 * Cluster, 14);
        await WriteAsync(store, "vol", 0, original);
        await store.SnapshotAsync("vol", "snap");
        var clone = await store.CloneAsync("snap", "clone");
        Assert.That(clone.ParentName, Is.EqualTo("snap"));
        Assert.That(await ReadAllAsync(store, "clone"), Is.EqualTo(original));
        await WriteAsync(store, "clone", 5, [1, 2, 3]);
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(original));
        Assert.That((await ReadAllAsync(store, "clone"))[5..8], Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    [Test]
    public async Task Clone_ofALiveLvol_throwsEinval()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", Cluster);
        var e = Assert.ThrowsAsync<LvolException>(() => store.CloneAsync("vol", "clone"));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EINVAL));
    }

    [Test]
    public async Task DeleteSnapshot_withOneChild_mergesWithoutChangingContent()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 6 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(6 * Cluster, 15));
        await store.SnapshotAsync("vol", "s1");
        await WriteAsync(store, "vol", Cluster + 4096, Pattern(8192, 16));        // partial cluster in s2's layer
        await WriteAsync(store, "vol", 3 * Cluster, Pattern(Cluster, 17));         // whole cluster
        await store.SnapshotAsync("vol", "s2");
        await WriteAsync(store, "vol", Cluster + 3 * 4096, Pattern(4096, 18));    // partial again, other blocks
        await using (var d = store.OpenDevice("vol", writable: true))
        {
            await d.UnmapAsync(new ByteRange(4 * Cluster, Cluster));
            await d.FlushAsync();
        }
        var live = await ReadAllAsync(store, "vol");
        var s2 = await ReadAllAsync(store, "s2");
        var used = store.UsedClusters;

        await store.DeleteLvolAsync("s2");

        Assert.That(store.TryGetLvol("s2"), Is.Null);
        Assert.That(store.GetLvol("vol").ParentName, Is.EqualTo("s1"));
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(live));
        Assert.That(store.UsedClusters, Is.LessThan(used), "the clusters the child had already replaced are freed");
        await AssertConsistentAsync(store);

        await store.DeleteLvolAsync("s1");
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(live));
        Assert.That(store.GetLvol("vol").ParentName, Is.Null);
        Assert.That(s2, Is.Not.EqualTo(live));
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task DeleteSnapshot_intoASnapshotChild_invalidatesItsStoredChecksums()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 2 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(2 * Cluster, 19));
        await store.SnapshotAsync("vol", "s1");
        await WriteAsync(store, "vol", 0, Pattern(100, 20));
        await store.SnapshotAsync("vol", "s2");
        await store.SetXattrAsync("s2", "deltasnap.checksums.test", new byte[] { 1 });
        await store.SetXattrAsync("s2", "user", new byte[] { 2 });
        await store.DeleteLvolAsync("s1");
        Assert.That(store.GetXattr("s2", "deltasnap.checksums.test"), Is.Null);
        Assert.That(store.GetXattr("s2", "user"), Is.EqualTo(new byte[] { 2 }));
    }

    [Test]
    public async Task DeleteSnapshot_withTwoClones_throwsEbusy()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", Cluster);
        await store.SnapshotAsync("vol", "snap");
        await store.CloneAsync("snap", "clone");
        var e = Assert.ThrowsAsync<LvolException>(() => store.DeleteLvolAsync("snap"));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EBUSY));
    }

    [Test]
    public async Task Rollback_makesTheLiveLvolReadAsTheSnapshot()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        var original = Pattern(4 * Cluster, 21);
        await WriteAsync(store, "vol", 0, original);
        await store.SnapshotAsync("vol", "snap");
        await WriteAsync(store, "vol", 0, Pattern(2 * Cluster + 10, 22));
        await store.ResizeLvolAsync("vol", 8 * Cluster);
        await store.RollbackAsync("vol", "snap");
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(original));
        Assert.That(store.GetLvol("vol").AllocatedClusters, Is.Zero);
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task Inflate_allocatesEverythingAndDropsTheParent()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 6 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(3 * Cluster, 23));
        await store.SnapshotAsync("vol", "snap");
        await WriteAsync(store, "vol", Cluster + 4096, Pattern(5000, 24));
        var before = await ReadAllAsync(store, "vol");
        await store.InflateAsync("vol");
        var info = store.GetLvol("vol");
        Assert.That(info.ParentName, Is.Null);
        Assert.That(info.IsThin, Is.False);
        Assert.That(info.AllocatedClusters, Is.EqualTo(6));
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(before));
        await store.DeleteLvolAsync("snap");
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(before));
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task Decouple_removesOneLevelWithoutChangingContent()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 6 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(6 * Cluster, 25));
        await store.SnapshotAsync("vol", "s1");
        await WriteAsync(store, "vol", 2 * Cluster + 8192, Pattern(3 * Cluster, 26));
        await store.SnapshotAsync("vol", "s2");
        await WriteAsync(store, "vol", 3 * Cluster + 4096, Pattern(4096, 27));
        var before = await ReadAllAsync(store, "vol");
        await store.DecoupleParentAsync("vol");
        Assert.That(store.GetLvol("vol").ParentName, Is.EqualTo("s1"));
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(before));
        await store.DeleteLvolAsync("s2");
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(before));
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task SetParent_ownClustersKeepTheirDataAndTheRestReadsTheNewParent()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("base", 4 * Cluster);
        var baseData = Pattern(4 * Cluster, 28);
        await WriteAsync(store, "base", 0, baseData);
        await store.SnapshotAsync("base", "parent");
        await store.CreateLvolAsync("copy", 4 * Cluster);
        var own = Pattern(Cluster, 29);
        await WriteAsync(store, "copy", 2 * Cluster, own);

        await store.SetParentAsync("copy", "parent");

        var expected = baseData.ToArray();
        own.CopyTo(expected, 2 * Cluster);
        Assert.That(await ReadAllAsync(store, "copy"), Is.EqualTo(expected));
        Assert.That(store.GetLvol("copy").ParentName, Is.EqualTo("parent"));
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task SetParent_partialClusterKeepsItsCopiedBlocks()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 2 * Cluster);
        var original = Pattern(2 * Cluster, 30);
        await WriteAsync(store, "vol", 0, original);
        await store.SnapshotAsync("vol", "old");
        await WriteAsync(store, "vol", 4096, Pattern(10, 31));
        var before = await ReadAllAsync(store, "vol");
        await store.CreateLvolAsync("other", 2 * Cluster);
        await WriteAsync(store, "other", 0, Pattern(2 * Cluster, 32));
        await store.SnapshotAsync("other", "newparent");

        await store.SetParentAsync("vol", "newparent");

        var after = await ReadAllAsync(store, "vol");
        var parent = await ReadAllAsync(store, "newparent");
        Assert.That(after.AsSpan(0, Cluster).SequenceEqual(before.AsSpan(0, Cluster)), Is.True, "the lvol's own cluster keeps all its bytes, as with a full copy-on-write");
        Assert.That(after.AsSpan(Cluster).SequenceEqual(parent.AsSpan(Cluster)), Is.True);
    }

    [Test]
    public async Task SetParent_invalidTargets_throwEinval()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 2 * Cluster);
        await store.CreateLvolAsync("small", Cluster);
        await store.SnapshotAsync("small", "smallsnap");
        await store.CreateLvolAsync("thick", 2 * Cluster, thin: false);
        await store.CreateLvolAsync("x", 2 * Cluster);
        await store.SnapshotAsync("x", "xsnap");
        Assert.That(Assert.ThrowsAsync<LvolException>(() => store.SetParentAsync("vol", "small"))!.Errno, Is.EqualTo(LvolErrno.EINVAL));
        Assert.That(Assert.ThrowsAsync<LvolException>(() => store.SetParentAsync("vol", "smallsnap"))!.Errno, Is.EqualTo(LvolErrno.EINVAL));
        Assert.That(Assert.ThrowsAsync<LvolException>(() => store.SetParentAsync("thick", "xsnap"))!.Errno, Is.EqualTo(LvolErrno.EINVAL));
        Assert.That(Assert.ThrowsAsync<LvolException>(() => store.SetParentAsync("xsnap", "xsnap"))!.Errno, Is.EqualTo(LvolErrno.EINVAL));
    }

    [Test]
    public async Task DetachParent_keepsOwnClustersAndTheRestReadsZero()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 3 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(3 * Cluster, 33));
        await store.SnapshotAsync("vol", "snap");
        var own = Pattern(4096, 34);
        await WriteAsync(store, "vol", Cluster + 8192, own);
        var before = await ReadAllAsync(store, "vol");

        await store.DetachParentAsync("vol");

        var after = await ReadAllAsync(store, "vol");
        Assert.That(after.AsSpan(Cluster, Cluster).SequenceEqual(before.AsSpan(Cluster, Cluster)), Is.True);
        Assert.That(after.AsSpan(0, Cluster).ContainsAnyExcept((byte)0), Is.False);
        Assert.That(after.AsSpan(2 * Cluster).ContainsAnyExcept((byte)0), Is.False);
        Assert.That(store.GetLvol("vol").ParentName, Is.Null);
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task Write_unalignedAcrossClusters_roundTrips()
    {
        await using var store = await CreateStoreAsync(16 * 1024);
        await store.CreateLvolAsync("vol", 200_001);
        await WriteAsync(store, "vol", 0, Pattern(200_001, 35));
        await store.SnapshotAsync("vol", "snap");
        var expected = await ReadAllAsync(store, "vol");
        var rng = new Random(36);
        await using (var device = store.OpenDevice("vol", writable: true))
        {
            for (var i = 0; i < 200; i++)
            {
                var offset = rng.Next(0, 200_000);
                var length = rng.Next(1, Math.Min(40_000, 200_001 - offset));
                var data = Pattern(length, 1000 + i);
                await device.WriteAsync(offset, data);
                data.CopyTo(expected, offset);
            }
            await device.FlushAsync();
        }
        Assert.That(await ReadAllAsync(store, "vol"), Is.EqualTo(expected));
        await AssertConsistentAsync(store);
    }
}
