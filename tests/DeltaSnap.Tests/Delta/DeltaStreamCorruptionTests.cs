using System.Buffers.Binary;
using System.IO.Pipelines;
using DeltaSnap.Delta;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Tests.Delta;

/// <summary>The reader refuses every damaged, reordered or inconsistent stream with a <see cref="DeltaStreamException"/> saying what and where.</summary>
public class DeltaStreamCorruptionTests
{
    [Test]
    public async Task Read_truncatedAtEveryByte_throwsTruncated()
    {
        var stream = await DeltaStreamTestData.SmallBlockStreamAsync();

        for (var length = 0; length < stream.Length; length++)
        {
            var truncated = Damage.Truncate(stream, length);
            var error = await ReadFailureAsync(truncated);
            Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("truncated"), $"truncated to {length} bytes");
            Assert.That(((DeltaStreamException)error!).StreamOffset, Is.EqualTo(length), $"truncated to {length} bytes");
        }
    }

    [Test]
    public async Task Read_bitFlippedAnywhere_throwsDeltaStreamException()
    {
        var stream = await DeltaStreamTestData.SmallBlockStreamAsync();
        Assert.That(await ReadFailureAsync(stream), Is.Null, "the undamaged stream reads");

        for (var offset = 0; offset < stream.Length; offset++)
        {
            for (var bit = 0; bit < 8; bit++)
            {
                var error = await ReadFailureAsync(Damage.FlipBit(stream, offset, bit));
                Assert.That(error, Is.InstanceOf<DeltaStreamException>(), $"bit {bit} of byte {offset}");
            }
        }
    }

    [Test]
    public async Task Read_swappedRecords_throwsReordered()
    {
        var frames = Frames(await DeltaStreamTestData.SmallBlockStreamAsync());
        (frames[1], frames[2]) = (frames[2], frames[1]);

        var error = await ReadFailureAsync(frames.SelectMany(f => f).ToArray());

        Assert.That(error, Is.InstanceOf<DeltaStreamException>()
            .With.Message.Contains("record index is 1 where 0 was expected").And.Message.Contains("reordered"));
        Assert.That(((DeltaStreamException)error!).RecordIndex, Is.Zero);
        Assert.That(((DeltaStreamException)error).StreamOffset, Is.EqualTo(frames[0].Length + 8));
    }

    [Test]
    public async Task Read_duplicatedRecord_throwsRecordIndex()
    {
        var frames = Frames(await DeltaStreamTestData.SmallBlockStreamAsync());
        frames.Insert(2, frames[1]);

        var error = await ReadFailureAsync(frames.SelectMany(f => f).ToArray());

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("record index is 0 where 1 was expected"));
    }

    [Test]
    public async Task Read_droppedRecord_throwsRecordIndex()
    {
        var frames = Frames(await DeltaStreamTestData.SmallBlockStreamAsync());
        frames.RemoveAt(2);

        var error = await ReadFailureAsync(frames.SelectMany(f => f).ToArray());

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("record index is 2 where 1 was expected"));
    }

    [Test]
    public async Task Read_unknownVersion_messageNamesTheVersion()
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 4096, version: 3).Trailer(0, 0, 0).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>()
            .With.Message.Contains("format version 3").And.Message.Contains("reads only version 2"));
    }

    [Test]
    public async Task Read_version1_refusedBecauseItsRecordsAreNotBoundToItsHeader()
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 4096, version: 1).Trailer(0, 0, 0).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>()
            .With.Message.Contains("format version 1").And.Message.Contains("does not bind its records"));
    }

    [Test]
    public async Task Read_headerOfAnotherStreamSplicedOntoRecords_failsAtTheFirstRecord()
    {
        // Stream B's header (another target) followed by stream A's records and trailer, bound to A's header.
        var a = new SpecStreamBuilder().Header(volumeSize: 1 << 20);
        var headerA = a.ToArray();
        var crcA = BinaryPrimitives.ReadUInt32LittleEndian(headerA.AsSpan(headerA.Length - 4));
        var spliced = new SpecStreamBuilder().Header(volumeSize: 1 << 20, withBase: true)
            .BindTo(crcA)
            .Record(kind: 1, index: 0, offset: 0, length: 4, payload: [1, 2, 3, 4])
            .Trailer(1, 4, 0)
            .ToArray();

        var error = await ReadFailureAsync(spliced);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("CRC-32C").And.Property("RecordIndex").EqualTo(0));
    }

    [Test]
    public async Task Read_notADeltaStream_throwsMagic()
    {
        var error = await ReadFailureAsync("rbd diff v1\nabcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"u8.ToArray());

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("not a delta stream"));
    }

    [Test]
    public async Task Read_overlappingRecords_throwsOrder()
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20)
            .Record(1, 0, 4096, 4, [1, 2, 3, 4])
            .Record(3, 1, 4099, 10)
            .Trailer(2, 4, 10).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>()
            .With.Message.Contains("(record 1)").And.Message.Contains("before the end of the previous block record (4100)"));
    }

    [Test]
    public async Task Read_descendingRecords_throwsOrder()
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20)
            .Record(3, 0, 8192, 4096)
            .Record(2, 1, 0, 4096)
            .Trailer(2, 0, 8192).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("ascending"));
    }

    [TestCase(1048576UL - 3, 4UL)]
    [TestCase(1048576UL, 1UL)]
    [TestCase(ulong.MaxValue - 1, 4UL)]
    [TestCase(4UL, (ulong)long.MaxValue)]
    public async Task Read_recordOutsideVolume_throwsBounds(ulong offset, ulong length)
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20)
            .Record(3, 0, offset, length)
            .Trailer(1, 0, length).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("does not lie inside the volume of 1048576 bytes"));
    }

    [Test]
    public async Task Read_dataLengthDisagreesWithPayload_throws()
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20)
            .Record(1, 0, 0, 5, [1, 2, 3, 4])
            .Trailer(1, 4, 0).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("length is 5 but its payload is 4 bytes"));
    }

    [TestCase(4, 1, 4, 4, "Native record does not belong in a stream that carries Blocks")]
    [TestCase(1, 2, 4, 4, "Data record does not belong in a stream that carries ZfsSend")]
    [TestCase(9, 1, 0, 4, "record kind is 9")]
    [TestCase(2, 1, 4, 4096, "carries a payload of 4 bytes")]
    [TestCase(3, 1, 0, 0, "covers no bytes")]
    [TestCase(1, 1, 0, 0, "Data record has no payload")]
    public async Task Read_recordKindOrShapeInvalid_throws(int kind, int payloadKind, int payloadLength, int length, string message)
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20, payloadKind: (byte)payloadKind)
            .Record((byte)kind, 0, 0, (ulong)length, new byte[payloadLength])
            .Trailer(1, (ulong)payloadLength, 0).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains(message));
    }

    [TestCase(3UL, 4UL, 10UL, "counts 3 records but the stream holds 2")]
    [TestCase(2UL, 5UL, 10UL, "counts 5 data bytes but the records hold 4")]
    [TestCase(2UL, 4UL, 11UL, "counts 11 zeroed and unmapped bytes but the records cover 10")]
    public async Task Read_trailerTotalsWrong_throws(ulong records, ulong dataBytes, ulong unmappedBytes, string message)
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20)
            .Record(1, 0, 0, 4, [1, 2, 3, 4])
            .Record(3, 1, 100, 10)
            .Trailer(records, dataBytes, unmappedBytes).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains(message));
    }

    [Test]
    public async Task Read_trailerChecksumOfWrongLength_throws()
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20).Trailer(0, 0, 0, [1, 2, 3, 4]).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("volume checksum is 4 bytes; Crc64Iso digests are 8 bytes"));
    }

    [Test]
    public async Task Read_bytesAfterTrailer_throws()
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20).Trailer(0, 0, 0).Raw(0).ToArray();

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains("data follows the trailer"));
        Assert.That(((DeltaStreamException)error!).StreamOffset, Is.EqualTo(stream.Length - 1));
    }

    [Test]
    public async Task Read_payloadLengthOverHeaderBound_throwsBeforeBuffering()
    {
        // Only the frame header arrives, claiming a payload over the bound: the reader must not wait for it.
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20, maxRecordPayload: 4096).ToArray();
        var frameHeader = new byte[32];
        frameHeader[0] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frameHeader.AsSpan(4), 4097);
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(stream);
        await pipe.Writer.WriteAsync(frameHeader);
        await using var reader = new DeltaStreamReader(pipe.Reader);

        Assert.That(async () => await reader.ReadRecordAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)),
            Throws.InstanceOf<DeltaStreamException>().With.Message.Contains("more than the header's largest record payload (4096)"));
    }

    [TestCase(10, 0, "header length is 0 bytes")]
    [TestCase(12, 0, "checksum algorithm 0")]
    [TestCase(13, 7, "payload kind 7")]
    [TestCase(14, 2, "header flags")]
    public async Task Read_headerFieldInvalidWithValidCrc_throwsNamingTheField(int offset, int value, string message)
    {
        var stream = new SpecStreamBuilder().Header(volumeSize: 1 << 20).Trailer(0, 0, 0).ToArray();
        var headerLength = stream[10] | (stream[11] << 8);
        stream[offset] = (byte)value;
        if (offset == 10)
        {
            stream[11] = 0;
        }
        var crc = DeltaSnap.Checksums.Crc32C.Compute(stream.AsSpan(0, headerLength - 4));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(stream.AsSpan(headerLength - 4), crc);

        var error = await ReadFailureAsync(stream);

        Assert.That(error, Is.InstanceOf<DeltaStreamException>().With.Message.Contains(message));
    }

    [Test]
    public async Task Read_afterFailure_throwsInvalidOperation()
    {
        var stream = await DeltaStreamTestData.SmallBlockStreamAsync();
        await using var reader = new DeltaStreamReader(new MemoryStream(Damage.FlipBit(stream, stream.Length - 1)));
        await reader.ReadHeaderAsync();
        for (var i = 0; i < 4; i++)
        {
            await reader.ReadRecordAsync();
        }

        Assert.That(async () => await reader.ReadRecordAsync(), Throws.InstanceOf<DeltaStreamException>().With.Message.Contains("CRC-32C"));
        Assert.That(async () => await reader.ReadRecordAsync(), Throws.InvalidOperationException.With.InnerException.InstanceOf<DeltaStreamException>());
        Assert.That(reader.Trailer, Is.Null);
    }

    [Test]
    public async Task Read_connectionDroppedAtEveryByte_neverSucceeds([Values(1, 7, 4096)] int chunk)
    {
        var stream = await DeltaStreamTestData.SmallBlockStreamAsync();

        for (var failAfter = 0; failAfter <= stream.Length; failAfter++)
        {
            var source = new ThrowAfterNBytesStream(new MemoryStream(stream), failAfter, chunk);
            var error = await ReadFailureAsync(source);
            Assert.That(error, Is.InstanceOf<IOException>().Or.InstanceOf<DeltaStreamException>(), $"connection lost after {failAfter} bytes");
        }
    }

    /// <summary>The exception reading the whole stream throws, or null when it reads cleanly.</summary>
    private static Task<Exception?> ReadFailureAsync(byte[] stream) => ReadFailureAsync(new MemoryStream(stream));

    private static async Task<Exception?> ReadFailureAsync(Stream stream)
    {
        try
        {
            await using var reader = new DeltaStreamReader(stream);
            await DeltaStreamTestData.ReadAllAsync(reader);
            return null;
        }
        catch (Exception e) when (e is DeltaStreamException or IOException)
        {
            return e;
        }
    }

    /// <summary>Cuts a stream into its header, its records and its trailer.</summary>
    private static List<byte[]> Frames(byte[] stream)
    {
        var frames = new List<byte[]>();
        var headerLength = stream[10] | (stream[11] << 8);
        frames.Add(stream[..headerLength]);
        for (var position = headerLength; position < stream.Length;)
        {
            var length = 32 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(stream.AsSpan(position + 4)) + 4;
            frames.Add(stream[position..(position + length)]);
            position += length;
        }
        return frames;
    }
}
