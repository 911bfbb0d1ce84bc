using System.Buffers;
using System.IO.Pipelines;
using DeltaSnap.Checksums;
using DeltaSnap.Delta;
using DeltaSnap.Devices;

namespace DeltaSnap.Tests.Delta;

public class DeltaStreamTests
{
    private const int MiB = 1024 * 1024;

    [Test]
    public async Task RoundTrip_allBlockRecordKinds_readBackIdentical()
    {
        var header = DeltaStreamTestData.Header(volumeSize: 8 * MiB);
        var random = new Random(1);
        var first = RandomBytes(random, 5000);
        var second = RandomBytes(random, 70_000);
        var checksum = RandomBytes(random, 8);

        var bytes = await DeltaStreamTestData.WriteAsync(header, async writer =>
        {
            await writer.WriteAsync(100, first);
            await writer.WriteZeroAsync(new ByteRange(5100, 900));
            await writer.UnmapAsync(new ByteRange(65536, 3 * 65536));
            await writer.WriteAsync(4 * 65536, second);
            await writer.UnmapAsync(new ByteRange((8 * MiB) - 4096, 4096));
        }, checksum);
        var read = await DeltaStreamTestData.ReadAllAsync(bytes);

        Assert.That(read.Header, Is.EqualTo(header));
        Assert.That(read.Records.Select(r => (r.Kind, r.Index, r.Offset, r.Length)), Is.EqualTo(new[]
        {
            (DeltaRecordKind.Data, 0L, 100L, 5000L),
            (DeltaRecordKind.Zero, 1L, 5100L, 900L),
            (DeltaRecordKind.Unmap, 2L, 65536L, 3L * 65536),
            (DeltaRecordKind.Data, 3L, 4L * 65536, 70_000L),
            (DeltaRecordKind.Unmap, 4L, (8L * MiB) - 4096, 4096L),
        }));
        Assert.That(read.Records[0].Payload, Is.EqualTo(first));
        Assert.That(read.Records[3].Payload, Is.EqualTo(second));
        Assert.That(read.Records.Where(r => r.Kind != DeltaRecordKind.Data).All(r => r.Payload.Length == 0), Is.True);
        Assert.That((read.Trailer.RecordCount, read.Trailer.DataBytes, read.Trailer.UnmappedBytes),
            Is.EqualTo((5L, 75_000L, 900L + (3 * 65536) + 4096)));
        Assert.That(read.Trailer.VolumeChecksum.ToArray(), Is.EqualTo(checksum));
    }

    [Test]
    public async Task RoundTrip_nativeRecords_keepPayloadKindAndBytes(
        [Values(DeltaStreamPayloadKind.ZfsSend, DeltaStreamPayloadKind.BtrfsSend, DeltaStreamPayloadKind.RbdDiff, DeltaStreamPayloadKind.LvolDiff)] DeltaStreamPayloadKind kind)
    {
        var header = DeltaStreamTestData.Header(kind, withBase: false, algorithm: ChecksumAlgorithm.Sha256);
        var native = RandomBytes(new Random(2), 3000);

        var bytes = await DeltaStreamTestData.WriteAsync(header, async writer => await writer.WriteNativeAsync(native));
        var read = await DeltaStreamTestData.ReadAllAsync(bytes);

        Assert.That(read.Header, Is.EqualTo(header));
        Assert.That(read.Header.IsIncremental, Is.False);
        Assert.That(read.Records.Select(r => (r.Kind, r.Offset, r.Length)), Is.EqualTo(new[] { (DeltaRecordKind.Native, 0L, 3000L) }));
        Assert.That(read.Records[0].Payload, Is.EqualTo(native));
        Assert.That(read.Trailer.VolumeChecksum.IsEmpty, Is.True);
    }

