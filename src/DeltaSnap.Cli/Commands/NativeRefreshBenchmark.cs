// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Serialization.Metadata;
using DeltaSnap.Cli.Output;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// The paired harness of the native refresh benchmarks (<see cref="ZfsRefreshBenchmark"/>,
/// <see cref="BtrfsRefreshBenchmark"/>): a source volume of <see cref="Size"/> bytes in files of
/// <see cref="FileSize"/>, replicated in full to a target; then for each of <see cref="ChangedPercents"/> that share
/// of the data rewritten in place in pieces of <see cref="ChangeSize"/> at random and snapshotted, and the
/// incremental moved <see cref="Runs"/> times by each of the backend's routes (the raw shell pipeline, DeltaSnap's
/// transfer, a whole refresh, …), in the order <see cref="RouteOrder"/> gives each run, every run from the same
/// state. Each backend says how to make the volumes, run a route and reset between runs and cases, and what its
/// result holds; the harness times the routes and pairs them.
/// </summary>
/// <typeparam name="TResult">One measured case, as the backend reports it.</typeparam>
public abstract class NativeRefreshBenchmark<TResult>
{
    /// <summary>The route every other route is compared with: the backend's own shell pipeline.</summary>
    protected const string RawRoute = "raw";

    /// <summary>DeltaSnap's send → pipe → checked receive, as the replicator's native route moves a snapshot.</summary>
    protected const string DeltaSnapRoute = "deltasnap";

    /// <summary>A whole <see cref="Replicator"/> refresh of the snapshot.</summary>
    protected const string RefreshRoute = "refresh";

    /// <summary>The data size.</summary>
    public long Size { get; init; } = 1L << 30;

    /// <summary>The changes measured, in percent of <see cref="Size"/>.</summary>
    public IReadOnlyList<double> ChangedPercents { get; init; } = [1, 10];

    /// <summary>Measured runs per case and route.</summary>
    public int Runs { get; init; } = 5;

    /// <summary>The size of each file of the data.</summary>
    protected abstract int FileSize { get; }

    /// <summary>The size of each piece of a file rewritten for a change (the backend's record or block).</summary>
    protected abstract int ChangeSize { get; }

    /// <summary>What a rewritten piece is called in the log ("records", "blocks").</summary>
    protected abstract string ChangeUnit { get; }

    /// <summary>Every route, <see cref="RawRoute"/> among them.</summary>
    protected abstract IReadOnlyList<string> Routes { get; }

