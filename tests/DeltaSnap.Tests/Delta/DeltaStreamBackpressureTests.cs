using System.IO.Pipelines;
using DeltaSnap.Checksums;
using DeltaSnap.Delta;

namespace DeltaSnap.Tests.Delta;

/// <summary>A slow reader slows the writer down: memory stays bounded however much flows.</summary>
public class DeltaStreamBackpressureTests
{
    private const int MiB = 1024 * 1024;

    [Test]
    [CancelAfter(120_000)]
    public async Task WriteRead_256MiBThroughPausingPipe_slowReader_bufferAndAllocationStayBounded(CancellationToken cancellationToken)
    {
        const int pauseThreshold = 4 * MiB;
        const long total = 256L * MiB;
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: pauseThreshold, resumeWriterThreshold: pauseThreshold / 2, useSynchronizationContext: false));
        var header = new DeltaStreamHeader(DeltaStreamPayloadKind.Blocks, total, MiB, ChecksumAlgorithm.Crc32C, DeltaStreamTestData.Target);
        var chunk = new byte[MiB];
        new Random(1).NextBytes(chunk);
        var chunkCrc = Crc32C.Compute(chunk);
        var measuring = new MeasuringPipeReader(pipe.Reader);
        GC.Collect();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        var writing = Task.Run(async () =>
        {
            await using var writer = new DeltaStreamWriter(pipe.Writer, header);
            for (long offset = 0; offset < total; offset += MiB)
            {
                await writer.WriteAsync(offset, chunk, cancellationToken);
            }
            await writer.CompleteAsync(ReadOnlyMemory<byte>.Empty, cancellationToken);
        }, cancellationToken);
        long bytesRead = 0;
        var wrongPayloads = 0;
        await using (var reader = new DeltaStreamReader(measuring))
        {
            while (await reader.ReadRecordAsync(cancellationToken) is { } record)
            {
                bytesRead += record.Length;
                var crc = 0u;
                foreach (var segment in record.Payload)
                {
                    crc = Crc32C.Append(crc, segment.Span);
                }
                wrongPayloads += crc == chunkCrc ? 0 : 1;
                await Task.Delay(1, cancellationToken); // the slow reader
            }
        }
        await writing;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        await TestContext.Out.WriteLineAsync($"peak buffered {measuring.PeakBuffered} bytes, allocated {allocated} bytes for {total} bytes moved");

        Assert.That(bytesRead, Is.EqualTo(total));
        Assert.That(wrongPayloads, Is.Zero);
        // The writer was held back (the pipe filled to its threshold) ...
        Assert.That(measuring.PeakBuffered, Is.GreaterThanOrEqualTo(pauseThreshold / 2), "the reader was slow enough for the pipe to fill");
        // ... and never ran more than one record and one flush threshold past it.
        Assert.That(measuring.PeakBuffered, Is.LessThanOrEqualTo(pauseThreshold + MiB + (64 * 1024) + 100));
        // 256 MiB went through pooled buffers: nothing was allocated per byte.
        Assert.That(allocated, Is.LessThan(16L * MiB), $"allocated {allocated} bytes");
    }

    /// <summary>A reader that records the most bytes the pipe ever held for it unconsumed.</summary>
    private sealed class MeasuringPipeReader(PipeReader inner) : PipeReader
    {
        public long PeakBuffered { get; private set; }

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
            Measure(await inner.ReadAsync(cancellationToken));

        public override bool TryRead(out ReadResult result)
        {
            var read = inner.TryRead(out result);
            if (read)
            {
                Measure(result);
            }
            return read;
        }

        protected override async ValueTask<ReadResult> ReadAtLeastAsyncCore(int minimumSize, CancellationToken cancellationToken) =>
            Measure(await inner.ReadAtLeastAsync(minimumSize, cancellationToken));

        private ReadResult Measure(ReadResult result)
        {
            PeakBuffered = Math.Max(PeakBuffered, result.Buffer.Length);
            return result;
        }
    }
}
