using DeltaSnap.Devices;

namespace DeltaSnap.Ceph.Tests;

/// <summary>
/// <see cref="RbdContentDelta"/> on in-memory devices: the records of an incremental native RBD stream carry the
/// content that differs from the base, not every extent written, and the stream stays one the receiver applies
/// (coverage first, listing only what the records write; the same bytes every time).
/// </summary>
public class RbdContentDeltaTests
{
    private const int Block = RbdContentDelta.BlockSize;
    private const int Size = 24 << 20;

    private sealed record Delta(byte[] Stream, List<ByteRange> Coverage, RbdContentDeltaResult Result);

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A base with data in [0, 20) MiB and a hole (never written) after it.</summary>
    private static async Task<(MemoryBlockDevice Base, byte[] Content)> BaseAsync()
    {
        var content = new byte[Size];
        RandomBytes(20 << 20, 1).CopyTo(content, 0);
        Array.Clear(content, 2 << 20, 64 << 10); // zero blocks that are allocated
        var device = new MemoryBlockDevice(Size);
        await device.WriteAsync(0, content.AsMemory(0, 20 << 20));
        return (device, content);
    }

    private static async Task<Delta> WriteAsync(BlockDevice now, BlockDevice then, IReadOnlyList<(ByteRange Range, bool KnownZero)> extents, long heldBytesLimit = RbdContentDelta.HeldBytesLimit)
    {
        var stream = new MemoryStream();
        var writer = new RbdDiffWriter(stream, RbdDiffFormat.V2);
        await writer.WriteHeaderAsync(new RbdDiffHeader { FromSnapshot = "a", ToSnapshot = "b", ImageSize = now.Length });
        var headerLength = writer.Length;
        List<ByteRange>? coverage = null;
        var result = await RbdContentDelta.WriteAsync(now, _ => Task.FromResult(then), extents, writer, async (ranges, token) =>
        {
            Assert.That(coverage, Is.Null, "coverage is written once");
            Assert.That(writer.Length, Is.EqualTo(headerLength), "coverage comes before every data and zero record");
            coverage = [.. ranges];
            foreach (var record in RbdStreamCoverage.Encode(ranges))
            {
                await writer.WriteExtraRecordAsync((byte)'X', record, token);
            }
        }, readsInFlight: 4, heldBytesLimit, CancellationToken.None);
        await writer.CompleteAsync();
        Assert.That(coverage, Is.Not.Null, "coverage is always written");
        return new Delta(stream.ToArray(), coverage!, result);
    }

    /// <summary>Applies the stream to a copy of the base; returns the result, its records in order and the bytes of its data records.</summary>
    private static async Task<(byte[] Image, List<(RbdDiffRecordKind Kind, ByteRange Range)> Records)> ApplyAsync(byte[] baseContent, long length, byte[] stream)
    {
        var target = new MemoryBlockDevice(baseContent);
        await target.SetLengthAsync(length);
        using var reader = new RbdDiffReader(new MemoryStream(stream)) { RecordLog = [] };
        var header = await reader.ReadHeaderAsync();
        await RbdDiff.ApplyRecordsAsync(reader, header, target, 8, CancellationToken.None);
        Assert.That(reader.IsFinished, Is.True);
        return (target.ToArray(), reader.RecordLog!);
    }

    [Test]
    public async Task Write_extentsRewrittenWithOnePercentDifferent_sendsOnlyDifferentBlocksAndAppliesToTheSnapshot()
    {
        var (then, baseContent) = await BaseAsync();
        var content = (byte[])baseContent.Clone();
        var random = new Random(2);
        var blocks = Enumerable.Range(0, (20 << 20) / Block).OrderBy(_ => random.Next()).Take((20 << 20) / Block / 100).ToList();
        foreach (var block in blocks)
        {
            RandomBytes(Block, 100 + block).CopyTo(content, block * Block);
        }
        var now = new MemoryBlockDevice(content);
        // The whole data rewritten: one extent per 4 MiB, as rbd_diff_iterate2 lists a rewrite.
        var extents = Enumerable.Range(0, 5).Select(i => (new ByteRange((long)i << 22, 4 << 20), false)).ToList();

        var delta = await WriteAsync(now, then, extents);
        var (image, records) = await ApplyAsync(baseContent, Size, delta.Stream);

        Assert.Multiple(() =>
        {
            Assert.That(image, Is.EqualTo(content));
            Assert.That(delta.Result.Written, Is.EqualTo((long)blocks.Count * Block));
            Assert.That(delta.Result.Zeroed, Is.Zero);
            Assert.That(delta.Result.Unchanged, Is.EqualTo((20L << 20) - ((long)blocks.Count * Block)));
            Assert.That(delta.Stream.Length, Is.LessThan((long)blocks.Count * (Block + 64)), "4 KiB per block, plus its record and coverage");
            Assert.That(new RangeSet(delta.Coverage), Is.EqualTo(new RangeSet(records.Select(r => r.Range))), "the coverage lists exactly what is written");
        });
    }