    /// <summary>Runs the benchmark, writing progress to <paramref name="log"/>.</summary>
    public async Task<IReadOnlyList<TResult>> RunAsync(TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        var id = "dsbench-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var (source, target) = await CreateVolumesAsync(id, cancellationToken);
            var random = new Random(20260101);
            var stopwatch = Stopwatch.StartNew();
            var files = await WriteDataAsync(await source.GetPathAsync(null, cancellationToken), random, cancellationToken);
            await log.WriteLineAsync($"wrote {Size >> 20} MiB in {files.Count} files in {stopwatch.Elapsed.TotalSeconds:F1} s");

            var baseSnapshot = await source.CreateSnapshotAsync("base", cancellationToken: cancellationToken);
            stopwatch.Restart();
            var (baseOnTarget, fullBytes) = await TransferAsync(source, target, null, null, baseSnapshot, cancellationToken);
            await AfterFullTransferAsync(baseOnTarget, cancellationToken);
            await log.WriteLineAsync($"full send of the base: {fullBytes >> 20} MiB in {stopwatch.Elapsed.TotalSeconds:F2} s");

            var results = new List<TResult>();
            foreach (var percent in ChangedPercents)
            {
                var changed = await ChangeAsync(files, percent, random, cancellationToken);
                var snapshot = await source.CreateSnapshotAsync($"changed-{percent:0.##}pct".Replace('.', '_'), cancellationToken: cancellationToken);
                await log.WriteLineAsync($"{percent}% changed: {changed >> 20} MiB rewritten in {ChangeSize >> 10} KiB {ChangeUnit}");

                var times = Routes.ToDictionary(r => r, _ => new List<double>());
                long streamBytes = 0;
                var width = Routes.Max(r => r.Length);
                for (var run = 0; run < Runs; run++)
                {
                    foreach (var route in RouteOrder(run))
                    {
                        await BeforeRunAsync(cancellationToken);
                        stopwatch.Restart();
                        var bytes = await RunRouteAsync(route, new RouteCase(baseSnapshot, baseOnTarget, snapshot), cancellationToken);
                        var seconds = stopwatch.Elapsed.TotalSeconds;
                        if (route == DeltaSnapRoute)
                        {
                            streamBytes = bytes;
                        }
                        times[route].Add(seconds);
                        await log.WriteLineAsync($"  run {run + 1} {route.PadRight(width)} {seconds:F3} s");
                        await AfterRunAsync(snapshot, baseOnTarget, cancellationToken);
                    }
                }
                results.Add(CreateResult(percent, streamBytes, new RouteTimes(times)));
                (baseSnapshot, baseOnTarget) = await NextCaseAsync(baseSnapshot, baseOnTarget, snapshot, cancellationToken);
            }
            return results;
        }
        finally
        {
            await DeleteVolumesAsync(CancellationToken.None);
        }
    }

    /// <summary>The median of <paramref name="values"/>.</summary>
    protected static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Moves one snapshot as the replicator's native route pipes it (<see cref="NativeStreamPipe"/>); returns the received snapshot and the stream's size.</summary>
    protected static async Task<(SnapshotInfo Received, long Bytes)> TransferAsync(
        Volume source, Volume target, SnapshotInfo? sourceBase, SnapshotInfo? targetBase, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        var result = await NativeStreamPipe.TransferAsync(source, target, sourceBase, targetBase, snapshot, cancellationToken);
        return (result.Received, result.Bytes);
    }

    /// <summary>Runs a program with an argument list (never a shell string) and throws when it fails.</summary>
    protected static async Task RunProgramAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
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

    /// <summary>Makes the source and target volumes (named after <paramref name="id"/>), empty.</summary>
    protected abstract Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, CancellationToken cancellationToken);

    /// <summary>Deletes whatever <see cref="CreateVolumesAsync"/> made (also after failures; never throws for what is already gone).</summary>
    protected abstract Task DeleteVolumesAsync(CancellationToken cancellationToken);

    /// <summary>After the full send of the base: whatever the target needs before the cases (promotion, a sync).</summary>
    protected abstract Task AfterFullTransferAsync(SnapshotInfo baseOnTarget, CancellationToken cancellationToken);

    /// <summary>The order of the routes in run <paramref name="run"/> (rotating, so that no route always goes first).</summary>
    protected abstract IEnumerable<string> RouteOrder(int run);

    /// <summary>Before each timed route: lets the backend settle earlier work, untimed.</summary>
    protected abstract Task BeforeRunAsync(CancellationToken cancellationToken);

    /// <summary>Runs one route (timed); returns the stream's size where the route knows it, else 0.</summary>
    protected abstract Task<long> RunRouteAsync(string route, RouteCase routeCase, CancellationToken cancellationToken);

    /// <summary>After each timed route: brings the target back to the state before it, untimed.</summary>
    protected abstract Task AfterRunAsync(SnapshotInfo snapshot, SnapshotInfo baseOnTarget, CancellationToken cancellationToken);

    /// <summary>After a case: returns the base (source and target) the next case starts from.</summary>
    protected abstract Task<(SnapshotInfo Base, SnapshotInfo BaseOnTarget)> NextCaseAsync(
        SnapshotInfo baseSnapshot, SnapshotInfo baseOnTarget, SnapshotInfo snapshot, CancellationToken cancellationToken);

    /// <summary>Makes the backend's result of one case from the routes' times.</summary>
    protected abstract TResult CreateResult(double percent, long streamBytes, RouteTimes times);

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
        var piecesPerFile = FileSize / ChangeSize;
        var totalPieces = Size / ChangeSize;
        var toChange = (long)Math.Round(totalPieces * percent / 100);
        var chosen = new HashSet<long>();
        while (chosen.Count < toChange)
        {
            chosen.Add(random.NextInt64(totalPieces));
        }
        var piece = new byte[ChangeSize];
        foreach (var group in chosen.GroupBy(p => p / piecesPerFile).OrderBy(g => g.Key))
        {
            var stream = new FileStream(files[(int)group.Key], FileMode.Open, FileAccess.Write);
            await using (stream)
            {
                foreach (var p in group.Order())
                {
                    random.NextBytes(piece);
                    stream.Position = p % piecesPerFile * ChangeSize;
                    await stream.WriteAsync(piece, cancellationToken);
                }
            }
        }
        return toChange * ChangeSize;
    }

    /// <summary>The snapshots one timed route moves: <see cref="Snapshot"/>, incremental from <see cref="Base"/> (<see cref="BaseOnTarget"/> on the target).</summary>
    /// <param name="Base">The source's base snapshot.</param>
    /// <param name="BaseOnTarget">The base as the target has it.</param>
    /// <param name="Snapshot">The snapshot to move.</param>
    protected sealed record RouteCase(SnapshotInfo Base, SnapshotInfo BaseOnTarget, SnapshotInfo Snapshot);

    /// <summary>The times of one case, per route and run (in run order).</summary>
    protected sealed class RouteTimes(IReadOnlyDictionary<string, List<double>> times)
    {
        /// <summary>The times of <paramref name="route"/>, in run order.</summary>
        public IReadOnlyList<double> this[string route] => times[route];

        /// <summary>The median time of <paramref name="route"/>.</summary>
        public double Median(string route) => NativeRefreshBenchmark<TResult>.Median(times[route]);

        /// <summary>The fastest run of <paramref name="route"/> (least disturbed by other load on the machine).</summary>
        public double Fastest(string route) => times[route].Min();

        /// <summary>The median over runs of <paramref name="route"/>'s time over the raw pipeline's in the same run (back to back, so slow drifts of other load cancel).</summary>
        public double PairedRatio(string route) =>
            NativeRefreshBenchmark<TResult>.Median(times[route].Select((t, i) => t / times[RawRoute][i]).ToList());
    }
}

