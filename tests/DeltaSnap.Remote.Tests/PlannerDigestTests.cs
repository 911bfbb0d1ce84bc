using DeltaSnap.Checksums;
using DeltaSnap.Delta;
using DeltaSnap.Devices;

namespace DeltaSnap.Remote.Tests;

/// <summary>The planner's refinement by digests (a device that digests where its data is) against its refinement by bytes.</summary>
public sealed class PlannerDigestTests
{
    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public async Task Plan_digestingDevice_readsNoneOfItsBytesAndTheTargetEndsEqual(bool sourceDigests, bool targetDigests)
    {
        const int Size = 16 << 20;
        var random = new Random(42);
        var source = new byte[Size];
        random.NextBytes(source);
        source.AsSpan(3 << 20, 1 << 20).Clear();                 // a zero cluster
        var target = (byte[])source.Clone();
        for (var i = 0; i < 200; i++)                            // scattered 4 KiB changes
        {
            random.NextBytes(target.AsSpan(random.Next(Size / 4096) * 4096, 4096));
        }
        target.AsSpan(5 << 20, 8192).Clear();                    // zeros on the target where the source has data
        source.AsSpan(7 << 20, 4096).Clear();                    // zeros on the source where the target has data

        var plain = await DeltaPlanner.PlanAsync(new MemoryBlockDevice(source), new MemoryBlockDevice(target));
        var sourceDevice = new CountingDigestingDevice(new MemoryBlockDevice(source), sourceDigests);
        var targetDevice = new CountingDigestingDevice(new MemoryBlockDevice(target), targetDigests);
        BlockDevice s = sourceDigests ? sourceDevice : new MemoryBlockDevice(source);
        BlockDevice t = targetDigests ? targetDevice : new MemoryBlockDevice(target);
        var byDigests = await DeltaPlanner.PlanAsync(s, t);

        if (sourceDigests)
        {
            Assert.That(sourceDevice.BytesRead, Is.Zero, "the source's bytes were not read");
        }
        if (targetDigests)
        {
            Assert.That(targetDevice.BytesRead, Is.Zero, "the target's bytes were not read");
        }
        Assert.That(byDigests.BytesToCopy, Is.LessThanOrEqualTo(plain.BytesToCopy));
        var applied = (byte[])target.Clone();
        foreach (var r in byDigests.CopyRanges)
        {
            source.AsSpan((int)r.Offset, (int)r.Length).CopyTo(applied.AsSpan((int)r.Offset));
        }
        foreach (var r in byDigests.UnmapRanges)
        {
            applied.AsSpan((int)r.Offset, (int)r.Length).Clear();
        }
        Assert.That(applied.AsSpan().SequenceEqual(source), Is.True, "the plan makes the target read like the source");
    }

    [Test]
    public void ComputeBlockDigests_zeroAndDataBlocks_layOutAsDocumented()
    {
        var data = new byte[4096 * 3 - 100];
        data[5000] = 1;
        var digests = new byte[3 * 9];
        DigestingBlockDevice.ComputeBlockDigests(data, 4096, ChecksumAlgorithm.Xxh128, 8, digests);
        Assert.That(digests[0], Is.Zero);
        Assert.That(digests.AsSpan(1, 8).ToArray(), Is.All.Zero);
        Assert.That(digests[9], Is.EqualTo(1));
        Assert.That(digests.AsSpan(10, 8).ToArray(), Is.EqualTo(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh128, data.AsSpan(4096, 4096))[..8]));
        Assert.That(digests[18], Is.Zero, "the short last block reads as zeros");
    }

    /// <summary>A device that digests its blocks itself (as a device across a session does) and counts the bytes read from it.</summary>
    private sealed class CountingDigestingDevice(BlockDevice inner, bool enabled) : DigestingBlockDevice
    {
        public long BytesRead { get; private set; }

        public override long Length => inner.Length;

        public override bool IsReadOnly => true;

        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
        {
            BytesRead += buffer.Length;
            return inner.ReadAsync(offset, buffer, cancellationToken);
        }

        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override async ValueTask ReadBlockDigestsCoreAsync(IReadOnlyList<ByteRange> ranges, int blockSize, ChecksumAlgorithm algorithm, int digestLength,
            Memory<byte> destination, CancellationToken cancellationToken)
        {
            Assert.That(enabled, Is.True);
            var at = 0;
            foreach (var range in ranges)
            {
                var bytes = new byte[range.Length];
                await inner.ReadAsync(range.Offset, bytes, cancellationToken);
                var length = (int)((range.Length + blockSize - 1) / blockSize) * (1 + digestLength);
                ComputeBlockDigests(bytes, blockSize, algorithm, digestLength, destination.Span.Slice(at, length));
                at += length;
            }
        }
    }
}
