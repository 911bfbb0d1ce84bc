// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using DeltaSnap.Ceph;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.RefreshBenchmarks;

/// <summary>One measured case of <see cref="RbdRefreshBenchmark"/> (times in seconds: medians, and fastest runs).</summary>
/// <param name="ChangedPercent">How much of the image changed between the base and the sent snapshot.</param>
/// <param name="StreamBytes">The size of DeltaSnap's native stream.</param>
/// <param name="RawSeconds">Median time of <c>rbd export-diff --from-snap BASE SRC@SNAP - | rbd import-diff - DST</c>.</param>
/// <param name="DeltaSnapSeconds">Median time of DeltaSnap's send → pipe → checked receive, as the native route moves a snapshot.</param>
/// <param name="RefreshSeconds">Median time of a whole <see cref="Replicator"/> refresh of the snapshot (lineages, transfer, promotion).</param>
/// <param name="RawFastestSeconds">Fastest run of the raw pipeline (least disturbed by other load on the machine).</param>
/// <param name="DeltaSnapFastestSeconds">Fastest run of DeltaSnap's transfer.</param>
/// <param name="RefreshFastestSeconds">Fastest run of the whole refresh.</param>
/// <param name="PairedTransferRatio">Median over runs of DeltaSnap's transfer time over the raw pipeline's in the same run.</param>
/// <param name="PairedRefreshRatio">Median over runs of the whole refresh's time over the raw pipeline's.</param>
public sealed record RbdRefreshBenchmarkResult(
    double ChangedPercent,
    long StreamBytes,
    double RawSeconds,
    double DeltaSnapSeconds,
    double RefreshSeconds,
    double RawFastestSeconds,
    double DeltaSnapFastestSeconds,
    double RefreshFastestSeconds,
    double PairedTransferRatio,
    double PairedRefreshRatio);

/// <summary>
/// Measures DeltaSnap's RBD refresh against a piped <c>rbd export-diff --from-snap BASE SRC@SNAP - | rbd import-diff -
/// DST</c> on the same data in the same run (the harness is <see cref="NativeRefreshBenchmark{TResult}"/>): an image
/// in <see cref="SourcePool"/> filled with random data, copied in full to an image in <see cref="TargetPool"/>;
/// changes in random 64 KiB blocks. Three routes, rotating: the pipe, DeltaSnap's transfer, and a whole refresh.
/// Before each run the cluster gets a second to settle; after it the target goes back to the base (its received
/// snapshot deleted, its image rolled back); each case starts from the base again. Both DeltaSnap and the
/// <c>rbd</c> command connect with <c>CEPH_CONF</c>, <c>CEPH_KEYRING</c> and <c>CEPH_ARGS</c>.
/// </summary>
public sealed class RbdRefreshBenchmark : NativeRefreshBenchmark<RbdRefreshBenchmarkResult>
{
    private static readonly string[] AllRoutes = [RawRoute, DeltaSnapRoute, RefreshRoute];

    private RbdDriver? _sourceDriver;
    private RbdDriver? _targetDriver;
    private RbdVolume? _source;
    private RbdVolume? _target;

    /// <summary>The pool the source image is made in (and deleted from after).</summary>
    public required string SourcePool { get; init; }

    /// <summary>The pool the target image is made in (another pool, typically).</summary>
    public required string TargetPool { get; init; }

    /// <inheritdoc />
    protected override int ChangeSize => 64 << 10;

    /// <inheritdoc />
    protected override string ChangeUnit => "blocks";

    /// <inheritdoc />
    protected override IReadOnlyList<string> Routes => AllRoutes;

    /// <inheritdoc />
    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, CancellationToken cancellationToken)
    {
        // One connection per side, as the pipe's two rbd processes have (and as two clusters would need).
        _sourceDriver = await RbdDriver.ConnectAsync(cancellationToken: cancellationToken);
        _targetDriver = await RbdDriver.ConnectAsync(cancellationToken: cancellationToken);
        _source = (RbdVolume)await _sourceDriver.CreateVolumeAsync($"{SourcePool}/{id}", new VolumeCreateOptions { Size = Size }, cancellationToken);
        _target = (RbdVolume)await _targetDriver.CreateVolumeAsync($"{TargetPool}/{id}", new VolumeCreateOptions { Size = Size }, cancellationToken);
        return (_source, _target);
    }

    /// <inheritdoc />
    protected override async Task DeleteVolumesAsync(CancellationToken cancellationToken)
    {
        foreach (var (driver, volume) in new[] { (_targetDriver, _target), (_sourceDriver, _source) })
        {
            if (driver is not null && volume is not null && await driver.VolumeExistsAsync(volume.Name, cancellationToken))
            {
                await driver.DeleteVolumeAsync(volume.Name, cancellationToken);
            }
        }
        foreach (var driver in new[] { _sourceDriver, _targetDriver })
        {
            if (driver is not null)
            {
                await driver.DisposeAsync();
            }
        }
    }

    /// <inheritdoc />
    protected override Task AfterFullTransferAsync(SnapshotInfo baseOnTarget, CancellationToken cancellationToken) =>
        Target.PromoteAsync(baseOnTarget.Name, cancellationToken);

    /// <inheritdoc />
    protected override Task BeforeRunAsync(CancellationToken cancellationToken) =>
        // Lets the OSD finish earlier work (deferred writes, snapshot trimming) before the clock starts.
        Task.Delay(1000, cancellationToken);

    /// <inheritdoc />
    protected override async Task<long> RunRouteAsync(string route, RouteCase routeCase, CancellationToken cancellationToken)
    {
        switch (route)
        {
            case RawRoute:
                // The baseline the issue names, run by sh with the names as positional parameters (never spliced into the script).
                await RunProgramAsync("sh",
                    NativePipelines.RbdExportImportDiff(routeCase.Base.Name, $"{Source.Name}@{routeCase.Snapshot.Name}", Target.Name),
                    cancellationToken);
                return 0;
            case DeltaSnapRoute:
                return (await TransferAsync(Source, Target, routeCase.Base, routeCase.BaseOnTarget, routeCase.Snapshot, cancellationToken)).Bytes;
            default:
                await RefreshSnapshotsAsync(cancellationToken);
                return 0;
        }
    }

    /// <inheritdoc />
    protected override RbdRefreshBenchmarkResult CreateResult(double percent, long streamBytes, RouteTimes times) => new(
        percent, streamBytes, times.Median(RawRoute), times.Median(DeltaSnapRoute), times.Median(RefreshRoute),
        times.Fastest(RawRoute), times.Fastest(DeltaSnapRoute), times.Fastest(RefreshRoute),
        times.PairedRatio(DeltaSnapRoute), times.PairedRatio(RefreshRoute));

    private RbdVolume Source => _source ?? throw new InvalidOperationException("The volumes are not made yet.");

    private RbdVolume Target => _target ?? throw new InvalidOperationException("The volumes are not made yet.");
}
