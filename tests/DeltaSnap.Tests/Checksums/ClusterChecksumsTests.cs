using DeltaSnap.Checksums;
using DeltaSnap.Devices;
using DeltaSnap.Testing.Devices;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Tests.Checksums;

public class ClusterChecksumsTests
{
    private const int Cluster = 64 * 1024;

    // 10 clusters + a 5000-byte tail: 0 data, 1 unallocated, 2 zero (written zeros), 3 data, 4..9 unallocated
    // except 7 data, tail data.
    private static async Task<MemoryBlockDevice> SampleDeviceAsync()
    {
        var device = new MemoryBlockDevice(10L * Cluster + 5000, pageSize: 4096);
        var random = new Random(7);
        foreach (var c in new[] { 0, 3, 7 })
        {
            var data = new byte[Cluster];
            random.NextBytes(data);
            await device.WriteAsync((long)c * Cluster, data);
        }
        await device.WriteAsync(2L * Cluster, new byte[Cluster]);
        var tail = new byte[5000];
        random.NextBytes(tail);
        await device.WriteAsync(10L * Cluster, tail);
        return device;
    }

    private static ClusterChecksumOptions Options(ChecksumAlgorithm algorithm, int parallelism = 2) =>
        new() { ClusterSize = Cluster, Algorithm = algorithm, MaxDegreeOfParallelism = parallelism };

    [Test]
    public async Task Compute_sparseDevice_classifiesEveryCluster([Values] ChecksumAlgorithm algorithm)
    {
        await using var device = await SampleDeviceAsync();
        var map = await ClusterChecksums.ComputeAsync(device, Options(algorithm));
        var content = device.ToArray();
        var expected = new[] { ClusterState.Data, ClusterState.Unallocated, ClusterState.Zero, ClusterState.Data, ClusterState.Unallocated,
            ClusterState.Unallocated, ClusterState.Unallocated, ClusterState.Data, ClusterState.Unallocated, ClusterState.Unallocated, ClusterState.Data };
        Assert.That(Enumerable.Range(0, 11).Select(i => map.GetState(i)), Is.EqualTo(expected));
        Assert.That((map.DataClusters, map.ZeroClusters, map.UnallocatedClusters), Is.EqualTo((4L, 1L, 6L)));
        for (var i = 0; i < 11; i++)
        {
            if (expected[i] != ClusterState.Unallocated)
            {
                var range = map.Layout.RangeOf(i);
                var direct = ChecksumHasher.Hash(algorithm, content.AsSpan((int)range.Offset, (int)range.Length));
                Assert.That(map.GetChecksum(i).ToArray(), Is.EqualTo(direct), $"cluster {i}");
            }
            else
            {
                Assert.That(map.GetChecksum(i).IsEmpty, Is.True);
            }
        }
    }

