// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using System.Diagnostics;
using System.IO.Pipelines;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using DeltaSnap.Zfs;

namespace DeltaSnap.Cli.Commands;

/// <summary>One measured case of <see cref="ZfsRefreshBenchmark"/> (times in seconds: medians, and fastest runs).</summary>
/// <param name="ChangedPercent">How much of the data changed between the base and the sent snapshot.</param>
/// <param name="StreamBytes">The size of the incremental stream.</param>
/// <param name="RawSeconds">Median time of <c>zfs send -i BASE SNAP | zfs receive -F TARGET</c>.</param>
/// <param name="DeltaSnapSeconds">Median time of DeltaSnap's send → pipe → checked receive, as the native route moves a snapshot (base protection included).</param>
/// <param name="UnprotectedSeconds">The same without base protection (no holds).</param>
/// <param name="RefreshSeconds">Median time of a whole <see cref="Replicator"/> refresh of the snapshot (lineages, rollback of the target, transfer, promotion).</param>
/// <param name="RawFastestSeconds">Fastest run of the raw pipeline (least disturbed by other load on the machine).</param>
/// <param name="DeltaSnapFastestSeconds">Fastest run of DeltaSnap's transfer.</param>
/// <param name="PairedTransferRatio">Median over runs of DeltaSnap's transfer time over the raw pipeline's in the same run.</param>
/// <param name="PairedUnprotectedRatio">Median over runs of the unprotected transfer's time over the raw pipeline's.</param>
/// <param name="PairedRefreshRatio">Median over runs of the whole refresh's time over the raw pipeline's.</param>
public sealed record ZfsRefreshBenchmarkResult(
    double ChangedPercent,
    long StreamBytes,
    double RawSeconds,
    double DeltaSnapSeconds,
    double UnprotectedSeconds,
    double RefreshSeconds,
    double RawFastestSeconds,
    double DeltaSnapFastestSeconds,
    double PairedTransferRatio,
    double PairedUnprotectedRatio,
    double PairedRefreshRatio);

/// <summary>
/// Measures DeltaSnap's ZFS send/receive path against a raw <c>zfs send -i BASE SNAP | zfs receive -F TARGET</c>
/// pipeline on the same data in the same run: a dataset of <see cref="Size"/> bytes in 4 MiB files under
/// <see cref="SourceParent"/>, replicated in full under <see cref="TargetParent"/>; then for each of
/// <see cref="ChangedPercents"/> that share of its 128 KiB records rewritten and snapshotted, and the incremental
/// moved <see cref="Runs"/> times by each route (the order rotating between runs). Between measurements the
/// target goes back to the base and both pools sync (a probe snapshot forces a transaction group), so runs do
/// not overlap. Reports medians, fastest runs, and the median of the per-run ratios.
/// </summary>
public sealed class ZfsRefreshBenchmark
{
    private const int FileSize = 4 << 20;
    private const int RecordSize = 128 << 10;
    private static readonly string[] Routes = ["raw", "deltasnap", "unprotected", "refresh"];

    /// <summary>The dataset under which the source dataset is made (and destroyed after).</summary>
    public required string SourceParent { get; init; }

    /// <summary>The dataset under which the target dataset is made (another pool, typically).</summary>
    public required string TargetParent { get; init; }

    /// <summary>The data size.</summary>
    public long Size { get; init; } = 1L << 30;

    /// <summary>The changes measured, in percent of <see cref="Size"/>.</summary>
    public IReadOnlyList<double> ChangedPercents { get; init; } = [1, 10];

    /// <summary>Measured runs per case and route.</summary>
    public int Runs { get; init; } = 5;

