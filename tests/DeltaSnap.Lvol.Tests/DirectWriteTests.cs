namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// Large aligned data writes go past the page cache (<c>O_DIRECT</c>); small ones stay buffered. Whatever path a write
/// took, reads see the last write, snapshots keep their content, and a reopened store reads the same.
/// </summary>
public sealed class DirectWriteTests : StoreFixture
{
    private const int Cluster = 1 << 20;

    /// <summary>
    /// The bytes expected to have gone past the page cache: <paramref name="bytes"/>, or none on a file system that
    /// refuses <c>O_DIRECT</c> (tmpfs), where every write is buffered and the content checks below still apply.
    /// </summary>
    private static long Direct(LvolStore store, long bytes)
    {
        if (!store.WritesDirectly)
        {
            TestContext.Out.WriteLine("this file system refuses O_DIRECT: every write is buffered");
        }
        return store.WritesDirectly ? bytes : 0;
    }

    [Test]
    public async Task LargeAlignedWrite_goesPastThePageCache_andReadsBackAfterReopen()
    {
        var data = Pattern(4 * Cluster, 1);
        await using (var store = await CreateStoreAsync(Cluster))
        {
            await store.CreateLvolAsync("vol", 8 * Cluster);
            await WriteAsync(store, "vol", Cluster, data);
            Assert.That(store.DirectBytesWritten, Is.EqualTo(Direct(store, 4L * Cluster)), "a 4 MiB write on block boundaries is written directly");
            var all = await ReadAllAsync(store, "vol");
            Assert.That(Hash(all.AsSpan(Cluster, 4 * Cluster).ToArray()), Is.EqualTo(Hash(data)));
            Assert.That(all.AsSpan(0, Cluster).ContainsAnyExcept((byte)0), Is.False);
        }
        await using (var reopened = await LvolStore.OpenAsync(StorePath()))
        {
            var all = await ReadAllAsync(reopened, "vol");
            Assert.That(Hash(all.AsSpan(Cluster, 4 * Cluster).ToArray()), Is.EqualTo(Hash(data)));
            await AssertConsistentAsync(reopened);
        }
    }

    [Test]
    public async Task SmallOrUnalignedWrites_stayBuffered_andMixWithDirectOnes()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        var expected = new byte[4 * Cluster];

        // Buffered first (small), then a direct write over the same range (the cached pages must not win), then a small
        // unaligned write into what went directly, then a large write that starts off a block boundary.
        var small = Pattern(8192, 2);
        await WriteAsync(store, "vol", 4096, small);
        small.CopyTo(expected, 4096);
        Assert.That(store.DirectBytesWritten, Is.Zero);

        var large = Pattern(Cluster, 3);
        await WriteAsync(store, "vol", 0, large);
        large.CopyTo(expected, 0);
        Assert.That(store.DirectBytesWritten, Is.EqualTo(Direct(store, Cluster)));

        var unaligned = Pattern(1000, 4);
        await WriteAsync(store, "vol", 12345, unaligned);
        unaligned.CopyTo(expected, 12345);

        var offBoundary = Pattern(Cluster, 5);
        await WriteAsync(store, "vol", 2 * Cluster + 100, offBoundary);
        offBoundary.CopyTo(expected, 2 * Cluster + 100);
        // The store writes whole blocks: the first cluster's part (its first block filled in) goes directly, the 100 bytes
        // in the next cluster (one block) are buffered.
        Assert.That(store.DirectBytesWritten, Is.EqualTo(Direct(store, 2L * Cluster)));

        Assert.That(Hash(await ReadAllAsync(store, "vol")), Is.EqualTo(Hash(expected)));
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task DirectWriteIntoAClone_leavesTheSnapshotAsItWas()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 2 * Cluster);
        var original = Pattern(2 * Cluster, 6);
        await WriteAsync(store, "vol", 0, original);
        await store.SnapshotAsync("vol", "snap");

        var update = Pattern(Cluster, 7);
        await WriteAsync(store, "vol", Cluster, update);

        var expected = original.ToArray();
        update.CopyTo(expected, Cluster);
        Assert.That(Hash(await ReadAllAsync(store, "snap")), Is.EqualTo(Hash(original)));
        Assert.That(Hash(await ReadAllAsync(store, "vol")), Is.EqualTo(Hash(expected)));
        Assert.That(store.DirectBytesWritten, Is.EqualTo(Direct(store, 3L * Cluster)));
        await AssertConsistentAsync(store);
    }
}
