using System.Buffers.Binary;
using System.IO.Hashing;
using DeltaSnap.Checksums;
using DeltaSnap.Devices;

namespace DeltaSnap.Tests.Checksums;

/// <summary>Any System.IO.Hashing <see cref="NonCryptographicHashAlgorithm"/> plugged into <see cref="ClusterChecksums"/>.</summary>
public class CustomChecksumAlgorithmTests
{
    private const int Cluster = 64 * 1024;

    private static readonly CustomChecksumAlgorithm XxHash64Algorithm = new("xxh64", () => new XxHash64());

    // 6 clusters + a 3000-byte tail: 0 data, 1 unallocated, 2 zero (written zeros), 3 data, 4 unallocated, 5 data, tail data.
    private static async Task<MemoryBlockDevice> SampleDeviceAsync()
    {
        var device = new MemoryBlockDevice(6L * Cluster + 3000, pageSize: 4096);
        var random = new Random(11);
        foreach (var c in new[] { 0, 3, 5 })
        {
            var data = new byte[Cluster];
            random.NextBytes(data);
            await device.WriteAsync((long)c * Cluster, data);
        }
        await device.WriteAsync(2L * Cluster, new byte[Cluster]);
        var tail = new byte[3000];
        random.NextBytes(tail);
        await device.WriteAsync(6L * Cluster, tail);
        return device;
    }

    private static ClusterChecksumOptions Options(CustomChecksumAlgorithm algorithm) =>
        new() { ClusterSize = Cluster, CustomAlgorithm = algorithm, MaxDegreeOfParallelism = 3 };

    [Test]
    public async Task Compute_xxHash64_everyClusterDigestIsXxHash64OfItsBytes()
    {
        await using var device = await SampleDeviceAsync();
        var map = await ClusterChecksums.ComputeAsync(device, Options(XxHash64Algorithm));
        var content = device.ToArray();

        Assert.That(map.CustomAlgorithm, Is.SameAs(XxHash64Algorithm));
        Assert.That(map.HashLength, Is.EqualTo(8));
        Assert.That((map.DataClusters, map.ZeroClusters, map.UnallocatedClusters), Is.EqualTo((4L, 1L, 2L)));
        for (var i = 0; i < map.Layout.ClusterCount; i++)
        {
            var range = map.Layout.RangeOf(i);
            var bytes = content.AsSpan((int)range.Offset, (int)range.Length);
            if (map.GetState(i) == ClusterState.Unallocated)
            {
                Assert.That(map.GetChecksum(i).IsEmpty, Is.True, $"cluster {i}");
                continue;
            }
            // Straight from System.IO.Hashing, no DeltaSnap code in between: the static one-shot and the numeric value.
            var expected = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(expected, XxHash64.HashToUInt64(bytes));
            Assert.That(map.GetChecksum(i).ToArray(), Is.EqualTo(expected), $"cluster {i}");
            Assert.That(map.GetChecksum(i).ToArray(), Is.EqualTo(XxHash64.Hash(bytes)), $"cluster {i}");
        }
    }

    [Test]
    public async Task Compute_xxHash64_wholeChecksumsHashIndexAndDigestPairs()
    {
        await using var device = await SampleDeviceAsync();
        var map = await ClusterChecksums.ComputeAsync(device, Options(XxHash64Algorithm));

        var volume = new XxHash64();
        var content = new XxHash64();
        var index = new byte[8];
        for (var i = 0; i < map.Layout.ClusterCount; i++)
        {
            if (map.GetState(i) == ClusterState.Unallocated)
            {
                continue;
            }
            BinaryPrimitives.WriteInt64LittleEndian(index, i);
            volume.Append(index);
            volume.Append(map.GetChecksum(i));
            if (map.GetState(i) == ClusterState.Data)
            {
                content.Append(index);
                content.Append(map.GetChecksum(i));
            }
        }
        Assert.That(map.VolumeChecksum.ToArray(), Is.EqualTo(volume.GetCurrentHash()));
        Assert.That(map.ContentChecksum.ToArray(), Is.EqualTo(content.GetCurrentHash()));
    }