    [Test]
    public async Task RoundTrip_noRecords_headerAndTrailerOnly()
    {
        var header = DeltaStreamTestData.Header(algorithm: ChecksumAlgorithm.Crc32C);

        var bytes = await DeltaStreamTestData.WriteAsync(header, _ => Task.CompletedTask, [1, 2, 3, 4]);
        var read = await DeltaStreamTestData.ReadAllAsync(bytes);

        Assert.That(read.Header, Is.EqualTo(header));
        Assert.That(read.Records, Is.Empty);
        Assert.That((read.Trailer.RecordCount, read.Trailer.DataBytes, read.Trailer.UnmappedBytes), Is.EqualTo((0L, 0L, 0L)));
        Assert.That(read.Trailer.VolumeChecksum.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3, 4 }));
    }

    [Test]
    public async Task Write_dataLargerThanMaxRecordPayload_cutIntoBoundedRecords()
    {
        var header = DeltaStreamTestData.Header(volumeSize: 16 * MiB) with { MaxRecordPayload = MiB };
        var data = RandomBytes(new Random(3), (5 * MiB / 2) + 7);

        var bytes = await DeltaStreamTestData.WriteAsync(header, async writer => await writer.WriteAsync(MiB, data));
        var read = await DeltaStreamTestData.ReadAllAsync(bytes);

        Assert.That(read.Records.Select(r => (r.Offset, r.Length)), Is.EqualTo(new[]
        {
            ((long)MiB, (long)MiB), (2L * MiB, (long)MiB), (3L * MiB, (MiB / 2) + 7L),
        }));
        Assert.That(read.Records.SelectMany(r => r.Payload).ToArray(), Is.EqualTo(data));
    }

    [Test]
    public async Task Write_streamAndPipeDestinations_produceTheSameBytes()
    {
        var header = DeltaStreamTestData.Header();
        var data = RandomBytes(new Random(4), 100_000);
        async Task Body(DeltaStreamWriter writer)
        {
            await writer.WriteAsync(0, data);
            await writer.UnmapAsync(new ByteRange(200_000, 4096));
            await writer.CompleteAsync(ReadOnlyMemory<byte>.Empty);
        }

        using var viaStream = new MemoryStream();
        await using (var writer = new DeltaStreamWriter(viaStream, header, leaveOpen: true))
        {
            await Body(writer);
        }
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0)); // nobody reads until the end
        await using (var writer = new DeltaStreamWriter(pipe.Writer, header))
        {
            await Body(writer);
        }
        var viaPipe = await pipe.Reader.ReadAtLeastAsync(int.MaxValue);

        Assert.That(viaPipe.Buffer.ToArray(), Is.EqualTo(viaStream.ToArray()));
        Assert.That(viaStream.CanWrite, Is.True, "leaveOpen keeps the stream open");
    }

    [Test]
    public async Task Write_overlappingOrDescendingRecords_throwArgumentOutOfRange()
    {
        await using var writer = new DeltaStreamWriter(new MemoryStream(), DeltaStreamTestData.Header());
        await writer.WriteAsync(4096, new byte[4096]);

        Assert.That(async () => await writer.WriteAsync(4096 + 4095, new byte[10]), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(async () => await writer.UnmapAsync(new ByteRange(0, 4096)), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(async () => await writer.WriteZeroAsync(new ByteRange(100, 1)), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(writer.RecordCount, Is.EqualTo(1));
    }

    [Test]
    public async Task Write_outsideVolume_throwsArgumentOutOfRange()
    {
        await using var writer = new DeltaStreamWriter(new MemoryStream(), DeltaStreamTestData.Header(volumeSize: MiB));

        Assert.That(async () => await writer.WriteAsync(MiB - 10, new byte[11]), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(async () => await writer.UnmapAsync(new ByteRange(MiB, 1)), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(writer.RecordCount, Is.Zero);
    }

    [Test]
    public async Task Write_recordKindNotOfThePayloadKind_throwsInvalidOperation()
    {
        await using var blocks = new DeltaStreamWriter(new MemoryStream(), DeltaStreamTestData.Header());
        await using var native = new DeltaStreamWriter(new MemoryStream(), DeltaStreamTestData.Header(DeltaStreamPayloadKind.ZfsSend));

        Assert.That(async () => await blocks.WriteNativeAsync(new byte[1]), Throws.InvalidOperationException);
        Assert.That(() => blocks.AsNativeStream(), Throws.InvalidOperationException);
        Assert.That(async () => await native.WriteAsync(0, new byte[1]), Throws.InvalidOperationException);
        Assert.That(async () => await native.WriteZeroAsync(new ByteRange(0, 1)), Throws.InvalidOperationException);
    }

    [Test]
    public async Task Write_afterComplete_throwsInvalidOperation()
    {
        await using var writer = new DeltaStreamWriter(new MemoryStream(), DeltaStreamTestData.Header());
        await writer.CompleteAsync(ReadOnlyMemory<byte>.Empty);

        Assert.That(writer.IsCompleted, Is.True);
        Assert.That(async () => await writer.WriteAsync(0, new byte[1]), Throws.InvalidOperationException);
        Assert.That(async () => await writer.CompleteAsync(ReadOnlyMemory<byte>.Empty), Throws.InvalidOperationException);
    }

    [Test]
    public async Task Complete_checksumOfWrongLength_throwsArgument()
    {
        await using var writer = new DeltaStreamWriter(new MemoryStream(), DeltaStreamTestData.Header(algorithm: ChecksumAlgorithm.Crc64Iso));

        Assert.That(async () => await writer.CompleteAsync(new byte[4]), Throws.InstanceOf<ArgumentException>());
        Assert.That(writer.IsCompleted, Is.False);
    }

    [Test]
    public async Task Dispose_beforeComplete_readerReportsTruncation()
    {
        var pipe = new Pipe();
        await using (var writer = new DeltaStreamWriter(pipe.Writer, DeltaStreamTestData.Header()))
        {
            await writer.WriteAsync(0, new byte[100]);
        }
        await using var reader = new DeltaStreamReader(pipe.Reader);

        Assert.That(await reader.ReadRecordAsync(), Is.Not.Null);
        Assert.That(async () => await reader.ReadRecordAsync(),
            Throws.InstanceOf<DeltaStreamException>().With.Message.Contains("truncated"));
    }

    [Test]
    public async Task Read_allowDataAfterTrailer_leavesPipePositionedAfterTrailer()
    {
        var stream = await DeltaStreamTestData.WriteAsync(DeltaStreamTestData.Header(), async w => await w.WriteAsync(0, new byte[10]));
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(stream);
        await pipe.Writer.WriteAsync("next"u8.ToArray());
        await pipe.Writer.CompleteAsync();

        await using (var reader = new DeltaStreamReader(pipe.Reader, new DeltaStreamReaderOptions { LeaveOpen = true, AllowDataAfterTrailer = true }))
        {
            while (await reader.ReadRecordAsync() is not null)
            {
            }
            Assert.That(reader.Trailer, Is.Not.Null);
            Assert.That(reader.BytesRead, Is.EqualTo(stream.Length));
        }
        var rest = await pipe.Reader.ReadAtLeastAsync(100);

        Assert.That(rest.Buffer.ToArray(), Is.EqualTo("next"u8.ToArray()));
    }

    [Test]
    public async Task Apply_ontoMemoryBlockDevice_targetEqualsSource()
    {
        const int volume = 4 * MiB;
        var random = new Random(5);
        var old = RandomBytes(random, volume);
        var expected = (byte[])old.Clone();
        var changes = new (long Offset, byte[] Data)[] { (0, RandomBytes(random, 4096)), (300_000, RandomBytes(random, (3 * MiB / 2) + 3)), (volume - 10, RandomBytes(random, 10)) };
        var zeroed = new ByteRange(2 * MiB, 65536);
        var unmapped = new ByteRange(3 * MiB, 12_345);
        foreach (var (offset, data) in changes)
        {
            data.CopyTo(expected, offset);
        }
        Array.Clear(expected, (int)zeroed.Offset, (int)zeroed.Length);
        Array.Clear(expected, (int)unmapped.Offset, (int)unmapped.Length);
        var bytes = await DeltaStreamTestData.WriteAsync(DeltaStreamTestData.Header(volumeSize: volume), async writer =>
        {
            await writer.WriteAsync(changes[0].Offset, changes[0].Data);
            await writer.WriteAsync(changes[1].Offset, changes[1].Data);
            await writer.WriteZeroAsync(zeroed);
            await writer.UnmapAsync(unmapped);
            await writer.WriteAsync(changes[2].Offset, changes[2].Data);
        });
        await using var target = new MemoryBlockDevice(old);
        await using var reader = new DeltaStreamReader(new MemoryStream(bytes));

        var result = await DeltaStream.ApplyAsync(reader, new BlockDeviceSink(target));

        Assert.That(target.ToArray(), Is.EqualTo(expected));
        Assert.That(result.RecordCount, Is.EqualTo(6)); // the 1.5 MiB write is two records
        Assert.That(result.BytesWritten, Is.EqualTo(changes.Sum(c => (long)c.Data.Length)));
        Assert.That((result.BytesZeroed, result.BytesUnmapped), Is.EqualTo((zeroed.Length, unmapped.Length)));
        Assert.That(result.Trailer.RecordCount, Is.EqualTo(6));
    }

    [Test]
    public async Task Apply_intoAnotherWriter_relaysTheSameStream()
    {
        var header = DeltaStreamTestData.Header(volumeSize: 4 * MiB);
        var original = await DeltaStreamTestData.WriteAsync(header, async writer =>
        {
            await writer.WriteAsync(0, RandomBytes(new Random(6), 2 * MiB));
            await writer.UnmapAsync(new ByteRange(3 * MiB, 4096));
        });
        using var relayed = new MemoryStream();
        await using var reader = new DeltaStreamReader(new MemoryStream(original));
        await using (var relay = new DeltaStreamWriter(relayed, header, leaveOpen: true))
        {
            var result = await DeltaStream.ApplyAsync(reader, relay);
            await relay.CompleteAsync(result.Trailer.VolumeChecksum);
        }

        Assert.That(relayed.ToArray(), Is.EqualTo(original));
    }

    [Test]
    public async Task Apply_nativeStream_throwsInvalidOperation()
    {
        var bytes = await DeltaStreamTestData.WriteAsync(DeltaStreamTestData.Header(DeltaStreamPayloadKind.BtrfsSend), async w => await w.WriteNativeAsync(new byte[5]));
        await using var reader = new DeltaStreamReader(new MemoryStream(bytes));
        await using var device = new MemoryBlockDevice(MiB);

        Assert.That(async () => await DeltaStream.ApplyAsync(reader, new BlockDeviceSink(device)), Throws.InvalidOperationException);
    }

    [Test]
    public void Header_invalidArguments_throw()
    {
        var target = DeltaStreamTestData.Target;

        Assert.That(() => new DeltaStreamHeader(DeltaStreamPayloadKind.Blocks, MiB, 3000, ChecksumAlgorithm.Crc32C, target), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new DeltaStreamHeader(DeltaStreamPayloadKind.Blocks, -1, 65536, ChecksumAlgorithm.Crc32C, target), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new DeltaStreamHeader((DeltaStreamPayloadKind)9, MiB, 65536, ChecksumAlgorithm.Crc32C, target), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new DeltaStreamHeader(DeltaStreamPayloadKind.Blocks, MiB, 65536, (ChecksumAlgorithm)77, target), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => DeltaStreamTestData.Header() with { MaxRecordPayload = 100 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => DeltaStreamTestData.Header() with { MaxRecordPayload = DeltaStream.LargestMaxRecordPayload + 1 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void Snapshot_creationTime_keptInUtcWholeSeconds()
    {
        var local = new DateTimeOffset(2025, 3, 4, 5, 6, 7, 891, TimeSpan.FromHours(2));

        var snapshot = new DeltaStreamSnapshot("s", new SnapshotIdentity("lvol-uuid", "u"), local);

        Assert.That(snapshot.CreatedAt, Is.EqualTo(new DateTimeOffset(2025, 3, 4, 3, 6, 7, TimeSpan.Zero)));
        Assert.That(snapshot.CreatedAt.Offset, Is.EqualTo(TimeSpan.Zero));
    }

    [Test]
    public void Snapshot_invalidText_throwsArgument()
    {
        var identity = new SnapshotIdentity("lvol-uuid", "u");

        Assert.That(() => new DeltaStreamSnapshot("", identity, default), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => new DeltaStreamSnapshot("a\nb", identity, default), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => new DeltaStreamSnapshot("\ud800", identity, default), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => new DeltaStreamSnapshot(new string('x', 1025), identity, default), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => new DeltaStreamSnapshot("s", default, default), Throws.InstanceOf<ArgumentException>());
    }

    [Test]
    public async Task RoundTrip_unicodeNamesAndLongTexts_readBackIdentical()
    {
        var target = new DeltaStreamSnapshot("pool/vol@día-😀", new SnapshotIdentity("rbd", new string('v', 1024)), DateTimeOffset.UnixEpoch.AddYears(-100));
        var header = new DeltaStreamHeader(DeltaStreamPayloadKind.RbdDiff, 0, ClusterLayout.MaxClusterSize, ChecksumAlgorithm.Sha256, target, target);

        var bytes = await DeltaStreamTestData.WriteAsync(header, _ => Task.CompletedTask);
        var read = await DeltaStreamTestData.ReadAllAsync(bytes);

        Assert.That(read.Header, Is.EqualTo(header));
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}

/// <summary>Headers, writers and readers the delta stream tests share.</summary>
internal static class DeltaStreamTestData
{
    public static readonly DeltaStreamSnapshot Base = new("base", new SnapshotIdentity("zfs-guid", "111"), DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    public static readonly DeltaStreamSnapshot Target = new("target", new SnapshotIdentity("zfs-guid", "222"), DateTimeOffset.FromUnixTimeSeconds(1_700_000_100));

    public static DeltaStreamHeader Header(DeltaStreamPayloadKind kind = DeltaStreamPayloadKind.Blocks, long volumeSize = 1 << 20, bool withBase = true,
        ChecksumAlgorithm algorithm = ChecksumAlgorithm.Crc64Iso) =>
        new(kind, volumeSize, 65536, algorithm, Target, withBase ? Base : null);

    /// <summary>Writes a whole stream: header, what <paramref name="body"/> writes, trailer with <paramref name="checksum"/>.</summary>
    public static async Task<byte[]> WriteAsync(DeltaStreamHeader header, Func<DeltaStreamWriter, Task> body, byte[]? checksum = null)
    {
        using var stream = new MemoryStream();
        await using (var writer = new DeltaStreamWriter(stream, header, leaveOpen: true))
        {
            await body(writer);
            await writer.CompleteAsync(checksum ?? []);
        }
        return stream.ToArray();
    }

    /// <summary>Reads a whole stream, copying every payload.</summary>
    public static async Task<StreamContent> ReadAllAsync(byte[] bytes, DeltaStreamReaderOptions? options = null)
    {
        await using var reader = new DeltaStreamReader(new MemoryStream(bytes), options);
        return await ReadAllAsync(reader);
    }

    public static async Task<StreamContent> ReadAllAsync(DeltaStreamReader reader)
    {
        var header = await reader.ReadHeaderAsync();
        var records = new List<ReadRecord>();
        while (await reader.ReadRecordAsync() is { } record)
        {
            records.Add(new ReadRecord(record.Kind, record.Index, record.Offset, record.Length, record.Payload.ToArray()));
        }
        return new StreamContent(header, records, reader.Trailer!);
    }

    /// <summary>A small stream of every block record kind, with a base snapshot and a checksum: about 400 bytes.</summary>
    public static Task<byte[]> SmallBlockStreamAsync() =>
        WriteAsync(Header(volumeSize: 1 << 20), async writer =>
        {
            await writer.WriteAsync(4096, Enumerable.Range(0, 100).Select(i => (byte)i).ToArray());
            await writer.WriteZeroAsync(new ByteRange(8192, 4096));
            await writer.UnmapAsync(new ByteRange(65536, 65536));
            await writer.WriteAsync(200_000, "tail"u8.ToArray());
        }, [1, 2, 3, 4, 5, 6, 7, 8]);

    /// <summary>The example stream of docs/delta-stream.md.</summary>
    public static Task<byte[]> WriteDocumentExampleAsync()
    {
        var header = new DeltaStreamHeader(
            DeltaStreamPayloadKind.Blocks, volumeSize: 1 << 20, clusterSize: 65536, ChecksumAlgorithm.Crc32C,
            target: new DeltaStreamSnapshot("v@t2", new SnapshotIdentity("lvol-uuid", "b2"), DateTimeOffset.FromUnixTimeSeconds(1_767_225_600)),
            baseSnapshot: new DeltaStreamSnapshot("v@t1", new SnapshotIdentity("lvol-uuid", "a1"), DateTimeOffset.FromUnixTimeSeconds(1_767_139_200)));
        return WriteAsync(header, async writer =>
        {
            await writer.WriteAsync(0x1000, "DATA"u8.ToArray());
            await writer.WriteZeroAsync(new ByteRange(0x2000, 0x1000));
            await writer.UnmapAsync(new ByteRange(0x10000, 0x10000));
        }, [0xde, 0xad, 0xbe, 0xef]);
    }

    public sealed record ReadRecord(DeltaRecordKind Kind, long Index, long Offset, long Length, byte[] Payload);

    public sealed record StreamContent(DeltaStreamHeader Header, IReadOnlyList<ReadRecord> Records, DeltaStreamTrailer Trailer);
}
