using System.Buffers.Binary;
using System.Text;
using DeltaSnap.Devices;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Ceph.Tests;

/// <summary>The rbd diff v1/v2 reader and writer on their own (no cluster needed).</summary>
public class RbdDiffFormatTests
{
    private static async Task<byte[]> WriteSampleAsync(RbdDiffFormat format, bool? isProtected = null)
    {
        var stream = new MemoryStream();
        var writer = new RbdDiffWriter(stream, format);
        await writer.WriteHeaderAsync(new RbdDiffHeader { FromSnapshot = "a", ToSnapshot = "b", ImageSize = 1 << 20, IsProtected = isProtected });
        await writer.WriteDataAsync(4096, CephCluster.RandomBytes(5000, 1));
        await writer.WriteZeroAsync(65536, 131072);
        await writer.WriteDataAsync((1 << 20) - 100_000, CephCluster.RandomBytes(100_000, 2));
        await writer.CompleteAsync();
        return stream.ToArray();
    }

    [TestCase(RbdDiffFormat.V1)]
    [TestCase(RbdDiffFormat.V2)]
    public async Task WriteRead_sample_roundTrips(RbdDiffFormat format)
    {
        var bytes = await WriteSampleAsync(format, format == RbdDiffFormat.V2 ? true : null);
        using var reader = new RbdDiffReader(new MemoryStream(bytes));
        var header = await reader.ReadHeaderAsync();
        var records = new List<(RbdDiffRecordKind, long, long, string)>();
        await foreach (var r in reader.ReadRecordsAsync())
        {
            records.Add((r.Kind, r.Offset, r.Length, r.Kind == RbdDiffRecordKind.Data ? CephCluster.Hash(r.Data.Span) : ""));
        }
        Assert.Multiple(() =>
        {
            Assert.That(header.Format, Is.EqualTo(format));
            Assert.That(header.FromSnapshot, Is.EqualTo("a"));
            Assert.That(header.ToSnapshot, Is.EqualTo("b"));
            Assert.That(header.ImageSize, Is.EqualTo(1 << 20));
            Assert.That(header.IsProtected, Is.EqualTo(format == RbdDiffFormat.V2 ? true : null));
            Assert.That(records, Is.EqualTo(new[]
            {
                (RbdDiffRecordKind.Data, 4096L, 5000L, CephCluster.Hash(CephCluster.RandomBytes(5000, 1))),
                (RbdDiffRecordKind.Zero, 65536L, 131072L, ""),
                (RbdDiffRecordKind.Data, (1L << 20) - 100_000, 100_000L, CephCluster.Hash(CephCluster.RandomBytes(100_000, 2))),
            }));
            Assert.That(reader.IsFinished, Is.True);
            Assert.That(reader.Position, Is.EqualTo(bytes.Length));
        });
    }

    [Test]
    public async Task Write_v1_matchesDocumentedLayout()
    {
        var stream = new MemoryStream();
        var writer = new RbdDiffWriter(stream);
        await writer.WriteHeaderAsync(new RbdDiffHeader { ToSnapshot = "a", ImageSize = 16 << 20 });
        await writer.WriteZeroAsync(0, 4096);
        await writer.CompleteAsync();
        // The bytes `rbd export-diff rbd/t1@a` wrote for an empty 16 MiB image, plus one z record.
        var expected = new List<byte>(Encoding.ASCII.GetBytes("rbd diff v1\n"));
        expected.AddRange([(byte)'t', 1, 0, 0, 0, (byte)'a', (byte)'s', 0, 0, 0, 1, 0, 0, 0, 0]);
        expected.Add((byte)'z');
        expected.AddRange(new byte[8]);
        expected.AddRange([0, 0x10, 0, 0, 0, 0, 0, 0]);
        expected.Add((byte)'e');
        Assert.That(stream.ToArray(), Is.EqualTo(expected.ToArray()));
    }

    [Test]
    public async Task Read_v2UnknownRecord_isSkipped()
    {
        var stream = new MemoryStream();
        stream.Write("rbd diff v2\n"u8);
        WriteV2(stream, (byte)'s', BitConverter.GetBytes(8192L));
        WriteV2(stream, (byte)'X', [1, 2, 3]);
        var w = new byte[16 + 3];
        BinaryPrimitives.WriteInt64LittleEndian(w, 100);
        BinaryPrimitives.WriteInt64LittleEndian(w.AsSpan(8), 3);
        w[16] = 7;
        w[17] = 8;
        w[18] = 9;
        WriteV2(stream, (byte)'w', w);
        WriteV2(stream, (byte)'Y', []);
        stream.WriteByte((byte)'e');
        var target = new MemoryBlockDevice(8192);
        var result = await RbdDiff.ApplyAsync(new MemoryStream(stream.ToArray()), target);
        Assert.Multiple(() =>
        {
            Assert.That(result.BytesWritten, Is.EqualTo(3));
            Assert.That(target.ToArray().AsSpan(100, 3).ToArray(), Is.EqualTo(new byte[] { 7, 8, 9 }));
        });
    }