    [Test]
    public async Task Compare_builtInAndCustomMaps_throwsNamingBoth()
    {
        await using var device = await SampleDeviceAsync();
        var custom = await ClusterChecksums.ComputeAsync(device, Options(XxHash64Algorithm));
        var builtIn = await ClusterChecksums.ComputeAsync(device, new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = ChecksumAlgorithm.Xxh3 });
        var otherInstance = await ClusterChecksums.ComputeAsync(device, Options(new CustomChecksumAlgorithm("xxh64", () => new XxHash64())));

        Assert.That(() => custom.CheckComparable(builtIn), Throws.InstanceOf<ArgumentException>().With.Message.Contains("custom 'xxh64'").And.Message.Contains("Xxh3"));
        Assert.That(() => custom.CheckComparable(otherInstance), Throws.InstanceOf<ArgumentException>());
        Assert.That(custom.ContentEquals(builtIn), Is.False);
        Assert.That(custom.ContentEquals(await ClusterChecksums.ComputeAsync(device, Options(XxHash64Algorithm))), Is.True);
    }

    [Test]
    public async Task Save_customMap_throwsInvalidOperation()
    {
        await using var device = await SampleDeviceAsync();
        var map = await ClusterChecksums.ComputeAsync(device, Options(XxHash64Algorithm));
        using var stream = new MemoryStream();
        Assert.That(() => map.SaveAsync(stream), Throws.InvalidOperationException.With.Message.Contains("xxh64"));
        Assert.That(stream.Length, Is.Zero);
    }

    [Test]
    public void Hash_manyThreadsAtOnce_eachGetsItsOwnDigest()
    {
        // The pooled instances must never be shared by two hashes in flight.
        var inputs = Enumerable.Range(0, 64).Select(i => ChecksumTestData.RandomBytes(10_000 + i, seed: i)).ToArray();
        var expected = inputs.Select(input => XxHash64.Hash(input)).ToArray();
        var mismatches = new System.Collections.Concurrent.ConcurrentBag<int>();
        Parallel.For(0, inputs.Length * 20, new ParallelOptions { MaxDegreeOfParallelism = 8 }, n =>
        {
            var i = n % inputs.Length;
            if (!XxHash64Algorithm.Hash(inputs[i]).AsSpan().SequenceEqual(expected[i]))
            {
                mismatches.Add(i);
            }
        });
        Assert.That(mismatches, Is.Empty);
    }

    [Test]
    public void CreateHasher_pieces_equalsOneShotAndReportsLength()
    {
        var crc = new CustomChecksumAlgorithm("crc32c-package", () => new Crc32(Crc32ParameterSet.Crc32C));
        var data = ChecksumTestData.RandomBytes(5000, seed: 5);
        var hasher = crc.CreateHasher();
        hasher.Append(data.AsSpan(0, 1234));
        hasher.Append(data.AsSpan(1234));
        Assert.That(hasher.HashLength, Is.EqualTo(4));
        Assert.That(hasher.GetCurrentHash(), Is.EqualTo(crc.Hash(data)));
        // System.IO.Hashing writes CRCs little-endian; DeltaSnap's built-in CRC-32C is big-endian. Same value.
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(crc.Hash(data)), Is.EqualTo(Crc32C.Compute(data)));
    }

    [Test]
    public void Constructor_factoryReturnsNull_throws() =>
        Assert.That(() => new CustomChecksumAlgorithm("broken", () => null!), Throws.InvalidOperationException.With.Message.Contains("broken"));

    [Test]
    public void BuilderConstructor_nullAlgorithm_throwsArgumentNull() =>
        Assert.That(() => new ClusterChecksumsBuilder(new ClusterLayout(Cluster, Cluster), (CustomChecksumAlgorithm)null!), Throws.ArgumentNullException);
}
