using System.Buffers;
using DeltaSnap.Checksums;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Lvol.Tests;

public sealed class LvolDriverTests : StoreFixture
{
    private const int Cluster = 64 * 1024;

    private async Task<LvolDriver> DriverAsync(string name = "store") => await LvolDriver.CreateStoreAsync(StorePath(name), Cluster);

    private static async Task WriteVolumeAsync(Volume volume, long offset, byte[] data)
    {
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        await device.WriteAsync(offset, data);
        await device.FlushAsync();
    }

    private static async Task<byte[]> ReadVolumeAsync(Volume volume, string? snapshot = null)
    {
        await using var device = await volume.OpenDeviceAsync(snapshot);
        var data = new byte[device.Length];
        await device.ReadAsync(0, data);
        return data;
    }

    [Test]
    public async Task NativePayloadKind_isLvolDiff()
    {
        await using var driver = await DriverAsync();

        Assert.That(driver.NativePayloadKind, Is.EqualTo(DeltaSnap.Delta.DeltaStreamPayloadKind.LvolDiff));
    }

    [Test]
    public async Task Lineage_walksTheParentChainWithLvolIdentities()
    {
        await using var driver = await DriverAsync();
        var volume = await driver.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = 8 * Cluster });
        await volume.CreateSnapshotAsync("a");
        await volume.CreateSnapshotAsync("b");
        var lineage = await volume.GetLineageAsync();
        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(lineage[0].Identity, Is.EqualTo(new SnapshotIdentity("lvol-uuid", driver.Store.GetLvol("vm1@a").Uuid.ToString())));
        Assert.That(lineage[1].Size, Is.EqualTo(8 * Cluster));
        Assert.That(await driver.ListVolumesAsync(), Is.EqualTo(new[] { "vm1" }), "snapshots are not volumes");
    }

    [Test]
    public async Task CreateSnapshot_recordsTheGivenTimeAndReceivedFrom()
    {
        await using var driver = await DriverAsync();
        var volume = await driver.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = Cluster });
        var when = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.FromHours(2)).AddMilliseconds(600);
        var from = new SnapshotIdentity("zfs-guid", "1234");
        var created = await volume.CreateSnapshotAsync("s", new SnapshotCreateOptions { CreatedUtc = when, ReceivedFrom = from });
        Assert.That(created.CreatedUtc, Is.EqualTo(new DateTimeOffset(2024, 5, 6, 5, 8, 9, TimeSpan.Zero)));
        await driver.DisposeAsync();

        await using var reopened = await LvolDriver.OpenAsync(StorePath());
        var info = (await (await reopened.OpenVolumeAsync("vm1")).GetLineageAsync()).Single();
        Assert.That(info.CreatedUtc, Is.EqualTo(created.CreatedUtc));
        Assert.That(info.ReceivedFrom, Is.EqualTo(from));
    }

    [Test]
    public async Task Resolver_opensTheVolume_andDriversOnOneStoreShareIt()
    {
        await (await DriverAsync()).DisposeAsync();
        await using (var setup = await LvolDriver.OpenAsync(StorePath()))
        {
            await setup.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = Cluster });
            await setup.CreateVolumeAsync("vm2", new VolumeCreateOptions { Size = Cluster });
        }
        var resolver = new VolumeResolver().AddLvol();
        var a = await resolver.OpenVolumeAsync($"lvol:{StorePath()}#vm1");
        var b = await resolver.OpenVolumeAsync($"LVOL:{StorePath()}#vm2");
        Assert.That(a.Name, Is.EqualTo("vm1"));
        Assert.That(a.Address, Is.EqualTo($"lvol:{StorePath()}#vm1"));
        Assert.That(((LvolDriver)a.Driver).Store, Is.SameAs(((LvolDriver)b.Driver).Store));
        await a.Driver.DisposeAsync();
        await WriteVolumeAsync(b, 0, [1, 2, 3]);
        await b.Driver.DisposeAsync();
        Assert.That(async () => await resolver.OpenVolumeAsync($"lvol:{StorePath()}#nope"), Throws.TypeOf<VolumeNotFoundException>());
        Assert.That(() => resolver.ParseAddress($"lvol:{StorePath()}"), Throws.TypeOf<FormatException>().With.Message.Contain("expected lvol:STORE#VOLUME"));
        Assert.That(() => resolver.ParseAddress("zfs:tank/vm1"), Throws.TypeOf<FormatException>().With.Message.Contain("unknown scheme 'zfs'; registered: lvol."));
    }

    [Test]
    public async Task Resolver_openDriverForAStore_listsItsVolumes()
    {
        await using (var setup = await DriverAsync())
        {
            await setup.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = Cluster });
        }
        var resolver = new VolumeResolver().AddLvol();

        await using var driver = await resolver.OpenDriverAsync("lvol", StorePath());

        Assert.That(driver, Is.InstanceOf<LvolDriver>());
        Assert.That(await driver.ListVolumesAsync(), Is.EqualTo(new[] { "vm1" }));
        Assert.That(() => resolver.OpenDriverAsync("nfs", "server:/x"), Throws.InstanceOf<ArgumentException>().With.Message.Contain("registered: lvol"));
    }

    [Test]
    public async Task Resolver_createVolumeAtAddress_makesABlockVolumeOfThatSizeThatOpensAgain()
    {
        await (await DriverAsync()).DisposeAsync();
        var resolver = new VolumeResolver().AddLvol();
        var address = $"lvol:{StorePath()}#made";

        var created = await resolver.CreateVolumeAsync(address, new VolumeCreateOptions { Size = 3 * Cluster });
        await WriteVolumeAsync(created, Cluster, [7, 8, 9]);
        await created.Driver.DisposeAsync();

        var opened = await resolver.OpenVolumeAsync(address);
        await using (opened.Driver)
        {
            Assert.That(opened.Kind, Is.EqualTo(VolumeKind.Block));
            Assert.That(await opened.GetSizeAsync(), Is.EqualTo(3 * Cluster));
            var expected = new byte[3 * Cluster];
            expected[Cluster] = 7;
            expected[Cluster + 1] = 8;
            expected[Cluster + 2] = 9;
            Assert.That(await ReadVolumeAsync(opened), Is.EqualTo(expected));
        }
        Assert.That(() => resolver.CreateVolumeAsync(address, new VolumeCreateOptions { Size = Cluster }), Throws.InstanceOf<LvolException>(), "it exists");
        Assert.That(() => resolver.CreateVolumeAsync(address + "2", new VolumeCreateOptions { Kind = VolumeKind.Filesystem }), Throws.InstanceOf<ArgumentException>());
    }

    [Test]
    public async Task Resolver_createVolumeInAMissingStore_failsUnlessTheOptionsCreateStores()
    {
        var missing = StorePath() + ".new";
        var strict = new VolumeResolver().AddLvol();

        Assert.That(() => strict.CreateVolumeAsync($"lvol:{missing}#vm1", new VolumeCreateOptions { Size = Cluster }), Throws.InstanceOf<FileNotFoundException>());
        Assert.That(File.Exists(missing), Is.False);

        var creating = new VolumeResolver().AddLvol(new LvolBackendOptions { CreateMissingStores = true, StoreClusterSize = Cluster });
        Assert.That(() => creating.CreateVolumeAsync($"lvol:{missing}#-bad", new VolumeCreateOptions { Size = Cluster }), Throws.InstanceOf<ArgumentException>());
        Assert.That(File.Exists(missing), Is.False, "a bad name makes no store");

        var volume = await creating.CreateVolumeAsync($"lvol:{missing}#vm1", new VolumeCreateOptions { Size = 2 * Cluster });
        await using (volume.Driver)
        {
            Assert.That(await volume.GetSizeAsync(), Is.EqualTo(2 * Cluster));
            Assert.That(((LvolDriver)volume.Driver).Store.ClusterSize, Is.EqualTo(Cluster));
        }
        Assert.That(File.Exists(missing), Is.True);
    }

    [Test]
    public async Task Rollback_withNewerSnapshots_isRefused()
    {
        await using var driver = await DriverAsync();
        var volume = await driver.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = Cluster });
        await volume.CreateSnapshotAsync("a");
        await volume.CreateSnapshotAsync("b");
        var e = Assert.ThrowsAsync<LvolException>(() => volume.RollbackAsync("a"));
        Assert.That(e!.Message, Does.Contain("newer snapshots exist (b)"));
        Assert.That((await volume.GetLineageAsync()).Count, Is.EqualTo(2));
    }

    [Test]
    public async Task RenameSnapshot_keepsItsIdentity()
    {
        await using var driver = await DriverAsync();
        var volume = await driver.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = Cluster });
        var before = await volume.CreateSnapshotAsync("a");
        await volume.RenameSnapshotAsync("a", "renamed");
        var after = (await volume.GetLineageAsync()).Single();
        Assert.That(after.Name, Is.EqualTo("renamed"));
        Assert.That(after.Identity, Is.EqualTo(before.Identity));
    }

    [Test]
    public async Task StoredChecksums_roundTripAndAreDroppedWhenTheMapChanges()
    {
        await using var driver = await DriverAsync();
        var volume = await driver.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = 16 * Cluster });
        await WriteVolumeAsync(volume, 0, Pattern(16 * Cluster, 1));
        await volume.CreateSnapshotAsync("a");
        await WriteVolumeAsync(volume, Cluster, Pattern(100, 2));
        await volume.CreateSnapshotAsync("b");
        var options = new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = ChecksumAlgorithm.Xxh128 };
        ClusterChecksums map;
        await using (var device = await volume.OpenDeviceAsync("b"))
        {
            map = await ClusterChecksums.ComputeAsync(device, options);
        }
        Assert.That(await volume.GetStoredChecksumsAsync("b", options), Is.Null);

        await volume.StoreChecksumsAsync("b", map);

        var stored = await volume.GetStoredChecksumsAsync("b", options);
        Assert.That(stored, Is.Not.Null);
        Assert.That(stored!.ContentEquals(map), Is.True);
        Assert.That(await volume.GetStoredChecksumsAsync("b", new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = ChecksumAlgorithm.Sha256 }), Is.Null, "another algorithm");
        Assert.That(await volume.GetStoredChecksumsAsync("b", new ClusterChecksumOptions { ClusterSize = 2 * Cluster, Algorithm = ChecksumAlgorithm.Xxh128 }), Is.Null, "another cluster size");

        await volume.DeleteSnapshotAsync("a");
        Assert.That(await volume.GetStoredChecksumsAsync("b", options), Is.Null, "the merge changed b's map");
    }

    [Test]
    public async Task ChangedRanges_areTheWrittenBlocksOnly()
    {
        await using var driver = await DriverAsync();
        var volume = await driver.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = 64 * Cluster });
        await WriteVolumeAsync(volume, 0, Pattern(64 * Cluster, 3));
        await volume.CreateSnapshotAsync("a");
        await WriteVolumeAsync(volume, 5 * 4096, Pattern(4096, 4));
        await WriteVolumeAsync(volume, 40 * Cluster, Pattern(3 * 4096, 5));
        await volume.CreateSnapshotAsync("b");
        var changed = await volume.GetChangedRangesAsync("a", "b");
        Assert.That(changed, Is.EqualTo(new RangeSet([new ByteRange(5 * 4096, 4096), new ByteRange(40 * Cluster, 3 * 4096)])));
        Assert.That((await volume.GetChangedRangesAsync(null, "a")).TotalLength, Is.EqualTo(64 * Cluster));
    }

    [Test]
    public async Task NativeRefresh_movesOnlyTheChangedBlocks()
    {
        await using var sourceDriver = await DriverAsync("a");
        await using var targetDriver = await DriverAsync("b");
        var source = await sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 256 * Cluster });
        var target = await targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 256 * Cluster });
        await WriteVolumeAsync(source, 0, Pattern(256 * Cluster, 6));
        await source.CreateSnapshotAsync("s1");
        var replicator = new Replicator();
        await replicator.RefreshAsync(source, target);

        var rng = new Random(7);
        long changed = 0;
        await using (var device = await source.OpenDeviceAsync(null, writable: true))
        {
            foreach (var block in Enumerable.Range(0, 4096).OrderBy(_ => rng.Next()).Take(40))
            {
                await device.WriteAsync(block * 4096L, Pattern(4096, block));
                changed += 4096;
            }
            await device.FlushAsync();
        }
        await source.CreateSnapshotAsync("s2");
        var result = await replicator.RefreshAsync(source, target);

        Assert.That(result.Route, Is.EqualTo(RefreshRoute.NativeStream));
        Assert.That(result.BytesSent, Is.LessThanOrEqualTo((long)(changed * 1.1)), $"{result.BytesSent} bytes sent for {changed} changed");
        Assert.That(await ReadVolumeAsync(target, "s2"), Is.EqualTo(await ReadVolumeAsync(source, "s2")));
        Assert.That(targetDriver.Store.GetLvol("vm@s2").AllocatedClusters, Is.LessThanOrEqualTo(40), "the target wrote the blocks, not whole copied clusters");
        Assert.That((await targetDriver.Store.FsckAsync()).IsConsistent, Is.True);
    }

    [Test]
    public async Task ChecksumRoute_betweenLvolStores_copiesOnlyWhatChangedAndRecordsIdentity()
    {
        await using var sourceDriver = await DriverAsync("a");
        await using var targetDriver = await DriverAsync("b");
        var source = await sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 128 * Cluster });
        var target = await targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 128 * Cluster });
        await WriteVolumeAsync(source, 0, Pattern(128 * Cluster, 20));
        var s1 = await source.CreateSnapshotAsync("s1");
        var options = new RefreshOptions { DisableNativeStreams = true, Delta = new DeltaSnap.Delta.DeltaPlanOptions { ClusterSize = Cluster } };
        var replicator = new Replicator();
        var first = await replicator.RefreshAsync(source, target, options);
        Assert.That(first.Route, Is.EqualTo(RefreshRoute.Checksum));

        await WriteVolumeAsync(source, 77 * 4096, Pattern(4096, 21));
        await WriteVolumeAsync(source, 100 * Cluster, Pattern(2 * 4096, 22));
        await source.CreateSnapshotAsync("s2");
        var second = await replicator.RefreshAsync(source, target, options);

        Assert.That(second.Route, Is.EqualTo(RefreshRoute.Checksum));
        Assert.That(second.BytesSent, Is.LessThanOrEqualTo(3 * 4096 * 2), "only the changed blocks travel (ChangedRanges and 4 KiB refinement)");
        var lineage = await target.GetLineageAsync();
        Assert.That(lineage.Select(l => l.Name), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(lineage[0].ReceivedFrom, Is.EqualTo(s1.Identity));
        Assert.That(lineage[0].CreatedUtc, Is.EqualTo(s1.CreatedUtc));
        Assert.That(await ReadVolumeAsync(target, "s2"), Is.EqualTo(await ReadVolumeAsync(source, "s2")));
        Assert.That(await ReadVolumeAsync(target), Is.EqualTo(await ReadVolumeAsync(source)));
        Assert.That((await targetDriver.Store.FsckAsync()).IsConsistent, Is.True);
    }

    [Test]
    public async Task Receive_streamFromAnotherBase_isRefusedBeforeWritingAnything()
    {
        await using var sourceDriver = await DriverAsync("a");
        await using var targetDriver = await DriverAsync("b");
        var source = await sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 4 * Cluster });
        var target = await targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 4 * Cluster });
        await WriteVolumeAsync(source, 0, Pattern(Cluster, 8));
        var s1 = await source.CreateSnapshotAsync("s1");
        await WriteVolumeAsync(source, 0, Pattern(100, 9));
        var s2 = await source.CreateSnapshotAsync("s2");
        var unrelated = await target.CreateSnapshotAsync("other");
        var used = targetDriver.Store.UsedClusters;

        using var stream = new MemoryStream();
        await source.SendAsync("s1", "s2", stream);
        stream.Position = 0;
        var e = Assert.ThrowsAsync<NativeStreamMismatchException>(() => target.ReceiveAsync(stream, new NativeReceiveRequest { Snapshot = s2, TargetBase = unrelated }));

        Assert.That(e!.StreamFrom, Is.EqualTo(s1.Identity));
        Assert.That(e.TargetBase, Is.EqualTo(unrelated.Identity));
        Assert.That(e.Message, Does.Contain(s1.Identity.ToString()).And.Contain(unrelated.Identity.ToString()));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "other" }));
        Assert.That(targetDriver.Store.ListLvols().Select(l => l.Name), Is.EquivalentTo(new[] { "vm", "vm@other" }));
        Assert.That(targetDriver.Store.UsedClusters, Is.EqualTo(used));
    }

    [TestCase(10)]
    [TestCase(200)]
    [TestCase(-1)]
    public async Task Receive_corruptOrTruncatedStream_failsAndLeavesTheVolumeAsItWas(int cut)
    {
        await using var sourceDriver = await DriverAsync("a");
        await using var targetDriver = await DriverAsync("b");
        var source = await sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 4 * Cluster });
        var target = await targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 4 * Cluster });
        await WriteVolumeAsync(source, 0, Pattern(4 * Cluster, 10));
        var s1 = await source.CreateSnapshotAsync("s1");
        using var stream = new MemoryStream();
        await source.SendAsync(null, "s1", stream);
        var bytes = stream.ToArray();
        if (cut > 0)
        {
            bytes = bytes[..^cut];
        }
        else
        {
            bytes[bytes.Length / 2] ^= 0x40;
        }
        var before = await ReadVolumeAsync(target);

        Assert.ThrowsAsync<CorruptDataException>(() => target.ReceiveAsync(new MemoryStream(bytes), new NativeReceiveRequest { Snapshot = s1 }));

        Assert.That(await target.GetLineageAsync(), Is.Empty);
        Assert.That(await ReadVolumeAsync(target), Is.EqualTo(before));
        Assert.That(targetDriver.Store.ListLvols().Select(l => l.Name), Is.EqualTo(new[] { "vm" }), "the scratch clone is gone");
        Assert.That((await targetDriver.Store.FsckAsync()).IsConsistent, Is.True);
    }

    [Test]
    public async Task DeleteVolume_removesItsSnapshotsToo()
    {
        await using var driver = await DriverAsync();
        var volume = await driver.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = 4 * Cluster });
        await WriteVolumeAsync(volume, 0, Pattern(4 * Cluster, 11));
        await volume.CreateSnapshotAsync("a");
        await WriteVolumeAsync(volume, 0, Pattern(4 * Cluster, 12));
        await volume.CreateSnapshotAsync("b");
        await driver.DeleteVolumeAsync("vm1");
        Assert.That(driver.Store.ListLvols(), Is.Empty);
        var report = await driver.Store.FsckAsync();
        Assert.That(report.IsConsistent, Is.True);
        Assert.That(report.MappedClusters, Is.Zero);
    }

    [Test]
    public async Task Resize_growsTheVolume()
    {
        await using var driver = await DriverAsync();
        var volume = await driver.CreateVolumeAsync("vm1", new VolumeCreateOptions { Size = 4 * Cluster });
        await volume.ResizeAsync(8 * Cluster);
        Assert.That(await volume.GetSizeAsync(), Is.EqualTo(8 * Cluster));
    }

    [Test]
    public async Task Send_intoADestinationThatLendsItsMemory_isTheSameStreamAndReceivesWhole()
    {
        const int Mib = 1 << 20;
        await using var sourceDriver = await DriverAsync("a");
        await using var targetDriver = await DriverAsync("b");
        var source = await sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 5 * Mib });
        var target = await targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 5 * Mib });
        // Chunks of the send (1 MiB): data throughout; data with a zero block; zeros; data; a short tail of data.
        var image = Pattern(5 * Mib, 31);
        Array.Clear(image, Mib + 8192, 4096);
        Array.Clear(image, 2 * Mib, Mib);
        await WriteVolumeAsync(source, 0, image);
        var s1 = await source.CreateSnapshotAsync("s1");
        // Incremental: chunk 0 rewritten with the same bytes (unchanged), chunk 3 with new data throughout, one new block in chunk 4.
        await WriteVolumeAsync(source, 0, image[..Mib]);
        await WriteVolumeAsync(source, 3 * Mib, Pattern(Mib, 32));
        await WriteVolumeAsync(source, 4 * Mib + 4096, Pattern(4096, 33));
        var s2 = await source.CreateSnapshotAsync("s2");

        var streams = new List<byte[]>();
        foreach (var (from, to) in new[] { ((string?)null, "s1"), ("s1", "s2") })
        {
            using var plain = new MemoryStream();
            await source.SendAsync(from, to, plain);
            var lending = new LendingStream();
            await source.SendAsync(from, to, lending);
            Assert.That(lending.Written.ToArray(), Is.EqualTo(plain.ToArray()), $"the stream of {to} is the same whether the destination lends memory or not");
            Assert.That(lending.Advanced, Is.GreaterThanOrEqualTo(Mib), $"the chunks of {to} that are data throughout were sent from lent memory");
            streams.Add(lending.Written.ToArray());
        }
        var received = await target.ReceiveAsync(new MemoryStream(streams[0]), new NativeReceiveRequest { Snapshot = s1 });
        await target.ReceiveAsync(new MemoryStream(streams[1]), new NativeReceiveRequest { Snapshot = s2, TargetBase = received });

        Assert.That(await ReadVolumeAsync(target, "s1"), Is.EqualTo(image));
        Assert.That(await ReadVolumeAsync(target, "s2"), Is.EqualTo(await ReadVolumeAsync(source, "s2")));
        Assert.That((await targetDriver.Store.FsckAsync()).IsConsistent, Is.True);
    }

    /// <summary>A destination that lends its memory as the native route's pipe does; what is asked for and not advanced over is overwritten by the next write.</summary>
    private sealed class LendingStream : Stream, IBufferWriter<byte>
    {
        private readonly ArrayBufferWriter<byte> _written = new();

        public ReadOnlyMemory<byte> Written => _written.WrittenMemory;

        public long Advanced { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _written.WrittenCount;

        public override long Position { get => _written.WrittenCount; set => throw new NotSupportedException(); }

        public void Advance(int count)
        {
            _written.Advance(count);
            Advanced += count;
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => _written.GetMemory(sizeHint);

        public Span<byte> GetSpan(int sizeHint = 0) => _written.GetSpan(sizeHint);

        public override void Write(byte[] buffer, int offset, int count) => _written.Write(buffer.AsSpan(offset, count));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _written.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