    [TestCase("rbd diff v3\n", "not \"rbd diff v1")]
    [TestCase("rbd image v2\n", "not \"rbd diff v1")]
    [TestCase("rbd di", "before the 12-byte banner")]
    [TestCase("", "before the 12-byte banner")]
    public void ReadHeader_badBanner_throwsCorrupt(string start, string expected)
    {
        using var reader = new RbdDiffReader(new MemoryStream(Encoding.ASCII.GetBytes(start)));
        var e = Assert.ThrowsAsync<CorruptDataException>(() => reader.ReadHeaderAsync());
        Assert.That(e!.Message, Does.Contain(expected));
    }

    [Test]
    public async Task Read_v1UnknownTag_throwsCorruptNamingOffset()
    {
        var bytes = await WriteSampleAsync(RbdDiffFormat.V1);
        var index = 12 + 6 + 6 + 9 + 17 + 5000; // banner, f, t, s, then the first w record
        Assert.That(bytes[index], Is.EqualTo((byte)'z'));
        bytes[index] = (byte)'q';
        var e = Assert.ThrowsAsync<CorruptDataException>(() => RbdDiff.ApplyAsync(new MemoryStream(bytes), new MemoryBlockDevice(1 << 20)));
        Assert.That(e!.Message, Does.Contain($"unknown record tag 0x71 ('q') at byte {index}"));
    }

    [Test]
    public void Read_v2LengthFieldMismatch_throwsCorrupt()
    {
        var stream = new MemoryStream();
        stream.Write("rbd diff v2\n"u8);
        WriteV2(stream, (byte)'s', BitConverter.GetBytes(8192L));
        var z = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(z, 0);
        BinaryPrimitives.WriteInt64LittleEndian(z.AsSpan(8), 4096);
        stream.WriteByte((byte)'z');
        stream.Write(BitConverter.GetBytes(17L)); // should be 16
        stream.Write(z);
        stream.WriteByte(0);
        stream.WriteByte((byte)'e');
        var e = Assert.ThrowsAsync<CorruptDataException>(() => RbdDiff.ApplyAsync(new MemoryStream(stream.ToArray()), new MemoryBlockDevice(8192)));
        Assert.That(e!.Message, Does.Contain("length field says 17"));
    }

    [Test]
    public async Task Read_extentBeyondImageSize_throwsCorrupt()
    {
        var stream = new MemoryStream();
        var writer = new RbdDiffWriter(stream);
        await writer.WriteHeaderAsync(new RbdDiffHeader { ImageSize = 1 << 20 });
        await writer.CompleteAsync();
        var bytes = stream.ToArray().ToList();
        bytes.RemoveAt(bytes.Count - 1);
        bytes.Add((byte)'z');
        bytes.AddRange(BitConverter.GetBytes((1L << 20) - 10));
        bytes.AddRange(BitConverter.GetBytes(20L));
        bytes.Add((byte)'e');
        var e = Assert.ThrowsAsync<CorruptDataException>(() => RbdDiff.ApplyAsync(new MemoryStream(bytes.ToArray()), new MemoryBlockDevice(1 << 20)));
        Assert.That(e!.Message, Does.Contain("beyond the image size"));
    }

    [Test]
    public async Task Read_metadataAfterData_throwsCorrupt()
    {
        var stream = new MemoryStream();
        var writer = new RbdDiffWriter(stream);
        await writer.WriteHeaderAsync(new RbdDiffHeader { ImageSize = 1 << 20 });
        await writer.WriteZeroAsync(0, 10);
        await writer.DisposeAsync();
        stream.Write([(byte)'s', 0, 0, 0, 0, 0, 0, 0, 0, (byte)'e']);
        var e = Assert.ThrowsAsync<CorruptDataException>(() => RbdDiff.ApplyAsync(new MemoryStream(stream.ToArray()), new MemoryBlockDevice(1 << 20)));
        Assert.That(e!.Message, Does.Contain("after the data records began"));
    }

    [TestCase(RbdDiffFormat.V1)]
    [TestCase(RbdDiffFormat.V2)]
    public async Task Apply_truncatedAtEveryLength_throwsCorruptAndSeekableChangesNothing(RbdDiffFormat format)
    {
        var bytes = await WriteSampleAsync(format);
        var original = CephCluster.RandomBytes(1 << 20, 99);
        // Every cut in the header and record headers, and a spread of cuts inside the data.
        var cuts = Enumerable.Range(0, 200).Concat(Enumerable.Range(1, 60).Select(i => bytes.Length - i * 1700)).Where(c => c >= 0 && c < bytes.Length).Distinct();
        foreach (var cut in cuts)
        {
            var target = new MemoryBlockDevice(original);
            var e = Assert.ThrowsAsync<CorruptDataException>(() => RbdDiff.ApplyAsync(new MemoryStream(Damage.Truncate(bytes, cut)), target), $"cut at {cut}");
            Assert.That(e!.Message, Does.Contain("truncated").Or.Contain("banner"), $"cut at {cut}");
            Assert.That(target.ToArray().AsSpan().SequenceEqual(original), Is.True, $"cut at {cut}: a seekable stream is checked before any write");
        }
    }

