namespace DeltaSnap.Lvol.Tests;

public sealed class LvolStoreTests : StoreFixture
{
    [Test]
    public async Task Create_thenReopen_keepsLvolsDataAndXattrs()
    {
        var data = Pattern(300_000, 1);
        Guid uuid;
        await using (var store = await CreateStoreAsync())
        {
            uuid = (await store.CreateLvolAsync("vol", 1 << 20)).Uuid;
            await WriteAsync(store, "vol", 12_345, data);
            await store.SetXattrAsync("vol", "key", "value");
        }
        await using (var store = await LvolStore.OpenAsync(StorePath()))
        {
            var info = store.GetLvol("vol");
            Assert.That(info.Uuid, Is.EqualTo(uuid));
            Assert.That(info.Size, Is.EqualTo(1 << 20));
            Assert.That(store.GetXattr("vol", "key"), Is.EqualTo("value"u8.ToArray()));
            var all = await ReadAllAsync(store, "vol");
            Assert.That(all.AsSpan(12_345, data.Length).SequenceEqual(data), Is.True);
            Assert.That(all.AsSpan(0, 12_345).ContainsAnyExcept((byte)0), Is.False);
            await AssertConsistentAsync(store);
        }
    }

    [Test]
    public async Task Lookup_byAliasAndUuid_findsTheLvol()
    {
        await using var store = await CreateStoreAsync();
        var info = await store.CreateLvolAsync("vol", 65536);
        Assert.That(store.GetLvol("store/vol").Uuid, Is.EqualTo(info.Uuid));
        Assert.That(store.GetLvol(info.Uuid.ToString()).Name, Is.EqualTo("vol"));
    }