    [Test]
    public async Task Compute_crc64_volumeChecksumIsLonghornChainOverAllocatedClusters()
    {
        await using var device = await SampleDeviceAsync();
        var map = await ClusterChecksums.ComputeAsync(device, Options(ChecksumAlgorithm.Crc64Iso));
        var content = device.ToArray();
        ulong chain = 0;
        foreach (var i in new[] { 0, 2, 3, 7, 10 })
        {
            var range = map.Layout.RangeOf(i);
            chain = Crc64Iso.Append(chain, content.AsSpan((int)range.Offset, (int)range.Length));
        }
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(map.VolumeChecksum), Is.EqualTo(chain));
    }

    [Test]
    public async Task Compute_eachAllocatedClusterReadExactlyOnce()
    {
        await using var inner = await SampleDeviceAsync();
        await using var device = new CountingBlockDevice(inner);
        await ClusterChecksums.ComputeAsync(device, Options(ChecksumAlgorithm.Crc64Iso, parallelism: 4));
        Assert.That(device.MaxReadsOfOneOffset, Is.EqualTo(1));
        Assert.That(device.BytesRead, Is.EqualTo(4L * Cluster + 5000), "only the 5 allocated clusters are read");
    }

    [Test]
    public async Task Compute_serialAndParallel_agree()
    {
        await using var device = await SampleDeviceAsync();
        var serial = await ClusterChecksums.ComputeAsync(device, Options(ChecksumAlgorithm.Sha256, 1));
        var parallel = await ClusterChecksums.ComputeAsync(device, Options(ChecksumAlgorithm.Sha256, 8));
        Assert.That(parallel.VolumeChecksum.ToArray(), Is.EqualTo(serial.VolumeChecksum.ToArray()));
        Assert.That(parallel.ContentChecksum.ToArray(), Is.EqualTo(serial.ContentChecksum.ToArray()));
    }

    // An image of 5 MiB + 300 KiB + 5 bytes (the last 1 MiB cluster is short): 1 MiB clusters 0 data, 1 a hole, 2 written
    // zeros, 3 zeros up to 700 KiB and data after them, 4 a hole but for 10 bytes at its end, 5 (the tail) data or
    // written zeros.
    internal static async Task<byte[]> WriteImageWithHolesAsync(string path, bool zeroTail)
    {
        const int MiB = 1 << 20;
        var length = 5L * MiB + (300 << 10) + 5;
        var random = new Random(11);
        byte[] Random(int count)
        {
            var bytes = new byte[count];
            random.NextBytes(bytes);
            return bytes;
        }
        using (var image = FileBlockDevice.Create(path, length))
        {
            await image.WriteAsync(0, Random(MiB));
            await image.WriteAsync(2L * MiB, new byte[MiB]);
            await image.WriteAsync(3L * MiB, new byte[700 << 10]);
            await image.WriteAsync(3L * MiB + (700 << 10), Random(MiB - (700 << 10)));
            await image.WriteAsync(5L * MiB - 10, Random(10));
            await image.WriteAsync(5L * MiB, zeroTail ? new byte[(300 << 10) + 5] : Random((300 << 10) + 5));
            await image.FlushAsync();
        }
        return await File.ReadAllBytesAsync(path);
    }

    [Test]
    public async Task Compute_fileWithHolesAndShortTail_oneWorkerAndParallelAgreeWithDirectHashes(
        [Values] ChecksumAlgorithm algorithm, [Values(4096, 1 << 20, 2 << 20)] int clusterSize, [Values] bool zeroTail)
    {
        var path = Path.GetTempFileName();
        try
        {
            var content = await WriteImageWithHolesAsync(path, zeroTail);
            using var device = FileBlockDevice.Open(path, readOnly: true);
            var one = await ClusterChecksums.ComputeAsync(device, new() { ClusterSize = clusterSize, Algorithm = algorithm, MaxDegreeOfParallelism = 1 });
            // 2 MiB clusters: cluster 0 is data and a hole, cluster 1 written zeros up to 3.7 MiB, then data.
            Assert.That(one.UnallocatedClusters, clusterSize <= 1 << 20 ? Is.GreaterThan(0) : Is.Zero, "whole clusters in holes");
            if (clusterSize == 1 << 20)
            {
                var expected = new[] { ClusterState.Data, ClusterState.Unallocated, ClusterState.Zero, ClusterState.Data, ClusterState.Data,
                    zeroTail ? ClusterState.Zero : ClusterState.Data };
                Assert.That(Enumerable.Range(0, 6).Select(i => one.GetState(i)), Is.EqualTo(expected));
            }
            for (long i = 0; i < one.Layout.ClusterCount; i++)
            {
                if (one.GetState(i) != ClusterState.Unallocated)
                {
                    var range = one.Layout.RangeOf(i);
                    var bytes = content.AsSpan((int)range.Offset, (int)range.Length);
                    Assert.That(one.GetChecksum(i).ToArray(), Is.EqualTo(ChecksumHasher.Hash(algorithm, bytes)), $"cluster {i}");
                    Assert.That(one.GetState(i), Is.EqualTo(bytes.ContainsAnyExcept((byte)0) ? ClusterState.Data : ClusterState.Zero), $"cluster {i}");
                }
            }
            foreach (var workers in new[] { 2, 8 })
            {
                var parallel = await ClusterChecksums.ComputeAsync(device, new() { ClusterSize = clusterSize, Algorithm = algorithm, MaxDegreeOfParallelism = workers });
                AssertSameMap(parallel, one, $"{workers} workers");
            }
            // The same bytes and holes through an asynchronous device (memory) give the same map.
            await using var memory = new MemoryBlockDevice(content.Length, pageSize: 4096);
            await foreach (var range in device.GetAllocatedRangesAsync(new ByteRange(0, content.Length)))
            {
                await memory.WriteAsync(range.Offset, content.AsMemory((int)range.Offset, (int)range.Length));
            }
            AssertSameMap(await ClusterChecksums.ComputeAsync(memory, new() { ClusterSize = clusterSize, Algorithm = algorithm, MaxDegreeOfParallelism = 2 }), one, "memory device");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Compute_clustersLargerThanOneRead_zeroAndZerosThenDataAndShortTail([Values] ChecksumAlgorithm algorithm)
    {
        // 4 MiB clusters (read 1 MiB at a time): 0 written zeros, 1 zeros for 3 MiB then one byte, 2 a short zero tail.
        const int Large = 4 << 20;
        await using var device = new MemoryBlockDevice(2L * Large + 12345, pageSize: 4096);
        await device.WriteAsync(0, new byte[Large]);
        var second = new byte[Large];
        second[(3 << 20) + 5] = 1;
        await device.WriteAsync(Large, second);
        await device.WriteAsync(2L * Large, new byte[12345]);
        var map = await ClusterChecksums.ComputeAsync(device, new() { ClusterSize = Large, Algorithm = algorithm, MaxDegreeOfParallelism = 2 });
        Assert.That(Enumerable.Range(0, 3).Select(i => map.GetState(i)), Is.EqualTo(new[] { ClusterState.Zero, ClusterState.Data, ClusterState.Zero }));
        Assert.That(map.GetChecksum(0).ToArray(), Is.EqualTo(ChecksumHasher.Hash(algorithm, new byte[Large])));
        Assert.That(map.GetChecksum(1).ToArray(), Is.EqualTo(ChecksumHasher.Hash(algorithm, second)));
        Assert.That(map.GetChecksum(2).ToArray(), Is.EqualTo(ChecksumHasher.Hash(algorithm, new byte[12345])));
    }

    internal static void AssertSameMap(ClusterChecksums actual, ClusterChecksums expected, string what)
    {
        Assert.That(actual.Layout, Is.EqualTo(expected.Layout), what);
        for (long i = 0; i < expected.Layout.ClusterCount; i++)
        {
            Assert.That(actual.GetState(i), Is.EqualTo(expected.GetState(i)), $"{what}: cluster {i}");
            Assert.That(actual.GetChecksum(i).ToArray(), Is.EqualTo(expected.GetChecksum(i).ToArray()), $"{what}: cluster {i}");
        }
        Assert.That(actual.VolumeChecksum.ToArray(), Is.EqualTo(expected.VolumeChecksum.ToArray()), what);
        Assert.That(actual.ContentChecksum.ToArray(), Is.EqualTo(expected.ContentChecksum.ToArray()), what);
    }

    [Test]
    public async Task ContentChecksum_sameBytesDifferentAllocation_isEqual()
    {
        await using var sparse = await SampleDeviceAsync();
        await using var dense = new MemoryBlockDevice(sparse.ToArray());
        var a = await ClusterChecksums.ComputeAsync(sparse, Options(ChecksumAlgorithm.Crc64Iso));
        var b = await ClusterChecksums.ComputeAsync(dense, Options(ChecksumAlgorithm.Crc64Iso));
        Assert.That(b.UnallocatedClusters, Is.Zero);
        Assert.That(a.ContentEquals(b), Is.True);
        Assert.That(a.VolumeChecksum.SequenceEqual(b.VolumeChecksum), Is.False, "the volume checksum covers allocated clusters only");
        await dense.WriteAsync(5L * Cluster + 3, new byte[] { 1 });
        var c = await ClusterChecksums.ComputeAsync(dense, Options(ChecksumAlgorithm.Crc64Iso));
        Assert.That(a.ContentEquals(c), Is.False);
        Assert.That(a.ContentEquals(5, c), Is.False);
        Assert.That(a.ContentEquals(4, c), Is.True);
    }

    [Test]
    public async Task Compute_cancelled_throws()
    {
        await using var device = new MemoryBlockDevice(new byte[4 << 20]);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        Assert.That(async () => await ClusterChecksums.ComputeAsync(device, Options(ChecksumAlgorithm.Crc32C), null, cts.Token),
            Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task Compute_reportsProgressUpToTheEnd()
    {
        await using var device = new MemoryBlockDevice(new byte[200 * Cluster]);
        var reports = new List<ChecksumProgress>();
        var progress = new SynchronousProgress<ChecksumProgress>(reports.Add);
        await ClusterChecksums.ComputeAsync(device, Options(ChecksumAlgorithm.Crc32C), progress);
        Assert.That(reports, Is.Not.Empty);
        Assert.That(reports[^1], Is.EqualTo(new ChecksumProgress(200, 200, 200L * Cluster)));
    }

    [Test]
    public async Task SaveLoad_roundTrips([Values] ChecksumAlgorithm algorithm)
    {
        await using var device = await SampleDeviceAsync();
        var map = await ClusterChecksums.ComputeAsync(device, Options(algorithm));
        var bytes = await SaveAsync(map);
        var loaded = await ClusterChecksums.LoadAsync(new MemoryStream(bytes));
        Assert.That(loaded.Layout, Is.EqualTo(map.Layout));
        Assert.That(loaded.VolumeChecksum.ToArray(), Is.EqualTo(map.VolumeChecksum.ToArray()));
        Assert.That(Enumerable.Range(0, 11).All(i => loaded.GetState(i) == map.GetState(i) && loaded.GetChecksum(i).SequenceEqual(map.GetChecksum(i))), Is.True);
    }

    [Test]
    public async Task Load_everyTruncation_throwsCorruptDataNamingTruncation()
    {
        await using var device = await SampleDeviceAsync();
        var bytes = await SaveAsync(await ClusterChecksums.ComputeAsync(device, Options(ChecksumAlgorithm.Crc64Iso)));
        for (var length = 0; length < bytes.Length; length++)
        {
            var truncated = Damage.Truncate(bytes, length);
            Assert.That(async () => await ClusterChecksums.LoadAsync(new MemoryStream(truncated)),
                Throws.TypeOf<CorruptDataException>().With.Message.Contains("truncated").Or.Message.Contains("magic"), $"length {length}");
        }
    }

    [Test]
    public async Task Load_everyBitFlip_throwsCorruptData()
    {
        await using var device = await SampleDeviceAsync();
        var bytes = await SaveAsync(await ClusterChecksums.ComputeAsync(device, Options(ChecksumAlgorithm.Crc32C)));
        for (var offset = 0; offset < bytes.Length; offset++)
        {
            var damaged = Damage.FlipBit(bytes, offset, offset % 8);
            Assert.That(async () => await ClusterChecksums.LoadAsync(new MemoryStream(damaged)), Throws.TypeOf<CorruptDataException>(), $"byte {offset}");
        }
    }

    [Test]
    public async Task Load_unknownVersion_saysSo()
    {
        await using var device = await SampleDeviceAsync();
        var bytes = await SaveAsync(await ClusterChecksums.ComputeAsync(device, Options(ChecksumAlgorithm.Crc32C)));
        bytes[8] = 9;
        Assert.That(async () => await ClusterChecksums.LoadAsync(new MemoryStream(bytes)),
            Throws.TypeOf<CorruptDataException>().With.Message.Contains("version 9"));
    }

    private static async Task<byte[]> SaveAsync(ClusterChecksums map)
    {
        var stream = new MemoryStream();
        await map.SaveAsync(stream);
        return stream.ToArray();
    }

    internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        private readonly Lock _lock = new();

        public void Report(T value)
        {
            lock (_lock)
            {
                report(value);
            }
        }
    }
}
