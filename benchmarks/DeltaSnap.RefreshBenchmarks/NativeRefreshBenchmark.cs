// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using System.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.RefreshBenchmarks;

/// <summary>
/// The paired harness of the native refresh benchmarks (<see cref="ZfsRefreshBenchmark"/>,
/// <see cref="BtrfsRefreshBenchmark"/>, <see cref="RbdRefreshBenchmark"/>): a source volume of <see cref="Size"/>
/// bytes of random data (in files of <see cref="FileSize"/> on a file system volume, written through the device on a
/// block volume), replicated in full to a target; then for each of <see cref="ChangedPercents"/> that share
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

    private Volume? _source;
    private Volume? _target;

    /// <summary>The data size.</summary>
    public long Size { get; init; } = 1L << 30;

    /// <summary>The changes measured, in percent of <see cref="Size"/>.</summary>
    public IReadOnlyList<double> ChangedPercents { get; init; } = [1, 10];

    /// <summary>Measured runs per case and route.</summary>
    public int Runs { get; init; } = 5;

    /// <summary>The size of each file of the data (file system volumes).</summary>
    protected virtual int FileSize => 4 << 20;

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
            (_source, _target) = (source, target);
            var random = new Random(20260101);
            var stopwatch = Stopwatch.StartNew();
            var data = await VolumeData.WriteAsync(source, Size, FileSize, random, cancellationToken);
            await LogAsync(log, $"wrote {Size >> 20} MiB ({data}) in {stopwatch.Elapsed.TotalSeconds:F1} s");

            var baseSnapshot = await source.CreateSnapshotAsync("base", cancellationToken: cancellationToken);
            stopwatch.Restart();
            var (baseOnTarget, fullBytes) = await TransferAsync(source, target, null, null, baseSnapshot, cancellationToken);
            await AfterFullTransferAsync(baseOnTarget, cancellationToken);
            await LogAsync(log, $"full send of the base: {fullBytes >> 20} MiB in {stopwatch.Elapsed.TotalSeconds:F2} s");

            var results = new List<TResult>();
            foreach (var percent in ChangedPercents)
            {
                var changed = await data.ChangeAsync(ChangePieces(percent, random), ChangeSize, random, cancellationToken);
                var snapshot = await source.CreateSnapshotAsync($"changed-{percent:0.##}pct".Replace('.', '_'), cancellationToken: cancellationToken);
                await LogAsync(log, $"{percent}% changed: {changed >> 20} MiB rewritten in {ChangeSize >> 10} KiB {ChangeUnit}");

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
                        await LogAsync(log, $"  run {run + 1} {route.PadRight(width)} {seconds:F3} s");
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

    // Progress goes out line by line: the CLI's standard output is buffered, and a run takes minutes.
    private static async Task LogAsync(TextWriter log, string line)
    {
        await log.WriteLineAsync(line);
        await log.FlushAsync();
    }

    /// <summary>The median of <paramref name="values"/>.</summary>
    protected static double Median(IReadOnlyCollection<double> values) => RunStatistics.Median(values);

    /// <summary>Moves one snapshot as the replicator's native route pipes it (<see cref="NativeStreamPipe"/>); returns the received snapshot and the stream's size.</summary>
    protected static async Task<(SnapshotInfo Received, long Bytes)> TransferAsync(
        Volume source, Volume target, SnapshotInfo? sourceBase, SnapshotInfo? targetBase, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        var result = await NativeStreamPipe.TransferAsync(source, target, sourceBase, targetBase, snapshot, cancellationToken);
        return (result.Received, result.Bytes);
    }

    /// <summary>
    /// Runs a program with an argument list (never a shell string) through the shared external-command runner (the
    /// one the backend packages start their commands with); throws <see cref="BackendCommandException"/> when it fails.
    /// </summary>
    protected static async Task RunProgramAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        await new ExternalCommandRunner(program, NullLogger.Instance).RunAsync(arguments, cancellationToken);

    /// <summary>Makes the source and target volumes (named after <paramref name="id"/>), empty.</summary>
    protected abstract Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, CancellationToken cancellationToken);

    /// <summary>Deletes whatever <see cref="CreateVolumesAsync"/> made (also after failures; never throws for what is already gone).</summary>
    protected abstract Task DeleteVolumesAsync(CancellationToken cancellationToken);

    /// <summary>After the full send of the base: whatever the target needs before the cases (promotion, a sync).</summary>
    protected abstract Task AfterFullTransferAsync(SnapshotInfo baseOnTarget, CancellationToken cancellationToken);

    /// <summary>The order of the routes in run <paramref name="run"/>: by default <see cref="Routes"/> rotated by one each run, so that no route always goes first.</summary>
    protected virtual IEnumerable<string> RouteOrder(int run) => Routes.Skip(run % Routes.Count).Concat(Routes.Take(run % Routes.Count));

    /// <summary>Before each timed route: lets the backend settle earlier work, untimed.</summary>
    protected abstract Task BeforeRunAsync(CancellationToken cancellationToken);

    /// <summary>Runs one route (timed); returns the stream's size where the route knows it, else 0.</summary>
    protected abstract Task<long> RunRouteAsync(string route, RouteCase routeCase, CancellationToken cancellationToken);

    /// <summary>After each timed route: brings the target back to the state before it, untimed. By default the received snapshot goes and the target rolls back to the base.</summary>
    protected virtual async Task AfterRunAsync(SnapshotInfo snapshot, SnapshotInfo baseOnTarget, CancellationToken cancellationToken)
    {
        await TargetVolume.DeleteSnapshotAsync(snapshot.Name, cancellationToken);
        await TargetVolume.RollbackAsync(baseOnTarget.Name, cancellationToken);
    }

    /// <summary>After a case: returns the base (source and target) the next case starts from. By default the case's snapshot goes and the source rolls back, so every case starts from the base.</summary>
    protected virtual async Task<(SnapshotInfo Base, SnapshotInfo BaseOnTarget)> NextCaseAsync(
        SnapshotInfo baseSnapshot, SnapshotInfo baseOnTarget, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        await SourceVolume.DeleteSnapshotAsync(snapshot.Name, cancellationToken);
        await SourceVolume.RollbackAsync(baseSnapshot.Name, cancellationToken);
        return (baseSnapshot, baseOnTarget);
    }

    /// <summary>The <see cref="RefreshRoute"/>: a whole replicator refresh of the source's snapshots to the target.</summary>
    protected Task<RefreshResult> RefreshSnapshotsAsync(CancellationToken cancellationToken) =>
        new Replicator().RefreshAsync(SourceVolume, TargetVolume, new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } }, cancellationToken: cancellationToken);

    private Volume SourceVolume => _source ?? throw new InvalidOperationException("The volumes are not made yet.");

    private Volume TargetVolume => _target ?? throw new InvalidOperationException("The volumes are not made yet.");

    /// <summary>Makes the backend's result of one case from the routes' times.</summary>
    protected abstract TResult CreateResult(double percent, long streamBytes, RouteTimes times);

    // The pieces of ChangeSize bytes to rewrite for a change of `percent`, chosen at random, in order.
    private List<long> ChangePieces(double percent, Random random) => VolumeData.PickPieces(Size / ChangeSize, percent, random);

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
        public double PairedRatio(string route) => PairedRatio(route, RawRoute);

        /// <summary>The median over runs of <paramref name="route"/>'s time over <paramref name="baseline"/>'s in the same run.</summary>
        public double PairedRatio(string route, string baseline) =>
            NativeRefreshBenchmark<TResult>.Median(times[route].Select((t, i) => t / times[baseline][i]).ToList());
    }
}