    [Test]
    public async Task Create_existingName_throwsEexist()
    {
        await using var store = await CreateStoreAsync();
        await store.CreateLvolAsync("vol", 65536);
        var e = Assert.ThrowsAsync<LvolException>(() => store.CreateLvolAsync("vol", 65536));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EEXIST));
        Assert.That(e.SpdkErrorCode, Is.EqualTo(-17));
    }

    [TestCase("")]
    [TestCase("a/b")]
    [TestCase("bad\nname")]
    public async Task Create_invalidName_throwsEinval(string name)
    {
        await using var store = await CreateStoreAsync();
        var e = Assert.ThrowsAsync<LvolException>(() => store.CreateLvolAsync(name, 65536));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EINVAL));
    }

    [Test]
    public async Task CreateStore_existingFile_throwsEexist()
    {
        await (await CreateStoreAsync()).DisposeAsync();
        var e = Assert.ThrowsAsync<LvolException>(() => CreateStoreAsync());
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EEXIST));
    }

    [Test]
    public async Task Open_storeAlreadyOpen_throwsEbusy()
    {
        await using var store = await CreateStoreAsync();
        var e = Assert.ThrowsAsync<LvolException>(() => LvolStore.OpenAsync(StorePath()));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EBUSY));
    }

    [Test]
    public async Task Open_notAStore_throwsCorruptData()
    {
        await File.WriteAllBytesAsync(StorePath(), new byte[8192]);
        Assert.ThrowsAsync<CorruptDataException>(() => LvolStore.OpenAsync(StorePath()));
    }

    [Test]
    public void Open_missingFile_throwsFileNotFound()
    {
        Assert.ThrowsAsync<FileNotFoundException>(() => LvolStore.OpenAsync(StorePath("missing")));
    }

    [Test]
    public async Task Unknown_lvol_throwsEnoent()
    {
        await using var store = await CreateStoreAsync();
        var e = Assert.Throws<LvolException>(() => store.OpenDevice("nope"));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.ENOENT));
        Assert.That(e.SpdkErrorCode, Is.EqualTo(-2));
    }

    [Test]
    public async Task ThickLvol_allocatesEveryClusterAndReadsZeros()
    {
        await using var store = await CreateStoreAsync();
        var info = await store.CreateLvolAsync("thick", 10 * 65536, thin: false);
        Assert.That(info.AllocatedClusters, Is.EqualTo(10));
        Assert.That(info.IsThin, Is.False);
        Assert.That((await ReadAllAsync(store, "thick")).ContainsAnyExcept((byte)0), Is.False);
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task ThickLvol_beyondCapacity_throwsEnospcAndLeaksNothing()
    {
        await using var store = await CreateStoreAsync(capacity: 8);
        var e = Assert.ThrowsAsync<LvolException>(() => store.CreateLvolAsync("thick", 20 * 65536, thin: false));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.ENOSPC));
        Assert.That(store.TryGetLvol("thick"), Is.Null);
        await store.CreateLvolAsync("small", 4 * 65536, thin: false);
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task Rename_movesTheName_andRefusesATakenOne()
    {
        await using var store = await CreateStoreAsync();
        await store.CreateLvolAsync("a", 65536);
        await store.CreateLvolAsync("b", 65536);
        await store.RenameLvolAsync("a", "c");
        Assert.That(store.TryGetLvol("a"), Is.Null);
        Assert.That(store.TryGetLvol("c"), Is.Not.Null);
        var e = Assert.ThrowsAsync<LvolException>(() => store.RenameLvolAsync("c", "b"));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EEXIST));
    }

    [Test]
    public async Task Grow_keepsDataAndNewBytesReadZero()
    {
        await using var store = await CreateStoreAsync();
        await store.CreateLvolAsync("vol", 100_000);
        var data = Pattern(100_000, 2);
        await WriteAsync(store, "vol", 0, data);
        await store.ResizeLvolAsync("vol", 300_000);
        var all = await ReadAllAsync(store, "vol");
        Assert.That(all.Length, Is.EqualTo(300_000));
        Assert.That(all.AsSpan(0, 100_000).SequenceEqual(data), Is.True);
        Assert.That(all.AsSpan(100_000).ContainsAnyExcept((byte)0), Is.False);
    }

    [Test]
    public async Task ShrinkThenGrow_oldBytesReadZero()
    {
        await using var store = await CreateStoreAsync();
        await store.CreateLvolAsync("vol", 300_000);
        await WriteAsync(store, "vol", 0, Pattern(300_000, 3));
        await store.SnapshotAsync("vol", "snap");
        await store.ResizeLvolAsync("vol", 100_000);
        await store.ResizeLvolAsync("vol", 300_000);
        var all = await ReadAllAsync(store, "vol");
        Assert.That(all.AsSpan(100_000).ContainsAnyExcept((byte)0), Is.False);
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task Resize_snapshot_throwsEperm()
    {
        await using var store = await CreateStoreAsync();
        await store.CreateLvolAsync("vol", 65536);
        await store.SnapshotAsync("vol", "snap");
        var e = Assert.ThrowsAsync<LvolException>(() => store.ResizeLvolAsync("snap", 2 * 65536));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EPERM));
    }

    [Test]
    public async Task Delete_openLvol_throwsEbusy()
    {
        await using var store = await CreateStoreAsync();
        await store.CreateLvolAsync("vol", 65536);
        await using var device = store.OpenDevice("vol");
        var e = Assert.ThrowsAsync<LvolException>(() => store.DeleteLvolAsync("vol"));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EBUSY));
    }

    [Test]
    public async Task Delete_lvol_freesItsClusters()
    {
        await using var store = await CreateStoreAsync();
        await store.CreateLvolAsync("vol", 10 * 65536);
        await WriteAsync(store, "vol", 0, Pattern(10 * 65536, 4));
        var used = store.UsedClusters;
        await store.DeleteLvolAsync("vol");
        Assert.That(store.UsedClusters, Is.EqualTo(used - 10));
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task FreedClusters_areReusedAfterTheCommit()
    {
        await using var store = await CreateStoreAsync();
        await store.CreateLvolAsync("a", 10 * 65536);
        await WriteAsync(store, "a", 0, Pattern(10 * 65536, 5));
        var total = store.TotalClusters;
        await store.DeleteLvolAsync("a");
        await store.CreateLvolAsync("b", 10 * 65536);
        await WriteAsync(store, "b", 0, Pattern(10 * 65536, 6));
        Assert.That(store.TotalClusters, Is.LessThanOrEqualTo(total + 2), "the file should not grow when freed clusters can be reused");
        await AssertConsistentAsync(store);
    }
}
