// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using System.Diagnostics;
using System.IO.Pipelines;
using DeltaSnap.Btrfs;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Cli.Commands;

/// <summary>One measured case of <see cref="BtrfsRefreshBenchmark"/>.</summary>
/// <param name="ChangedPercent">How much of the data changed between the base and the sent snapshot.</param>
/// <param name="StreamBytes">The size of the incremental stream.</param>
/// <param name="RawSeconds">Median time of <c>btrfs send -p … | btrfs receive</c> and a file system sync of the target.</param>
/// <param name="DeltaSnapSeconds">Median time of DeltaSnap's send → pipe → checked receive (the native route's transfer) and the same sync.</param>
/// <param name="RefreshSeconds">Median time of a whole <see cref="Replicator"/> refresh of the same snapshot (lineages, rollback, transfer, promotion) and the same sync.</param>
/// <param name="RawFastestSeconds">Fastest run of the raw pipeline (least disturbed by other load on the machine).</param>
/// <param name="DeltaSnapFastestSeconds">Fastest run of DeltaSnap's transfer.</param>
/// <param name="RefreshFastestSeconds">Fastest run of the whole refresh.</param>
/// <param name="PairedTransferRatio">Median over runs of DeltaSnap's transfer time over the raw pipeline's in the same run (back to back, so slow drifts of other load cancel).</param>
/// <param name="PairedRefreshRatio">Median over runs of the whole refresh's time over the raw pipeline's in the same run.</param>
public sealed record BtrfsRefreshBenchmarkResult(
    double ChangedPercent,
    long StreamBytes,
    double RawSeconds,
    double DeltaSnapSeconds,
    double RefreshSeconds,
    double RawFastestSeconds,
    double DeltaSnapFastestSeconds,
    double RefreshFastestSeconds,
    double PairedTransferRatio,
    double PairedRefreshRatio)
{
    /// <summary>DeltaSnap's fastest transfer over the raw pipeline's fastest run.</summary>
    public double FastestTransferRatio => DeltaSnapFastestSeconds / RawFastestSeconds;

    /// <summary>DeltaSnap's transfer time over the raw pipeline's.</summary>
    public double TransferRatio => DeltaSnapSeconds / RawSeconds;

    /// <summary>The whole refresh's time over the raw pipeline's.</summary>
    public double RefreshRatio => RefreshSeconds / RawSeconds;
}

/// <summary>
/// Measures DeltaSnap's Btrfs send/receive path against a raw <c>btrfs send -p PARENT SNAP | btrfs receive DIR</c>
/// pipeline on the same data in the same run: a volume of <see cref="Size"/> bytes in 16 MiB files, a base
/// snapshot on both sides, then for each of <see cref="ChangedPercents"/> that share of the data overwritten
/// in place in 64 KiB blocks at random offsets and snapshotted, and the incremental sent
/// <see cref="Runs"/> times each way (alternating which goes first), each timed up to a sync of the target
/// file system (data on disk, not just in the page cache), the received snapshot deleted and deleted
/// subvolumes cleaned between runs. Reports medians, fastest runs, and the median of the per-run ratios.
/// </summary>
public sealed class BtrfsRefreshBenchmark
{
    private const int FileSize = 16 << 20;
    private const int BlockSize = 64 << 10;

    /// <summary>A directory on the source Btrfs file system (a work directory is made in it and removed after).</summary>
    public required string SourceDirectory { get; init; }

    /// <summary>A directory on the target Btrfs file system.</summary>
    public required string TargetDirectory { get; init; }

    /// <summary>The data size.</summary>
    public long Size { get; init; } = 1L << 30;

    /// <summary>The changes measured, in percent of <see cref="Size"/>.</summary>
    public IReadOnlyList<double> ChangedPercents { get; init; } = [1, 10];

    /// <summary>Measured runs per case and route.</summary>
    public int Runs { get; init; } = 3;