    /// <summary>Runs the benchmark, writing progress to <paramref name="log"/>.</summary>
    public async Task<IReadOnlyList<ZfsRefreshBenchmarkResult>> RunAsync(TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        var name = "dsbench-" + Guid.NewGuid().ToString("N")[..8];
        await using var driverA = await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = SourceParent }, cancellationToken: cancellationToken);
        await using var driverB = await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = TargetParent }, cancellationToken: cancellationToken);
        var unprotectedOptions = new ZfsDriverOptions { ProtectBase = false };
        await using var plainA = await ZfsDriver.OpenAsync(unprotectedOptions with { Root = SourceParent }, cancellationToken: cancellationToken);
        await using var plainB = await ZfsDriver.OpenAsync(unprotectedOptions with { Root = TargetParent }, cancellationToken: cancellationToken);
        var source = (ZfsVolume)await driverA.CreateVolumeAsync(name, new VolumeCreateOptions { Kind = VolumeKind.Filesystem }, cancellationToken);
        ZfsVolume? target = null;
        try
        {
            var random = new Random(20260101);
            var stopwatch = Stopwatch.StartNew();
            var files = await WriteDataAsync(await source.GetPathAsync(null, cancellationToken), random, cancellationToken);
            await log.WriteLineAsync($"wrote {Size >> 20} MiB in {files.Count} files in {stopwatch.Elapsed.TotalSeconds:F1} s");

            var baseSnapshot = await source.CreateSnapshotAsync("base", cancellationToken: cancellationToken);
            target = (ZfsVolume)await driverB.CreateVolumeAsync(name, new VolumeCreateOptions { Kind = VolumeKind.Filesystem }, cancellationToken);
            stopwatch.Restart();
            var (baseOnTarget, fullBytes) = await TransferAsync(source, target, null, null, baseSnapshot, cancellationToken);
            await target.PromoteAsync(baseSnapshot.Name, cancellationToken);
            await log.WriteLineAsync($"full send of the base: {fullBytes >> 20} MiB in {stopwatch.Elapsed.TotalSeconds:F2} s");
            var plainSource = (ZfsVolume)await plainA.OpenVolumeAsync(name, cancellationToken);
            var plainTarget = (ZfsVolume)await plainB.OpenVolumeAsync(name, cancellationToken);

            var results = new List<ZfsRefreshBenchmarkResult>();
            foreach (var percent in ChangedPercents)
            {
                var changed = await ChangeAsync(files, percent, random, cancellationToken);
                var snapshotName = $"changed-{percent:0.##}pct".Replace('.', '_');
                var snapshot = await source.CreateSnapshotAsync(snapshotName, cancellationToken: cancellationToken);
                await log.WriteLineAsync($"{percent}% changed: {changed >> 20} MiB rewritten in {RecordSize >> 10} KiB records");

                var times = Routes.ToDictionary(r => r, _ => new List<double>());
                long streamBytes = 0;
                for (var run = 0; run < Runs; run++)
                {
                    foreach (var route in Routes.Skip(run % Routes.Length).Concat(Routes.Take(run % Routes.Length)))
                    {
                        await SettleAsync(source, target, cancellationToken);
                        stopwatch.Restart();
                        switch (route)
                        {
                            case "raw":
                                await RawPipelineAsync($"{source.Dataset}@{baseSnapshot.Name}", $"{source.Dataset}@{snapshotName}", target.Dataset, cancellationToken);
                                break;
                            case "deltasnap":
                                (_, streamBytes) = await TransferAsync(source, target, baseSnapshot, baseOnTarget, snapshot, cancellationToken);
                                break;
                            case "unprotected":
                                await TransferAsync(plainSource, plainTarget, baseSnapshot, baseOnTarget, snapshot, cancellationToken);
                                break;
                            default:
                                await new Replicator().RefreshAsync(source, target, new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } }, cancellationToken: cancellationToken);
                                break;
                        }
                        var seconds = stopwatch.Elapsed.TotalSeconds;
                        times[route].Add(seconds);
                        await log.WriteLineAsync($"  run {run + 1} {route,-11} {seconds:F3} s");
                        // Back to the base: the received snapshot goes, and the head with it.
                        await target.DeleteSnapshotAsync(snapshotName, cancellationToken);
                        await target.RollbackAsync(baseSnapshot.Name, cancellationToken);
                    }
                }
                var raw = times["raw"];
                results.Add(new ZfsRefreshBenchmarkResult(
                    percent, streamBytes, Median(raw), Median(times["deltasnap"]), Median(times["unprotected"]), Median(times["refresh"]),
                    raw.Min(), times["deltasnap"].Min(),
                    Median(times["deltasnap"].Select((d, i) => d / raw[i]).ToList()),
                    Median(times["unprotected"].Select((d, i) => d / raw[i]).ToList()),
                    Median(times["refresh"].Select((d, i) => d / raw[i]).ToList())));

                // The next case starts from the base again.
                await source.DeleteSnapshotAsync(snapshotName, cancellationToken);
                await source.RollbackAsync(baseSnapshot.Name, cancellationToken);
            }
            return results;
        }
        finally
        {
            foreach (var (driver, volume) in new[] { (driverB, (Volume?)target), (driverA, source) })
            {
                if (volume is not null && await driver.VolumeExistsAsync(volume.Name, CancellationToken.None))
                {
                    await driver.DeleteVolumeAsync(volume.Name, CancellationToken.None);
                }
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
        var recordsPerFile = FileSize / RecordSize;
        var totalRecords = Size / RecordSize;
        var toChange = (long)Math.Round(totalRecords * percent / 100);
        var chosen = new HashSet<long>();
        while (chosen.Count < toChange)
        {
            chosen.Add(random.NextInt64(totalRecords));
        }
        var record = new byte[RecordSize];
        foreach (var group in chosen.GroupBy(r => r / recordsPerFile).OrderBy(g => g.Key))
        {
            var stream = new FileStream(files[(int)group.Key], FileMode.Open, FileAccess.Write);
            await using (stream)
            {
                foreach (var r in group.Order())
                {
                    random.NextBytes(record);
                    stream.Position = r % recordsPerFile * RecordSize;
                    await stream.WriteAsync(record, cancellationToken);
                }
            }
        }
        return toChange * RecordSize;
    }

    private static async Task<(SnapshotInfo Received, long Bytes)> TransferAsync(
        Volume source, Volume target, SnapshotInfo? sourceBase, SnapshotInfo? targetBase, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        // As the replicator's native route pipes it: send into a Pipe with backpressure, receive from it.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 16L << 20, resumeWriterThreshold: 8L << 20, minimumSegmentSize: 1 << 20));
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

    private static async Task RawPipelineAsync(string baseSnapshot, string snapshot, string target, CancellationToken cancellationToken)
    {
        // The baseline the issue names, run by sh with the names as positional parameters (never spliced into the script).
        await RunAsync("sh", ["-c", "zfs send -i \"$1\" \"$2\" | zfs receive -F \"$3\"", "sh", baseSnapshot, snapshot, target], cancellationToken);
    }

    /// <summary>Lets both pools finish earlier work (dirty data, frees): a probe snapshot forces a transaction group sync.</summary>
    private static async Task SettleAsync(ZfsVolume source, ZfsVolume target, CancellationToken cancellationToken)
    {
        foreach (var volume in new[] { source, target })
        {
            var probe = TemporarySnapshot.NewName();
            await volume.CreateSnapshotAsync(probe, cancellationToken: cancellationToken);
            await volume.DeleteSnapshotAsync(probe, cancellationToken);
        }
        await Task.Delay(500, cancellationToken);
    }

    private static async Task RunAsync(string program, string[] arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
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
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {await errors}");
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