    [Test]
    public async Task Write_extentRewrittenWithItsOwnContent_writesNoRecord()
    {
        var (then, baseContent) = await BaseAsync();
        var now = new MemoryBlockDevice(baseContent);
        // Whole blocks, an unaligned run over the allocated zero blocks, and the never-written hole rewritten with zeros.
        List<(ByteRange, bool)> extents = [(new ByteRange(0, 1 << 20), false), (ByteRange.FromBounds((1 << 20) + 1000, (2 << 20) + (64 << 10)), false),
            (new ByteRange(21 << 20, 1 << 20), false)];

        var delta = await WriteAsync(now, then, extents);
        var (image, records) = await ApplyAsync(baseContent, Size, delta.Stream);

        Assert.Multiple(() =>
        {
            Assert.That(records, Is.Empty);
            Assert.That(delta.Coverage, Is.Empty);
            Assert.That(delta.Result, Is.EqualTo(new RbdContentDeltaResult(0, 0, extents.Sum(e => e.Item1.Length), 0)));
            Assert.That(image, Is.EqualTo(baseContent));
        });
    }

    [Test]
    public async Task Write_shortRunsWrittenWithTheirOwnContent_areSentWholeAfterTheComparedOnes()
    {
        var (then, baseContent) = await BaseAsync();
        var content = (byte[])baseContent.Clone();
        RandomBytes(Block, 5).CopyTo(content, 6 << 20);
        var now = new MemoryBlockDevice(content);
        // Short runs (a 4 KiB write, 64 KiB and 512 KiB rewritten with the same bytes) and a compared 2 MiB one with a changed block;
        // per-object extents that touch form one run.
        List<(ByteRange, bool)> extents = [(new ByteRange(1 << 20, Block), false), (new ByteRange(3 << 20, 64 << 10), false),
            (ByteRange.FromBounds((4 << 20) - (256 << 10), 4 << 20), false), (new ByteRange(4 << 20, 256 << 10), false),
            (new ByteRange(5 << 20, 1 << 20), false), (new ByteRange(6 << 20, 1 << 20), false)];

        var delta = await WriteAsync(now, then, extents);
        var (image, records) = await ApplyAsync(baseContent, Size, delta.Stream);

        Assert.Multiple(() =>
        {
            Assert.That(image, Is.EqualTo(content));
            Assert.That(records.Select(r => r.Range), Is.EqualTo(new[]
            {
                new ByteRange(6 << 20, Block), new ByteRange(1 << 20, Block), new ByteRange(3 << 20, 64 << 10),
                ByteRange.FromBounds((4 << 20) - (256 << 10), 4 << 20), new ByteRange(4 << 20, 256 << 10), // split at the object boundary, as rbd export-diff does
            }));
            Assert.That(delta.Result.Unchanged, Is.EqualTo((2 << 20) - Block));
            Assert.That(new RangeSet(delta.Coverage), Is.EqualTo(new RangeSet(records.Select(r => r.Range))));
        });
    }

