// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using DeltaSnap.Zfs;

namespace DeltaSnap.RefreshBenchmarks;

/// <summary>One measured case of <see cref="ZfsRefreshBenchmark"/> (times in seconds: medians, and fastest runs).</summary>
/// <param name="ChangedPercent">How much of the data changed between the base and the sent snapshot.</param>
/// <param name="StreamBytes">The size of the incremental stream.</param>
/// <param name="RawSeconds">Median time of <c>zfs send -i BASE SNAP | zfs receive -F TARGET</c>.</param>
/// <param name="RawHeldSeconds">Median time of the same pipe with the holds and release a script would add for the same protection (<see cref="NativePipelines.ZfsSendReceiveHeld"/>).</param>
/// <param name="DeltaSnapSeconds">Median time of DeltaSnap's send → pipe → checked receive, as the native route moves a snapshot (base protection included).</param>
/// <param name="UnprotectedSeconds">The same without base protection (no holds).</param>
/// <param name="RefreshSeconds">Median time of a whole <see cref="Replicator"/> refresh of the snapshot (lineages, rollback of the target, transfer, promotion).</param>
/// <param name="RawFastestSeconds">Fastest run of the raw pipeline (least disturbed by other load on the machine).</param>
/// <param name="DeltaSnapFastestSeconds">Fastest run of DeltaSnap's transfer.</param>
/// <param name="PairedTransferRatio">Median over runs of DeltaSnap's transfer time over the raw pipeline's in the same run.</param>
/// <param name="PairedUnprotectedRatio">Median over runs of the unprotected transfer's time over the raw pipeline's.</param>
/// <param name="PairedHeldRatio">Median over runs of DeltaSnap's transfer (with holds) over the raw pipeline with the same holds.</param>
/// <param name="PairedRefreshRatio">Median over runs of the whole refresh's time over the raw pipeline's.</param>
public sealed record ZfsRefreshBenchmarkResult(
    double ChangedPercent,
    long StreamBytes,
    double RawSeconds,
    double RawHeldSeconds,
    double DeltaSnapSeconds,
    double UnprotectedSeconds,
    double RefreshSeconds,
    double RawFastestSeconds,
    double DeltaSnapFastestSeconds,
    double PairedTransferRatio,
    double PairedUnprotectedRatio,
    double PairedHeldRatio,
    double PairedRefreshRatio);

/// <summary>
/// Measures DeltaSnap's ZFS send/receive path against a raw <c>zfs send -i BASE SNAP | zfs receive -F TARGET</c>
/// pipeline on the same data in the same run (the harness is <see cref="NativeRefreshBenchmark{TResult}"/>): a dataset
/// in 4 MiB files under <see cref="SourceParent"/>, replicated in full under <see cref="TargetParent"/>; changes in
/// 128 KiB records. Five routes, rotating: the raw pipeline, the raw pipeline with the same holds as a script would
/// take them, DeltaSnap's transfer with base protection (<see cref="ZfsBaseProtection.Hold"/>), the same without
/// (<see cref="ZfsBaseProtection.None"/>), and a whole refresh. Before each run both pools sync (a probe snapshot forces a transaction group);
/// after it the target goes back to the base; each case starts from the base again.
/// </summary>
public sealed class ZfsRefreshBenchmark : NativeRefreshBenchmark<ZfsRefreshBenchmarkResult>
{
    private const string UnprotectedRoute = "unprotected";
    private const string RawHeldRoute = "raw-held";
    private static readonly string[] AllRoutes = [RawRoute, RawHeldRoute, DeltaSnapRoute, UnprotectedRoute, RefreshRoute];

    private ZfsDriver? _driverA;
    private ZfsDriver? _driverB;
    private ZfsDriver? _plainA;
    private ZfsDriver? _plainB;
    private ZfsVolume? _source;
    private ZfsVolume? _target;
    private ZfsVolume? _plainSource;
    private ZfsVolume? _plainTarget;

    /// <summary>The dataset under which the source dataset is made (and destroyed after).</summary>
    public required string SourceParent { get; init; }

    /// <summary>The dataset under which the target dataset is made (another pool, typically).</summary>
    public required string TargetParent { get; init; }

    /// <inheritdoc />
    protected override int FileSize => 4 << 20;

    /// <inheritdoc />
    protected override int ChangeSize => 128 << 10;

    /// <inheritdoc />
    protected override string ChangeUnit => "records";

    /// <inheritdoc />
    protected override IReadOnlyList<string> Routes => AllRoutes;