    [Test]
    public async Task Apply_pipeTruncatedInSecondDataRecord_appliesOnlyWholeRecordsBefore()
    {
        var bytes = await WriteSampleAsync(RbdDiffFormat.V1);
        var original = CephCluster.RandomBytes(1 << 20, 99);
        var target = new MemoryBlockDevice(original);
        var cut = bytes.Length - 50_000; // inside the last (100 000-byte) data record
        var pipe = new ThrowAfterNBytesStream(new MemoryStream(Damage.Truncate(bytes, cut)), long.MaxValue);
        Assert.ThrowsAsync<CorruptDataException>(() => RbdDiff.ApplyAsync(pipe, target));
        var after = target.ToArray();
        var expected = (byte[])original.Clone();
        CephCluster.RandomBytes(5000, 1).CopyTo(expected, 4096);
        Array.Clear(expected, 65536, 131072);
        Assert.That(CephCluster.Hash(after), Is.EqualTo(CephCluster.Hash(expected)), "the first two records applied, the truncated third not at all");
    }

    [Test]
    public async Task Apply_imageLargerThanFixedDevice_throwsMismatch()
    {
        var bytes = await WriteSampleAsync(RbdDiffFormat.V1);
        await using var fixedDevice = new FixedLengthDevice(new MemoryBlockDevice(4096));
        Assert.ThrowsAsync<NativeStreamMismatchException>(() => RbdDiff.ApplyAsync(new MemoryStream(bytes), fixedDevice));
    }

    [Test]
    public async Task Apply_toResizableDevice_growsToImageSize()
    {
        var bytes = await WriteSampleAsync(RbdDiffFormat.V1);
        var target = new MemoryBlockDevice(4096);
        var result = await RbdDiff.ApplyAsync(new MemoryStream(bytes), target);
        Assert.Multiple(() =>
        {
            Assert.That(target.Length, Is.EqualTo(1 << 20));
            Assert.That(result.Records, Is.EqualTo(3));
            Assert.That(result.BytesWritten, Is.EqualTo(105_000));
            Assert.That(result.BytesZeroed, Is.EqualTo(131_072));
        });
    }

    [Test]
    public async Task Export_zeroBlocks_becomeZeroRecordsAndRoundTrip()
    {
        var content = CephCluster.RandomBytes(8 << 20, 4);
        Array.Clear(content, 1 << 20, 3 << 20);        // whole zero objects
        Array.Clear(content, (6 << 20) + 8192, 8192);  // two zero 4 KiB blocks inside data
        var source = new MemoryBlockDevice(content);
        var changed = new RangeSet([new ByteRange(0, 8 << 20)]);
        var stream = new MemoryStream();
        var result = await RbdDiff.ExportAsync(source, changed, stream, new RbdDiffExportOptions { ToSnapshot = "s1" });
        var target = new MemoryBlockDevice(CephCluster.RandomBytes(8 << 20, 5));
        stream.Position = 0;
        await RbdDiff.ApplyAsync(stream, target);
        Assert.Multiple(() =>
        {
            Assert.That(result.BytesZeroed, Is.EqualTo((3 << 20) + 8192));
            Assert.That(result.BytesWritten, Is.EqualTo((8 << 20) - (3 << 20) - 8192));
            Assert.That(result.StreamLength, Is.EqualTo(stream.Length));
            Assert.That(CephCluster.Hash(target.ToArray()), Is.EqualTo(CephCluster.Hash(content)));
        });
    }

    [Test]
    public async Task Writer_misuse_throwsUsageErrors()
    {
        var writer = new RbdDiffWriter(new MemoryStream());
        Assert.ThrowsAsync<InvalidOperationException>(async () => await writer.WriteZeroAsync(0, 1));
        await writer.WriteHeaderAsync(new RbdDiffHeader { ImageSize = 100 });
        Assert.Multiple(() =>
        {
            Assert.ThrowsAsync<InvalidOperationException>(() => writer.WriteHeaderAsync(new RbdDiffHeader()));
            Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await writer.WriteZeroAsync(90, 20));
            Assert.CatchAsync<ArgumentException>(() => new RbdDiffWriter(new MemoryStream()).WriteHeaderAsync(new RbdDiffHeader { ToSnapshot = "a\0b" }));
        });
        await writer.CompleteAsync();
        Assert.ThrowsAsync<InvalidOperationException>(async () => await writer.WriteZeroAsync(0, 1));
    }

    private static void WriteV2(Stream stream, byte tag, byte[] payload)
    {
        stream.WriteByte(tag);
        stream.Write(BitConverter.GetBytes((long)payload.Length));
        stream.Write(payload);
    }

    /// <summary>A device that cannot be resized.</summary>
    private sealed class FixedLengthDevice(BlockDevice inner) : BlockDevice
    {
        public override long Length => inner.Length;

        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken) => inner.ReadAsync(offset, buffer, cancellationToken);

        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => inner.WriteAsync(offset, data, cancellationToken);
    }
}