    [Test]
    public async Task Write_rangesZeroed_sendZeroRecordsOnlyWhereTheBaseHeldData()
    {
        var (then, baseContent) = await BaseAsync();
        var content = (byte[])baseContent.Clone();
        Array.Clear(content, 4 << 20, 1 << 20);          // data discarded
        Array.Clear(content, 8 << 20, 8192);             // data overwritten with zeros (written, reads as zeros)
        Array.Clear(content, (19 << 20) + 4096, 2 << 20); // across the end of the data into the hole
        var now = new MemoryBlockDevice(content);
        List<(ByteRange, bool)> extents = [(new ByteRange(4 << 20, 1 << 20), true), (new ByteRange(8 << 20, 8192), false),
            (new ByteRange((19 << 20) + 4096, 2 << 20), true), (new ByteRange(22 << 20, 1 << 20), true)];

        var delta = await WriteAsync(now, then, extents);
        var (image, records) = await ApplyAsync(baseContent, Size, delta.Stream);

        var expectedZero = new RangeSet([new ByteRange(4 << 20, 1 << 20), new ByteRange(8 << 20, 8192), ByteRange.FromBounds((19 << 20) + 4096, 20 << 20)]);
        Assert.Multiple(() =>
        {
            Assert.That(image, Is.EqualTo(content));
            Assert.That(records.All(r => r.Kind == RbdDiffRecordKind.Zero), Is.True, "zeros travel as zero records");
            Assert.That(new RangeSet(records.Select(r => r.Range)), Is.EqualTo(expectedZero), "nothing where the base was a hole already");
            Assert.That(delta.Result.Unchanged, Is.EqualTo((2L << 20) - ((1 << 20) - 4096) + (1 << 20)));
        });
    }

    [Test]
    public async Task Write_snapshotLargerThanTheBase_sendsTheGrownPartAsItIs()
    {
        var (then, baseContent) = await BaseAsync();
        var content = new byte[Size + (2 << 20)];
        baseContent.CopyTo(content, 0);
        RandomBytes(1 << 20, 3).CopyTo(content, Size + (1 << 20));
        var now = new MemoryBlockDevice(content);
        // The grown part: zeros, then data; the extent starts inside the base's (unchanged) hole.
        List<(ByteRange, bool)> extents = [(ByteRange.FromBounds(Size - (1 << 20), content.Length), false)];

        var delta = await WriteAsync(now, then, extents);
        var (image, records) = await ApplyAsync(baseContent, content.Length, delta.Stream);

        Assert.Multiple(() =>
        {
            Assert.That(image, Is.EqualTo(content));
            Assert.That(records, Is.EqualTo(new[] { (RbdDiffRecordKind.Zero, new ByteRange(Size, 1 << 20)), (RbdDiffRecordKind.Data, new ByteRange(Size + (1 << 20), 1 << 20)) }));
            Assert.That(delta.Result.Unchanged, Is.EqualTo(1 << 20));
        });
    }

    [Test]
    public async Task Write_moreDataThanHeld_listsTheHeldRecordsAndStreamsTheRestTheSameEveryTime()
    {
        var (then, baseContent) = await BaseAsync();
        var content = (byte[])baseContent.Clone();
        RandomBytes(6 << 20, 4).CopyTo(content, 1 << 20);
        Array.Clear(content, 3 << 20, 12288);
        var now = new MemoryBlockDevice(content);
        List<(ByteRange, bool)> extents = [(new ByteRange(0, 8 << 20), false)];

        var first = await WriteAsync(now, then, extents, heldBytesLimit: 1 << 20);
        var second = await WriteAsync(now, then, extents, heldBytesLimit: 1 << 20);
        var (image, records) = await ApplyAsync(baseContent, Size, first.Stream);

        var written = new RangeSet(records.Select(r => r.Range));
        Assert.Multiple(() =>
        {
            Assert.That(image, Is.EqualTo(content));
            Assert.That(second.Stream, Is.EqualTo(first.Stream), "a function of the two snapshots");
            Assert.That(written.TotalLength, Is.EqualTo(6L << 20));
            Assert.That(first.Result.Covered, Is.GreaterThan(1 << 20).And.LessThan(6L << 20), "the records held when the limit was passed");
            Assert.That(new RangeSet(first.Coverage).Subtract(written), Is.Empty, "never more than is written");
            Assert.That(first.Coverage, Is.EqualTo(records.Take(first.Coverage.Count).Select(r => r.Range)), "the first records, in order");
        });
    }
}