    /// <inheritdoc />
    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, CancellationToken cancellationToken)
    {
        _driverA = await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = SourceParent }, cancellationToken: cancellationToken);
        _driverB = await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = TargetParent }, cancellationToken: cancellationToken);
        var unprotectedOptions = new ZfsDriverOptions { BaseProtection = ZfsBaseProtection.None };
        _plainA = await ZfsDriver.OpenAsync(unprotectedOptions with { Root = SourceParent }, cancellationToken: cancellationToken);
        _plainB = await ZfsDriver.OpenAsync(unprotectedOptions with { Root = TargetParent }, cancellationToken: cancellationToken);
        _source = (ZfsVolume)await _driverA.CreateVolumeAsync(id, new VolumeCreateOptions { Kind = VolumeKind.Filesystem }, cancellationToken);
        _target = (ZfsVolume)await _driverB.CreateVolumeAsync(id, new VolumeCreateOptions { Kind = VolumeKind.Filesystem }, cancellationToken);
        return (_source, _target);
    }

    /// <inheritdoc />
    protected override async Task DeleteVolumesAsync(CancellationToken cancellationToken)
    {
        foreach (var (driver, volume) in new[] { (_driverB, (Volume?)_target), (_driverA, _source) })
        {
            if (driver is not null && volume is not null && await driver.VolumeExistsAsync(volume.Name, cancellationToken))
            {
                await driver.DeleteVolumeAsync(volume.Name, cancellationToken);
            }
        }
        foreach (var driver in new[] { _driverA, _driverB, _plainA, _plainB })
        {
            if (driver is not null)
            {
                await driver.DisposeAsync();
            }
        }
    }

    /// <inheritdoc />
    protected override async Task AfterFullTransferAsync(SnapshotInfo baseOnTarget, CancellationToken cancellationToken)
    {
        await Target.PromoteAsync(baseOnTarget.Name, cancellationToken);
        _plainSource = (ZfsVolume)await _plainA!.OpenVolumeAsync(Source.Name, cancellationToken);
        _plainTarget = (ZfsVolume)await _plainB!.OpenVolumeAsync(Target.Name, cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task BeforeRunAsync(CancellationToken cancellationToken)
    {
        // Lets both pools finish earlier work (dirty data, frees): a probe snapshot forces a transaction group sync.
        foreach (var volume in new[] { Source, Target })
        {
            var probe = TemporarySnapshot.NewName();
            await volume.CreateSnapshotAsync(probe, cancellationToken: cancellationToken);
            await volume.DeleteSnapshotAsync(probe, cancellationToken);
        }
        await Task.Delay(500, cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task<long> RunRouteAsync(string route, RouteCase routeCase, CancellationToken cancellationToken)
    {
        switch (route)
        {
            case RawRoute:
                // The baseline the issue names, run by sh with the names as positional parameters (never spliced into the script).
                await RunProgramAsync("sh",
                    NativePipelines.ZfsSendReceive($"{Source.Dataset}@{routeCase.Base.Name}", $"{Source.Dataset}@{routeCase.Snapshot.Name}", Target.Dataset),
                    cancellationToken);
                return 0;
            case RawHeldRoute:
                await RunProgramAsync("sh",
                    NativePipelines.ZfsSendReceiveHeld(_driverA!.Options.HoldTag, $"{Source.Dataset}@{routeCase.Base.Name}", $"{Source.Dataset}@{routeCase.Snapshot.Name}",
                        Target.Dataset, $"{Target.Dataset}@{routeCase.BaseOnTarget.Name}"),
                    cancellationToken);
                return 0;
            case DeltaSnapRoute:
                return (await TransferAsync(Source, Target, routeCase.Base, routeCase.BaseOnTarget, routeCase.Snapshot, cancellationToken)).Bytes;
            case UnprotectedRoute:
                return (await TransferAsync(_plainSource!, _plainTarget!, routeCase.Base, routeCase.BaseOnTarget, routeCase.Snapshot, cancellationToken)).Bytes;
            default:
                await RefreshSnapshotsAsync(cancellationToken);
                return 0;
        }
    }

    /// <inheritdoc />
    protected override ZfsRefreshBenchmarkResult CreateResult(double percent, long streamBytes, RouteTimes times) => new(
        percent, streamBytes, times.Median(RawRoute), times.Median(RawHeldRoute), times.Median(DeltaSnapRoute), times.Median(UnprotectedRoute), times.Median(RefreshRoute),
        times.Fastest(RawRoute), times.Fastest(DeltaSnapRoute),
        times.PairedRatio(DeltaSnapRoute), times.PairedRatio(UnprotectedRoute), times.PairedRatio(DeltaSnapRoute, RawHeldRoute), times.PairedRatio(RefreshRoute));

    private ZfsVolume Source => _source ?? throw new InvalidOperationException("The volumes are not made yet.");

    private ZfsVolume Target => _target ?? throw new InvalidOperationException("The volumes are not made yet.");
}
