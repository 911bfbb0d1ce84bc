using DeltaSnap.Checksums;
using DeltaSnap.Delta;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Tests.Delta;

/// <summary>The native stream adapters: how a backend's own stream (zfs send, btrfs send, rbd export-diff) rides in a delta stream.</summary>
public class DeltaStreamNativeTests
{
    private const int MaxRecordPayload = 64 * 1024;

    [Test]
    public async Task NativeAdapters_randomDataRandomChunking_roundTrip([Values(1, 2, 3, 4)] int seed)
    {
        var random = new Random(seed);
        var native = new byte[random.Next(0, 700_000)];
        random.NextBytes(native);

        var stream = await WriteNativeAsync(native, random);
        var back = await ReadNativeAsync(stream, random);

        Assert.That(back, Is.EqualTo(native));
    }

    [Test]
    public async Task NativeWriteStream_smallWrites_gatheredIntoFullRecords()
    {
        var native = new byte[(3 * MaxRecordPayload) + 100];
        new Random(5).NextBytes(native);

        var stream = await WriteNativeAsync(native, new Random(6), maxWrite: 100);
        var read = await DeltaStreamTestData.ReadAllAsync(stream);

        Assert.That(read.Records.Select(r => r.Length), Is.EqualTo(new long[] { MaxRecordPayload, MaxRecordPayload, MaxRecordPayload, 100 }));
        Assert.That(read.Trailer.DataBytes, Is.EqualTo(native.Length));
    }

    [Test]
    public async Task NativeWriteStream_copyToFromProcessLikeStream_roundTrip()
    {
        var native = new byte[1_000_003];
        new Random(7).NextBytes(native);
        using var destination = new MemoryStream();
        await using (var writer = new DeltaStreamWriter(destination, Header(), leaveOpen: true))
        {
            await using (var nativeStream = writer.AsNativeStream())
            {
                // Like `zfs send` stdout: a pipe that hands out short reads.
                await new ThrowAfterNBytesStream(new MemoryStream(native), long.MaxValue, chunk: 65536 - 13).CopyToAsync(nativeStream);
            }
            await writer.CompleteAsync(ChecksumHasher.Hash(ChecksumAlgorithm.Sha256, native));
        }
        await using var reader = new DeltaStreamReader(new MemoryStream(destination.ToArray()));
        using var received = new MemoryStream();

        await reader.AsNativeStream().CopyToAsync(received);

        Assert.That(received.ToArray(), Is.EqualTo(native));
        Assert.That(reader.Trailer!.VolumeChecksum.ToArray(), Is.EqualTo(ChecksumHasher.Hash(ChecksumAlgorithm.Sha256, native)));
    }

    [Test]
    public async Task NativeReadStream_syncReads_roundTrip()
    {
        var native = new byte[200_000];
        new Random(8).NextBytes(native);
        var stream = await WriteNativeAsync(native, new Random(9));
        await using var reader = new DeltaStreamReader(new MemoryStream(stream));
        using var received = new MemoryStream();

        reader.AsNativeStream().CopyTo(received);

        Assert.That(received.ToArray(), Is.EqualTo(native));
    }

    [Test]
    public async Task NativeReadStream_connectionDropped_neverSilentSuccess([Values(1, 2, 3)] int seed)
    {
        var random = new Random(seed);
        var native = new byte[300_000];
        random.NextBytes(native);
        var stream = await WriteNativeAsync(native, random);

        foreach (var failAfter in Enumerable.Range(0, 40).Select(_ => random.Next(0, stream.Length + 1)).Append(stream.Length).Append(stream.Length - 1))
        {
            var source = new ThrowAfterNBytesStream(new MemoryStream(stream), failAfter, chunk: random.Next(1, 100_000));
            await using var reader = new DeltaStreamReader(source);
            await using var nativeStream = reader.AsNativeStream();

            Assert.That(async () => await nativeStream.CopyToAsync(Stream.Null),
                Throws.InstanceOf<IOException>().Or.InstanceOf<DeltaStreamException>(), $"connection lost after {failAfter} bytes");
        }
    }

    [Test]
    public async Task NativeReadStream_truncatedStream_throwsDeltaStreamException()
    {
        var native = new byte[100_000];
        new Random(10).NextBytes(native);
        var stream = await WriteNativeAsync(native, new Random(11));
        await using var reader = new DeltaStreamReader(new MemoryStream(stream[..^1]));

        Assert.That(async () => await reader.AsNativeStream().CopyToAsync(Stream.Null),
            Throws.InstanceOf<DeltaStreamException>().With.Message.Contains("truncated"));
    }

    [Test]
    public async Task NativeReadStream_ofBlocksStream_throwsInvalidOperation()
    {
        var stream = await DeltaStreamTestData.SmallBlockStreamAsync();
        await using var unread = new DeltaStreamReader(new MemoryStream(stream));
        await using var headerRead = new DeltaStreamReader(new MemoryStream(stream));
        await headerRead.ReadHeaderAsync();

        Assert.That(async () => await unread.AsNativeStream().ReadAsync(new byte[10]), Throws.InvalidOperationException);
        Assert.That(() => headerRead.AsNativeStream(), Throws.InvalidOperationException);
    }

    private static DeltaStreamHeader Header() =>
        DeltaStreamTestData.Header(DeltaStreamPayloadKind.ZfsSend, volumeSize: 0, algorithm: ChecksumAlgorithm.Sha256) with { MaxRecordPayload = MaxRecordPayload };

    /// <summary>Writes <paramref name="native"/> through the write adapter in random-sized writes, sync and async.</summary>
    private static async Task<byte[]> WriteNativeAsync(byte[] native, Random random, int maxWrite = 150_000)
    {
        using var destination = new MemoryStream();
        await using (var writer = new DeltaStreamWriter(destination, Header(), leaveOpen: true))
        {
            await using (var nativeStream = writer.AsNativeStream())
            {
                for (var position = 0; position < native.Length;)
                {
                    var n = Math.Min(random.Next(1, maxWrite + 1), native.Length - position);
                    if (random.Next(2) == 0)
                    {
                        await nativeStream.WriteAsync(native.AsMemory(position, n));
                    }
                    else
                    {
                        nativeStream.Write(native, position, n);
                    }
                    position += n;
                }
                await nativeStream.FlushAsync();
            }
            await writer.CompleteAsync(ReadOnlyMemory<byte>.Empty);
        }
        return destination.ToArray();
    }

    /// <summary>Reads the native stream back through the read adapter in random-sized reads, over a stream that hands out short reads.</summary>
    private static async Task<byte[]> ReadNativeAsync(byte[] stream, Random random)
    {
        await using var reader = new DeltaStreamReader(new ThrowAfterNBytesStream(new MemoryStream(stream), long.MaxValue, chunk: random.Next(1, 100_000)));
        await using var nativeStream = reader.AsNativeStream();
        using var received = new MemoryStream();
        var buffer = new byte[200_000];
        while (true)
        {
            var n = await nativeStream.ReadAsync(buffer.AsMemory(0, random.Next(1, buffer.Length)));
            if (n == 0)
            {
                break;
            }
            received.Write(buffer, 0, n);
        }
        Assert.That(reader.Trailer, Is.Not.Null, "the native stream ends only at a verified trailer");
        Assert.That(await nativeStream.ReadAsync(buffer), Is.Zero);
        return received.ToArray();
    }
}
