using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using DeltaSnap.Checksums;
using DeltaSnap.Delta;

namespace DeltaSnap.Benchmarks.Delta;

/// <summary>
/// Throughput of data records: 64 MiB per operation, cut into records of <see cref="PayloadSize"/> bytes.
/// MB/s = 64 MiB / mean. <c>WriteAndRead</c> runs writer and reader concurrently over a <see cref="Pipe"/>
/// that pauses the writer at four records, verifying every CRC, as a transfer does.
/// </summary>
public class DeltaStreamBenchmarks
{
    private const long TotalBytes = 64L * 1024 * 1024;

    private byte[] _payload = [];
    private byte[] _serialized = [];
    private DeltaStreamHeader _header = null!;

    [Params(64 * 1024, 1024 * 1024)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[PayloadSize];
        new Random(1).NextBytes(_payload);
        var target = new DeltaStreamSnapshot("bench@t", new SnapshotIdentity("lvol-uuid", "bench"), DateTimeOffset.UnixEpoch);
        _header = new DeltaStreamHeader(DeltaStreamPayloadKind.Blocks, TotalBytes, 1024 * 1024, ChecksumAlgorithm.Crc32C, target)
        {
            MaxRecordPayload = Math.Max(PayloadSize, DeltaStream.SmallestMaxRecordPayload),
        };
        using var stream = new MemoryStream();
        WriteAsync(PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true))).GetAwaiter().GetResult();
        _serialized = stream.ToArray();
    }

    [Benchmark(Description = "write + read through a Pipe")]
    public async Task<long> WriteAndRead()
    {
        // A pipe that holds a few records, as a transport sizes it: with the default 64 KiB threshold and
        // 1 MiB records, writer and reader would take turns instead of overlapping.
        var threshold = Math.Max(4L * PayloadSize, 256 * 1024);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: threshold, resumeWriterThreshold: threshold / 2, useSynchronizationContext: false));
        var writing = Task.Run(() => WriteAsync(pipe.Writer));
        var bytes = await ReadAsync(new DeltaStreamReader(pipe.Reader));
        await writing;
        return bytes;
    }

    [Benchmark(Description = "write to Stream.Null")]
    public Task Write() => WriteAsync(PipeWriter.Create(Stream.Null));

    [Benchmark(Description = "read from memory")]
    public Task<long> Read() => ReadAsync(new DeltaStreamReader(new MemoryStream(_serialized, writable: false)));

    private async Task WriteAsync(PipeWriter destination)
    {
        await using var writer = new DeltaStreamWriter(destination, _header);
        for (long offset = 0; offset < TotalBytes; offset += _payload.Length)
        {
            await writer.WriteAsync(offset, _payload);
        }
        await writer.CompleteAsync(ReadOnlyMemory<byte>.Empty);
    }

    private static async Task<long> ReadAsync(DeltaStreamReader reader)
    {
        await using (reader)
        {
            long bytes = 0;
            while (await reader.ReadRecordAsync() is { } record)
            {
                bytes += record.Length;
            }
            return bytes;
        }
    }
}