    /// <summary>Runs the benchmark, writing progress to <paramref name="log"/>.</summary>
    public async Task<IReadOnlyList<BtrfsRefreshBenchmarkResult>> RunAsync(TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        var id = "dsbench-" + Guid.NewGuid().ToString("N")[..8];
        var rootA = Path.Combine(SourceDirectory, id);
        var rootB = Path.Combine(TargetDirectory, id);
        Directory.CreateDirectory(rootA);
        Directory.CreateDirectory(rootB);
        await using var driverA = new BtrfsDriver(rootA);
        await using var driverB = new BtrfsDriver(rootB);
        try
        {
            var source = (BtrfsVolume)await driverA.CreateVolumeAsync("data", new VolumeCreateOptions { Kind = VolumeKind.Filesystem }, cancellationToken);
            var target = (BtrfsVolume)await driverB.CreateVolumeAsync("data", new VolumeCreateOptions { Kind = VolumeKind.Filesystem }, cancellationToken);
            var random = new Random(20260101);
            var stopwatch = Stopwatch.StartNew();
            var files = await WriteDataAsync(source.LivePath, random, cancellationToken);
            await log.WriteLineAsync($"wrote {Size >> 20} MiB in {files.Count} files in {stopwatch.Elapsed.TotalSeconds:F1} s");

            var baseSnapshot = await source.CreateSnapshotAsync("base", cancellationToken: cancellationToken);
            stopwatch.Restart();
            var (baseOnTarget, fullBytes) = await TransferAsync(source, target, null, null, baseSnapshot, cancellationToken);
            await log.WriteLineAsync($"full send of the base: {fullBytes >> 20} MiB in {stopwatch.Elapsed.TotalSeconds:F2} s");
            await SyncAsync(cancellationToken);

            var results = new List<BtrfsRefreshBenchmarkResult>();
            foreach (var percent in ChangedPercents)
            {
                var changed = await ChangeAsync(files, percent, random, cancellationToken);
                var name = $"changed-{percent:0.##}pct".Replace('.', '_');
                var snapshot = await source.CreateSnapshotAsync(name, cancellationToken: cancellationToken);
                await log.WriteLineAsync($"{percent}% changed: {changed >> 20} MiB overwritten in {BlockSize >> 10} KiB blocks");

                var raw = new List<double>();
                var deltaSnap = new List<double>();
                var refresh = new List<double>();
                long streamBytes = 0;
                for (var run = 0; run < Runs; run++)
                {
                    foreach (var route in run % 2 == 0 ? (string[])["raw", "deltasnap", "refresh"] : ["deltasnap", "raw", "refresh"])
                    {
                        double seconds;
                        switch (route)
                        {
                            case "raw":
                                stopwatch.Restart();
                                await RawPipelineAsync(await source.GetPathAsync(baseSnapshot.Name, cancellationToken), await source.GetPathAsync(name, cancellationToken), target.SnapshotDirectory, cancellationToken);
                                await RunBtrfsAsync(["filesystem", "sync", TargetDirectory], cancellationToken);
                                seconds = stopwatch.Elapsed.TotalSeconds;
                                raw.Add(seconds);
                                break;
                            case "deltasnap":
                                stopwatch.Restart();
                                (_, streamBytes) = await TransferAsync(source, target, baseSnapshot, baseOnTarget, snapshot, cancellationToken);
                                await RunBtrfsAsync(["filesystem", "sync", TargetDirectory], cancellationToken);
                                seconds = stopwatch.Elapsed.TotalSeconds;
                                deltaSnap.Add(seconds);
                                break;
                            default:
                                stopwatch.Restart();
                                await new Replicator().RefreshAsync(source, target, new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } }, cancellationToken: cancellationToken);
                                await RunBtrfsAsync(["filesystem", "sync", TargetDirectory], cancellationToken);
                                seconds = stopwatch.Elapsed.TotalSeconds;
                                refresh.Add(seconds);
                                break;
                        }
                        await log.WriteLineAsync($"  run {run + 1} {route,-9} {seconds:F3} s");
                        await target.DeleteSnapshotAsync(name, cancellationToken);
                        await SyncAsync(cancellationToken);
                    }
                }
                results.Add(new BtrfsRefreshBenchmarkResult(
                    percent, streamBytes, Median(raw), Median(deltaSnap), Median(refresh), raw.Min(), deltaSnap.Min(), refresh.Min(),
                    Median(deltaSnap.Select((d, i) => d / raw[i]).ToList()), Median(refresh.Select((r, i) => r / raw[i]).ToList())));

                // The next case is incremental from this one.
                (baseOnTarget, _) = await TransferAsync(source, target, baseSnapshot, baseOnTarget, snapshot, cancellationToken);
                baseSnapshot = snapshot;
                await SyncAsync(cancellationToken);
            }
            return results;
        }
        finally
        {
            foreach (var (driver, root) in new[] { (driverA, rootA), (driverB, rootB) })
            {
                if (await driver.VolumeExistsAsync("data", CancellationToken.None))
                {
                    await driver.DeleteVolumeAsync("data", CancellationToken.None);
                }
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private async Task<List<string>> WriteDataAsync(string root, Random random, CancellationToken cancellationToken)
    {
        var files = new List<string>();
        var buffer = new byte[FileSize];
        for (long written = 0, i = 0; written < Size; written += FileSize, i++)
        {
            var path = Path.Combine(root, $"file{i:D5}.bin");
            random.NextBytes(buffer);
            var length = (int)Math.Min(FileSize, Size - written);
            await File.WriteAllBytesAsync(path, buffer.AsMemory(0, length).ToArray(), cancellationToken);
            files.Add(path);
        }
        return files;
    }

    private async Task<long> ChangeAsync(List<string> files, double percent, Random random, CancellationToken cancellationToken)
    {
        var blocksPerFile = FileSize / BlockSize;
        var totalBlocks = Size / BlockSize;
        var toChange = (long)Math.Round(totalBlocks * percent / 100);
        var chosen = new HashSet<long>();
        while (chosen.Count < toChange)
        {
            chosen.Add(random.NextInt64(totalBlocks));
        }
        var block = new byte[BlockSize];
        foreach (var group in chosen.GroupBy(b => b / blocksPerFile).OrderBy(g => g.Key))
        {
            var stream = new FileStream(files[(int)group.Key], FileMode.Open, FileAccess.Write);
            await using (stream)
            {
                foreach (var b in group.Order())
                {
                    random.NextBytes(block);
                    stream.Position = b % blocksPerFile * BlockSize;
                    await stream.WriteAsync(block, cancellationToken);
                }
            }
        }
        return toChange * BlockSize;
    }

    private static async Task<(SnapshotInfo Received, long Bytes)> TransferAsync(
        Volume source, Volume target, SnapshotInfo? sourceBase, SnapshotInfo? targetBase, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        // As the replicator's native route pipes it: send into a Pipe with backpressure, receive from it.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 16L << 20, resumeWriterThreshold: 8L << 20));
        long bytes = 0;
        var send = Task.Run(async () =>
        {
            var writer = new CountingStream(pipe.Writer.AsStream(leaveOpen: true));
            try
            {
                await source.SendAsync(sourceBase?.Name, snapshot.Name, writer, cancellationToken: cancellationToken);
                bytes = writer.Count;
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e);
                throw;
            }
        }, cancellationToken);
        var received = await target.ReceiveAsync(pipe.Reader.AsStream(leaveOpen: true), new NativeReceiveRequest { Snapshot = snapshot, TargetBase = targetBase }, cancellationToken);
        await pipe.Reader.CompleteAsync();
        await send;
        return (received, bytes);
    }

    private static async Task RawPipelineAsync(string parent, string snapshot, string receiveDirectory, CancellationToken cancellationToken)
    {
        // The baseline the issue names, run by sh with the paths as positional parameters (never spliced into the script).
        var info = new ProcessStartInfo("sh") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var a in (string[])["-c", "btrfs -q send -p \"$1\" \"$2\" | btrfs -q receive -e \"$3\"", "sh", parent, snapshot, receiveDirectory])
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"The raw pipeline failed with exit code {process.ExitCode}: {await stderr}");
        }
    }

    /// <summary>Flushes both file systems and waits for deleted subvolumes to be cleaned, so runs do not overlap.</summary>
    private async Task SyncAsync(CancellationToken cancellationToken)
    {
        foreach (var directory in new[] { SourceDirectory, TargetDirectory })
        {
            // A commit first: it wakes the cleaner, which otherwise waits for the next periodic commit (30 s).
            await RunBtrfsAsync(["filesystem", "sync", directory], cancellationToken);
            await RunBtrfsAsync(["subvolume", "sync", directory], cancellationToken);
        }
    }

    private static async Task RunBtrfsAsync(string[] arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("btrfs") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        await output;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"btrfs {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {await errors}");
        }
    }

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Count { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => Count; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Count += count;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            Count += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
