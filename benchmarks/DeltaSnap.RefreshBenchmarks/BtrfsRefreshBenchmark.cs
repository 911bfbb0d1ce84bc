// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using DeltaSnap.Btrfs;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.RefreshBenchmarks;

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
/// pipeline on the same data in the same run (the harness is <see cref="NativeRefreshBenchmark{TResult}"/>): a volume
/// in 16 MiB files, a base snapshot on both sides, changes overwritten in place in 64 KiB blocks. Three routes, the
/// raw pipeline and DeltaSnap's transfer alternating which goes first and the whole refresh last, each timed up to a
/// sync of the target file system (data on disk, not just in the page cache); the received snapshot is deleted and
/// deleted subvolumes cleaned between runs, and each case is incremental from the one before.
/// </summary>
#pragma warning disable CA1001 // The drivers live for one RunAsync, which always ends in DeleteVolumesAsync: that disposes them.
public sealed class BtrfsRefreshBenchmark : NativeRefreshBenchmark<BtrfsRefreshBenchmarkResult>
#pragma warning restore CA1001
{
    private static readonly string[] AllRoutes = [RawRoute, DeltaSnapRoute, RefreshRoute];
    private static readonly string[] DeltaSnapFirst = [DeltaSnapRoute, RawRoute, RefreshRoute];

    private string? _rootA;
    private string? _rootB;
    private BtrfsDriver? _driverA;
    private BtrfsDriver? _driverB;
    private BtrfsVolume? _source;
    private BtrfsVolume? _target;

    /// <summary>Creates the benchmark with its default of three runs per case and route.</summary>
    public BtrfsRefreshBenchmark() => Runs = 3;

    /// <summary>A directory on the source Btrfs file system (a work directory is made in it and removed after).</summary>
    public required string SourceDirectory { get; init; }

    /// <summary>A directory on the target Btrfs file system.</summary>
    public required string TargetDirectory { get; init; }

    /// <inheritdoc />
    protected override int FileSize => 16 << 20;

    /// <inheritdoc />
    protected override int ChangeSize => 64 << 10;

    /// <inheritdoc />
    protected override string ChangeUnit => "blocks";

    /// <inheritdoc />
    protected override IReadOnlyList<string> Routes => AllRoutes;

    /// <inheritdoc />
    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, CancellationToken cancellationToken)
    {
        _rootA = Path.Combine(SourceDirectory, id);
        _rootB = Path.Combine(TargetDirectory, id);
        Directory.CreateDirectory(_rootA);
        Directory.CreateDirectory(_rootB);
        _driverA = new BtrfsDriver(_rootA);
        _driverB = new BtrfsDriver(_rootB);
        _source = (BtrfsVolume)await _driverA.CreateVolumeAsync("data", new VolumeCreateOptions { Kind = VolumeKind.Filesystem }, cancellationToken);
        _target = (BtrfsVolume)await _driverB.CreateVolumeAsync("data", new VolumeCreateOptions { Kind = VolumeKind.Filesystem }, cancellationToken);
        return (_source, _target);
    }

    /// <inheritdoc />
    protected override async Task DeleteVolumesAsync(CancellationToken cancellationToken)
    {
        foreach (var (driver, root) in new[] { (_driverA, _rootA), (_driverB, _rootB) })
        {
            if (driver is not null)
            {
                if (await driver.VolumeExistsAsync("data", cancellationToken))
                {
                    await driver.DeleteVolumeAsync("data", cancellationToken);
                }
                await driver.DisposeAsync();
            }
            if (root is not null && Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    /// <inheritdoc />
    protected override Task AfterFullTransferAsync(SnapshotInfo baseOnTarget, CancellationToken cancellationToken) => SyncAsync(cancellationToken);

    /// <inheritdoc />
    protected override IEnumerable<string> RouteOrder(int run) => run % 2 == 0 ? AllRoutes : DeltaSnapFirst;

    /// <inheritdoc />
    protected override Task BeforeRunAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    protected override async Task<long> RunRouteAsync(string route, RouteCase routeCase, CancellationToken cancellationToken)
    {
        long bytes = 0;
        switch (route)
        {
            case RawRoute:
                // The baseline the issue names, run by sh with the paths as positional parameters (never spliced into the script).
                await RunProgramAsync("sh",
                    NativePipelines.BtrfsSendReceive(
                        await Source.GetPathAsync(routeCase.Base.Name, cancellationToken), await Source.GetPathAsync(routeCase.Snapshot.Name, cancellationToken),
                        Target.SnapshotDirectory),
                    cancellationToken);
                break;
            case DeltaSnapRoute:
                bytes = (await TransferAsync(Source, Target, routeCase.Base, routeCase.BaseOnTarget, routeCase.Snapshot, cancellationToken)).Bytes;
                break;
            default:
                await RefreshSnapshotsAsync(cancellationToken);
                break;
        }
        await RunProgramAsync("btrfs", ["filesystem", "sync", TargetDirectory], cancellationToken);
        return bytes;
    }

    /// <inheritdoc />
    protected override async Task AfterRunAsync(SnapshotInfo snapshot, SnapshotInfo baseOnTarget, CancellationToken cancellationToken)
    {
        await Target.DeleteSnapshotAsync(snapshot.Name, cancellationToken);
        await SyncAsync(cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task<(SnapshotInfo Base, SnapshotInfo BaseOnTarget)> NextCaseAsync(
        SnapshotInfo baseSnapshot, SnapshotInfo baseOnTarget, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        // The next case is incremental from this one.
        var (received, _) = await TransferAsync(Source, Target, baseSnapshot, baseOnTarget, snapshot, cancellationToken);
        await SyncAsync(cancellationToken);
        return (snapshot, received);
    }

    /// <inheritdoc />
    protected override BtrfsRefreshBenchmarkResult CreateResult(double percent, long streamBytes, RouteTimes times) => new(
        percent, streamBytes, times.Median(RawRoute), times.Median(DeltaSnapRoute), times.Median(RefreshRoute),
        times.Fastest(RawRoute), times.Fastest(DeltaSnapRoute), times.Fastest(RefreshRoute),
        times.PairedRatio(DeltaSnapRoute), times.PairedRatio(RefreshRoute));

    private BtrfsVolume Source => _source ?? throw new InvalidOperationException("The volumes are not made yet.");

    private BtrfsVolume Target => _target ?? throw new InvalidOperationException("The volumes are not made yet.");

    /// <summary>Flushes both file systems and waits for deleted subvolumes to be cleaned, so runs do not overlap.</summary>
    private async Task SyncAsync(CancellationToken cancellationToken)
    {
        foreach (var directory in new[] { SourceDirectory, TargetDirectory })
        {
            // A commit first: it wakes the cleaner, which otherwise waits for the next periodic commit (30 s).
            await RunProgramAsync("btrfs", ["filesystem", "sync", directory], cancellationToken);
            await RunProgramAsync("btrfs", ["subvolume", "sync", directory], cancellationToken);
        }
    }
}