/// <summary>
/// The <c>bench</c> command of a native refresh benchmark (<c>deltasnap zfs bench</c>, <c>deltasnap btrfs bench</c>):
/// the options every backend shares (<c>--size</c>, <c>--changed</c>, <c>--runs</c>, <c>--json</c>) next to the
/// backend's own, their checks, and the report as JSON or as a table.
/// </summary>
internal static class NativeRefreshBenchmarkCommand
{
    /// <summary>Creates the command with <paramref name="backendOptions"/> first and the shared options after them.</summary>
    /// <param name="description">The command's description.</param>
    /// <param name="backendOptions">The backend's own options (where the volumes go).</param>
    /// <param name="create">Makes the benchmark from the parsed command line and the shared values.</param>
    /// <param name="jsonTypeInfo">The results' JSON.</param>
    /// <param name="header">The table's first lines (what the numbers are, then the column names).</param>
    /// <param name="row">One case as a table row.</param>
    public static Command Create<TResult>(
        string description,
        IReadOnlyList<Option> backendOptions,
        Func<ParseResult, BenchmarkSettings, NativeRefreshBenchmark<TResult>> create,
        JsonTypeInfo<IReadOnlyList<TResult>> jsonTypeInfo,
        IReadOnlyList<string> header,
        Func<TResult, string> row)
    {
        var size = new Option<string>("--size") { Description = "The data size (default 1G).", HelpName = "SIZE" };
        var changed = new Option<double[]>("--changed")
        {
            Description = "A changed share of the data in percent; repeat for several cases (default 1 and 10).",
            HelpName = "PERCENT",
            AllowMultipleArgumentsPerToken = true,
        };
        var runs = new Option<int?>("--runs") { Description = "Measured runs per case and route (default 5).", HelpName = "N" };
        var json = CommonOptions.Json("Print the results as JSON.");
        var bench = new Command("bench", description);
        foreach (var option in backendOptions)
        {
            bench.Options.Add(option);
        }
        bench.Options.Add(size);
        bench.Options.Add(changed);
        bench.Options.Add(runs);
        bench.Options.Add(json);
        CommandRunner.SetHandler(bench, async (parseResult, output, cancellationToken) =>
        {
            var sizeText = parseResult.GetValue(size);
            long bytes = 1L << 30;
            if (sizeText is not null && (!ByteSize.TryParse(sizeText, out bytes) || bytes < (16 << 20)))
            {
                throw new UsageException($"--size {sizeText}: expected a size of at least 16M, such as 256M or 1G.");
            }
            var percents = parseResult.GetValue(changed) is { Length: > 0 } given ? given : [1.0, 10.0];
            if (percents.Any(p => p is <= 0 or > 100))
            {
                throw new UsageException("--changed takes percentages above 0 and at most 100.");
            }
            var runCount = parseResult.GetValue(runs) ?? 5;
            if (runCount < 1)
            {
                throw new UsageException("--runs must be at least 1.");
            }
            var benchmark = create(parseResult, new BenchmarkSettings(bytes, percents, runCount));
            var asJson = parseResult.GetValue(json);
            var results = await benchmark.RunAsync(asJson ? output.Error : output.Out, cancellationToken).ConfigureAwait(false);
            if (asJson)
            {
                await JsonOutput.WriteAsync(output, results, jsonTypeInfo, cancellationToken).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            foreach (var line in header)
            {
                await output.Out.WriteLineAsync(line).ConfigureAwait(false);
            }
            foreach (var r in results)
            {
                await output.Out.WriteLineAsync(row(r)).ConfigureAwait(false);
            }
            return ExitCodes.Success;
        });
        return bench;
    }

    /// <summary>The shared options' values.</summary>
    /// <param name="Size">The data size.</param>
    /// <param name="ChangedPercents">The changes measured, in percent.</param>
    /// <param name="Runs">Measured runs per case and route.</param>
    public readonly record struct BenchmarkSettings(long Size, IReadOnlyList<double> ChangedPercents, int Runs);
}
