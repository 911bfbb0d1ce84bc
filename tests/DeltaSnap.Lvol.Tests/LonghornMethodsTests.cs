using DeltaSnap.Copy;

namespace DeltaSnap.Lvol.Tests;

public sealed class LonghornMethodsTests : StoreFixture
{
    private const int Cluster = 64 * 1024;

    /// <summary>CRC-64/ISO, bit by bit, independent of the library's table-driven one (reflected 0x1B, init and xorout all ones).</summary>
    private static ulong ReferenceCrc64(ulong crc, ReadOnlySpan<byte> data)
    {
        var state = ~crc;
        foreach (var b in data)
        {
            state ^= b;
            for (var k = 0; k < 8; k++)
            {
                state = (state & 1) != 0 ? (state >> 1) ^ 0xD800000000000000UL : state >> 1;
            }
        }
        return ~state;
    }

    [Test]
    public void ReferenceCrc64_checkValue_matchesTheCatalogue()
    {
        Assert.That(ReferenceCrc64(0, "123456789"u8), Is.EqualTo(0xB90956C775A41001UL));
    }

    [Test]
    public async Task Fragmap_setsBitIInByteIOver8LeastSignificantFirst()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 20 * Cluster);
        foreach (var c in new[] { 0, 3, 8, 9, 17 })
        {
            await WriteAsync(store, "vol", ((long)c * Cluster) + 100, [1]);
        }
        var whole = store.GetFragmap("vol");
        Assert.That(whole.ClusterCount, Is.EqualTo(20));
        Assert.That(whole.AllocatedClusters, Is.EqualTo(5));
        Assert.That(Convert.FromBase64String(whole.Fragmap), Is.EqualTo(new byte[] { 0x09, 0x03, 0x02 }));
        Assert.That(whole.Fragmap, Is.EqualTo("CQMC"));

        var window = store.GetFragmap("vol", 8L * Cluster, 8L * Cluster);
        Assert.That(window.ClusterCount, Is.EqualTo(8));
        Assert.That(window.AllocatedClusters, Is.EqualTo(2));
        Assert.That(window.Fragmap, Is.EqualTo("Aw=="));
    }

    [Test]
    public async Task Fragmap_coversOnlyTheOwnLayer()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(4 * Cluster, 1));
        await store.SnapshotAsync("vol", "snap");
        await WriteAsync(store, "vol", 2 * Cluster + 5, [7]);
        Assert.That(Convert.FromBase64String(store.GetFragmap("vol").Fragmap), Is.EqualTo(new byte[] { 0x04 }));
        Assert.That(Convert.FromBase64String(store.GetFragmap("snap").Fragmap), Is.EqualTo(new byte[] { 0x0F }));
    }

    [Test]
    public async Task Fragmap_ofAnOlderSnapshotAfterGrowing_coversItsOwnSize()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        await store.SnapshotAsync("vol", "snap");
        await store.ResizeLvolAsync("vol", 12 * Cluster);
        Assert.That(store.GetFragmap("snap").ClusterCount, Is.EqualTo(4));
        Assert.That(store.GetFragmap("vol").ClusterCount, Is.EqualTo(12));
    }

    [TestCase(100L, 0L)]
    [TestCase(0L, 100L)]
    [TestCase(0L, 8L * Cluster)]
    public async Task Fragmap_unalignedOrOutsideWindow_throwsEinval(long offset, long size)
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        var e = Assert.Throws<LvolException>(() => store.GetFragmap("vol", offset, size));
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EINVAL));
    }

    [Test]
    public async Task SnapshotChecksum_equalsAnIndependentCrc64ChainOverAllocatedClusters()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 16 * Cluster);
        await WriteAsync(store, "vol", 3 * Cluster + 17, Pattern(2 * Cluster, 2));
        await WriteAsync(store, "vol", 11 * Cluster, new byte[Cluster]);     // allocated, all zeros
        await WriteAsync(store, "vol", 14 * Cluster + 4096, Pattern(100, 3));
        await store.SnapshotAsync("vol", "snap");

        var registered = await store.RegisterSnapshotChecksumAsync("snap");

        var content = await ReadAllAsync(store, "snap");
        ulong expected = 0;
        foreach (var c in new[] { 3, 4, 5, 11, 14 })
        {
            expected = ReferenceCrc64(expected, content.AsSpan(c * Cluster, Cluster));
        }
        Assert.That(registered, Is.EqualTo(expected));
        Assert.That(store.GetSnapshotChecksum("snap"), Is.EqualTo(expected));
    }

    [Test]
    public async Task RangeChecksums_listEveryClusterOfTheWindow_heldOnesWithTheirRealChecksum()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 20 * Cluster);
        var held = new[] { 1, 5, 6, 7, 9, 10, 18 };
        foreach (var c in held)
        {
            await WriteAsync(store, "vol", (long)c * Cluster, c == 7 ? new byte[Cluster] : Pattern(Cluster, 100 + c));
        }
        await store.SnapshotAsync("vol", "snap");
        await store.RegisterRangeChecksumsAsync("snap");
        var content = await ReadAllAsync(store, "snap");

        var all = new List<LvolClusterChecksum>();
        for (long start = 0; start < 20; start += 4)
        {
            var window = store.GetRangeChecksums("snap", start, 4);
            Assert.That(window.Select(x => x.ClusterIndex), Is.EqualTo(new[] { start, start + 1, start + 2, start + 3 }), "one entry per cluster, in order");
            all.AddRange(window);
        }
        Assert.That(all.Where(x => !held.Contains((int)x.ClusterIndex)).Select(x => x.Checksum), Is.All.Zero, "0 for clusters the snapshot does not hold");
        foreach (var x in all.Where(x => held.Contains((int)x.ClusterIndex)))
        {
            Assert.That(x.Checksum, Is.EqualTo(ReferenceCrc64(0, content.AsSpan((int)x.ClusterIndex * Cluster, Cluster))), $"cluster {x.ClusterIndex}");
            Assert.That(x.Checksum, Is.Not.Zero, "an allocated cluster never reports the absent value (#10950)");
        }
        ulong chain = 0;
        foreach (var c in held)
        {
            chain = ReferenceCrc64(chain, content.AsSpan(c * Cluster, Cluster));
        }
        Assert.That(store.GetSnapshotChecksum("snap"), Is.EqualTo(chain));
    }

    [Test]
    public async Task Checksums_beforeRegistering_rangesThrowEnoentAndTheSnapshotChecksumEnodev()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        await store.SnapshotAsync("vol", "snap");
        Assert.That(Assert.Throws<LvolException>(() => store.GetRangeChecksums("snap", 0, 4))!.Errno, Is.EqualTo(LvolErrno.ENOENT));
        Assert.That(Assert.Throws<LvolException>(() => store.GetSnapshotChecksum("snap"))!.Errno, Is.EqualTo(LvolErrno.ENODEV));
    }

    [TestCase(0L, 5L)]
    [TestCase(4L, 1L)]
    [TestCase(5L, 0L)]
    [TestCase(-1L, 1L)]
    public async Task RangeChecksums_windowOutsideTheLvol_throwEinval(long start, long count)
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        await store.SnapshotAsync("vol", "snap");
        await store.RegisterRangeChecksumsAsync("snap");
        Assert.That(Assert.Throws<LvolException>(() => store.GetRangeChecksums("snap", start, count))!.Errno, Is.EqualTo(LvolErrno.EINVAL));
        Assert.That(store.GetRangeChecksums("snap", 4, 0), Is.Empty, "an empty window at the end is inside");
    }

    [Test]
    public async Task RegisterChecksum_ofAWritableLvol_throwsEperm()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        Assert.That(Assert.ThrowsAsync<LvolException>(() => store.RegisterRangeChecksumsAsync("vol"))!.Errno, Is.EqualTo(LvolErrno.EPERM));
    }

    [Test]
    public async Task RegisteredChecksums_areInvalidatedWhenTheMapMerges()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(4 * Cluster, 4));
        await store.SnapshotAsync("vol", "s1");
        await WriteAsync(store, "vol", 0, Pattern(10, 5));
        await store.SnapshotAsync("vol", "s2");
        await store.RegisterRangeChecksumsAsync("s2");
        Assert.That(store.GetRangeChecksums("s2", 0, 4).Count(x => x.Checksum != 0), Is.EqualTo(1));

        await store.DeleteLvolAsync("s1");

        Assert.That(Assert.Throws<LvolException>(() => store.GetRangeChecksums("s2", 0, 4))!.Errno, Is.EqualTo(LvolErrno.ENOENT));
        Assert.That(Assert.Throws<LvolException>(() => store.GetSnapshotChecksum("s2"))!.Errno, Is.EqualTo(LvolErrno.ENODEV));
        await store.RegisterRangeChecksumsAsync("s2");
        Assert.That(store.GetRangeChecksums("s2", 0, 4).Count(x => x.Checksum != 0), Is.EqualTo(4), "after the merge s2 holds all four clusters");
    }

    [Test]
    public async Task StopSnapshotChecksum_cancelsARunningRegistration()
    {
        await using var store = await CreateStoreAsync(Cluster);
        const long size = 64L << 20;
        await store.CreateLvolAsync("vol", size);
        await using (var d = store.OpenDevice("vol", writable: true))
        {
            var chunk = Pattern(1 << 20, 6);
            for (long o = 0; o < size; o += chunk.Length)
            {
                await d.WriteAsync(o, chunk);
            }
            await d.FlushAsync();
        }
        await store.SnapshotAsync("vol", "snap");

        var running = store.RegisterRangeChecksumsAsync("snap");
        Assert.That(running.IsCompleted, Is.False, "hashing 64 MiB takes a while");
        var again = Assert.ThrowsAsync<LvolException>(() => store.RegisterSnapshotChecksumAsync("snap"));
        Assert.That(again!.Errno, Is.EqualTo(LvolErrno.EEXIST), "a registration of it already runs");
        Assert.That(store.StopSnapshotChecksum("snap"), Is.True, "the registration was running when asked to stop");
        var e = Assert.ThrowsAsync<LvolException>(async () => await running);
        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EINTR));
        Assert.That(store.StopSnapshotChecksum("snap"), Is.False);
        Assert.That(Assert.Throws<LvolException>(() => store.GetSnapshotChecksum("snap"))!.Errno, Is.EqualTo(LvolErrno.ENODEV));
    }

    [Test]
    public async Task ShallowCopy_writesOnlyTheSnapshotsOwnClustersAtTheSameOffsets()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 8 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(8 * Cluster, 7));
        await store.SnapshotAsync("vol", "s1");
        await WriteAsync(store, "vol", 2 * Cluster + 4096, Pattern(4096, 8));
        await WriteAsync(store, "vol", 6 * Cluster, Pattern(Cluster, 9));
        await store.SnapshotAsync("vol", "s2");
        await store.CreateLvolAsync("dst", 8 * Cluster);
        var filler = Pattern(8 * Cluster, 10);
        await WriteAsync(store, "dst", 0, filler);

        ShallowCopyOperation op;
        await using (var dst = store.OpenDevice("dst", writable: true))
        {
            op = store.StartShallowCopy("s2", dst);
            await op.Completion;
        }

        Assert.That(op.State, Is.EqualTo(ShallowCopyState.Complete));
        Assert.That(op.TotalClusters, Is.EqualTo(2));
        Assert.That(op.CopiedClusters, Is.EqualTo(2));
        var s2 = await ReadAllAsync(store, "s2");
        var expected = filler.ToArray();
        Array.Copy(s2, 2 * Cluster, expected, 2 * Cluster, Cluster);
        Array.Copy(s2, 6 * Cluster, expected, 6 * Cluster, Cluster);
        Assert.That(await ReadAllAsync(store, "dst"), Is.EqualTo(expected));
        await AssertConsistentAsync(store);
    }

    [Test]
    public async Task RangeShallowCopy_unmapsListedClustersTheSourceDoesNotHold()
    {
        await using var source = await CreateStoreAsync(Cluster, "source");
        await using var target = await CreateStoreAsync(Cluster, "target");
        await source.CreateLvolAsync("vol", 8 * Cluster);
        await WriteAsync(source, "vol", Cluster, Pattern(Cluster, 11));
        await WriteAsync(source, "vol", 3 * Cluster, Pattern(Cluster, 12));
        await source.SnapshotAsync("vol", "snap");
        await target.CreateLvolAsync("copy", 8 * Cluster);
        var filler = Pattern(8 * Cluster, 13);
        await WriteAsync(target, "copy", 0, filler);

        ShallowCopyOperation op;
        await using (var dst = target.OpenDevice("copy", writable: true))
        {
            op = source.StartRangeShallowCopy("snap", dst, [1, 2, 5]);
            await op.Completion;
        }

        Assert.That(op.State, Is.EqualTo(ShallowCopyState.Complete));
        Assert.That((op.CopiedClusters, op.UnmappedClusters, op.TotalClusters), Is.EqualTo((1L, 2L, 3L)));
        var snap = await ReadAllAsync(source, "snap");
        var expected = filler.ToArray();
        Array.Copy(snap, Cluster, expected, Cluster, Cluster);
        Array.Clear(expected, 2 * Cluster, Cluster);
        Array.Clear(expected, 5 * Cluster, Cluster);
        Assert.That(await ReadAllAsync(target, "copy"), Is.EqualTo(expected));
        Assert.That(target.GetFragmap("copy").AllocatedClusters, Is.EqualTo(6), "the unmapped clusters are freed on the destination");
    }

    [Test]
    public async Task ShallowCopy_fromAWritableLvol_throwsEperm()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 2 * Cluster);
        await store.CreateLvolAsync("dst", 2 * Cluster);
        await using var dst = store.OpenDevice("dst", writable: true);
        Assert.That(Assert.Throws<LvolException>(() => store.StartShallowCopy("vol", dst))!.Errno, Is.EqualTo(LvolErrno.EPERM));
    }

    [Test]
    public async Task ShallowCopy_toASmallerDevice_throwsEinval()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 4 * Cluster);
        await store.SnapshotAsync("vol", "snap");
        await store.CreateLvolAsync("dst", 2 * Cluster);
        await using var dst = store.OpenDevice("dst", writable: true);
        Assert.That(Assert.Throws<LvolException>(() => store.StartShallowCopy("snap", dst))!.Errno, Is.EqualTo(LvolErrno.EINVAL));
        Assert.That(Assert.Throws<LvolException>(() => store.StartRangeShallowCopy("snap", dst, [9]))!.Errno, Is.EqualTo(LvolErrno.EINVAL));
    }

    [Test]
    public async Task ShallowCopy_holdsTheSourceBusyUntilItEnds()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 64 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(64 * Cluster, 14));
        await store.SnapshotAsync("vol", "snap");
        await store.CreateLvolAsync("dst", 64 * Cluster);
        await using var dst = store.OpenDevice("dst", writable: true);
        var gated = new GatedDevice(dst);
        var op = store.StartShallowCopy("snap", gated);

        var busy = Assert.ThrowsAsync<LvolException>(() => store.DeleteLvolAsync("snap"));
        Assert.That(busy!.Errno, Is.EqualTo(LvolErrno.EBUSY), "the source cannot be deleted while the copy runs");
        Assert.That(op.State, Is.EqualTo(ShallowCopyState.InProgress));
        op.Cancel();
        gated.Open();
        try
        {
            await op.Completion;
        }
        catch (OperationCanceledException)
        {
        }

        Assert.That(op.State, Is.EqualTo(ShallowCopyState.Error));
        Assert.That(op.Error, Is.InstanceOf<OperationCanceledException>());
        for (var i = 0; i < 100 && store.TryGetLvol("snap") is not null; i++)
        {
            try
            {
                await store.RegisterSnapshotChecksumAsync("snap");
                break;
            }
            catch (LvolException e) when (e.Errno == LvolErrno.EBUSY)
            {
                await Task.Delay(10); // released right after the operation ends
            }
        }
        Assert.That(store.GetSnapshotChecksum("snap"), Is.Not.Zero);
    }

    /// <summary>A device whose writes wait until <see cref="Open"/>.</summary>
    private sealed class GatedDevice(DeltaSnap.Devices.BlockDevice inner) : DeltaSnap.Devices.BlockDevice
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override long Length => inner.Length;

        public void Open() => _open.TrySetResult();

        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken) => inner.ReadAsync(offset, buffer, cancellationToken);

        protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            await _open.Task;
            await inner.WriteAsync(offset, data, cancellationToken);
        }
    }

    [Test]
    public async Task ChangedRanges_betweenSnapshots_areTheBlocksWritten()
    {
        await using var store = await CreateStoreAsync(Cluster);
        await store.CreateLvolAsync("vol", 16 * Cluster);
        await WriteAsync(store, "vol", 0, Pattern(16 * Cluster, 15));
        await store.SnapshotAsync("vol", "base");
        await WriteAsync(store, "vol", (3 * Cluster) + 8192, Pattern(4096, 16));
        await WriteAsync(store, "vol", (9 * Cluster) + 100, Pattern(10, 17));
        await store.SnapshotAsync("vol", "mid");
        await WriteAsync(store, "vol", 12 * Cluster, Pattern(4096, 18));
        await store.SnapshotAsync("vol", "top");

        var changed = store.GetChangedRanges("base", "top");
        Assert.That(changed, Is.EqualTo(new RangeSet([
            new ByteRange((3 * Cluster) + 8192, 4096),
            new ByteRange(9 * Cluster, 4096),
            new ByteRange(12 * Cluster, 4096),
        ])));
        Assert.That(store.GetChangedRanges("mid", "top"), Is.EqualTo(new RangeSet([new ByteRange(12 * Cluster, 4096)])));
        Assert.That(store.GetChangedRanges(null, "top").TotalLength, Is.EqualTo(16 * Cluster));
    }
}
