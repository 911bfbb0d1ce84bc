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
/// <param name="Pattern">How the data changed (<see cref="RbdChangePattern"/>, in the command's spelling).</param>
/// <param name="WritesStreamBytes">With the writes route: the size of the stream that sends every written extent (no content comparison).</param>
/// <param name="WritesSeconds">With the writes route: its median time.</param>
/// <param name="PairedContentRatio">With the writes route: median over runs of DeltaSnap's transfer time over the writes route's in the same run.</param>
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
    double PairedRefreshRatio,
    string Pattern = "blocks",
    long? WritesStreamBytes = null,
    double? WritesSeconds = null,
    double? PairedContentRatio = null);

/// <summary>How <see cref="RbdRefreshBenchmark"/> changes the image between the base and the sent snapshot.</summary>
public enum RbdChangePattern
{
    /// <summary>Random 64 KiB blocks get new content (the default, as before).</summary>
    Blocks,

    /// <summary>Random 4 KiB blocks get new content.</summary>
    Scattered4K,

    /// <summary>The whole image is written again, the given share of its 4 KiB blocks with new content (an image saved whole).</summary>
    Rewrite,
}

/// <summary>
/// Measures DeltaSnap's RBD refresh against a piped <c>rbd export-diff --from-snap BASE SRC@SNAP - | rbd import-diff -
/// DST</c> on the same data in the same run (the harness is <see cref="NativeRefreshBenchmark{TResult}"/>): an image
/// in <see cref="SourcePool"/> filled with random data, copied in full to an image in <see cref="TargetPool"/>;
/// changes in random 64 KiB blocks. Three routes, rotating: the pipe, DeltaSnap's transfer, and a whole refresh.
/// Before each run the cluster gets a second to settle; after it the target goes back to the base (its received
/// snapshot deleted, its image rolled back); each case starts from the base again. Both DeltaSnap and the
/// <c>rbd</c> command connect with <c>CEPH_CONF</c>, <c>CEPH_KEYRING</c> and <c>CEPH_ARGS</c>. With
/// <see cref="WithWritesRoute"/> a fourth route sends the same snapshot as the native stream did before it compared
/// written extents with the base (every written extent), through a second connection to the source.
/// </summary>
public sealed class RbdRefreshBenchmark : NativeRefreshBenchmark<RbdRefreshBenchmarkResult>
{
    /// <summary>DeltaSnap's transfer sending every extent written since the base, as the native stream did before it compared content.</summary>
    private const string WritesRoute = "writes";

    private RbdDriver? _sourceDriver;
    private RbdDriver? _writesDriver;
    private RbdDriver? _targetDriver;
    private RbdVolume? _source;
    private RbdVolume? _writesSource;
    private RbdVolume? _target;
    private long _writesBytes;

    /// <summary>The pool the source image is made in (and deleted from after).</summary>
    public required string SourcePool { get; init; }

    /// <summary>The pool the target image is made in (another pool, typically).</summary>
    public required string TargetPool { get; init; }

    /// <summary>How the image changes (default: random 64 KiB blocks).</summary>
    public RbdChangePattern Pattern { get; init; } = RbdChangePattern.Blocks;

    /// <summary>Also time the <c>writes</c> route: the stream without the content comparison (the "before" of issue 16).</summary>
    public bool WithWritesRoute { get; init; }

    /// <inheritdoc />
    protected override int ChangeSize => Pattern == RbdChangePattern.Blocks ? 64 << 10 : 4 << 10;

    /// <inheritdoc />
    protected override string ChangeUnit => Pattern == RbdChangePattern.Rewrite ? "blocks, after the whole image was written again" : "blocks";

    /// <inheritdoc />
    protected override IReadOnlyList<string> Routes => WithWritesRoute ? [RawRoute, DeltaSnapRoute, WritesRoute, RefreshRoute] : [RawRoute, DeltaSnapRoute, RefreshRoute];

    /// <inheritdoc />
    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, CancellationToken cancellationToken)
    {
        // One connection per side, as the pipe's two rbd processes have (and as two clusters would need).
        _sourceDriver = await RbdDriver.ConnectAsync(cancellationToken: cancellationToken);
        _targetDriver = await RbdDriver.ConnectAsync(cancellationToken: cancellationToken);
        _source = (RbdVolume)await _sourceDriver.CreateVolumeAsync($"{SourcePool}/{id}", new VolumeCreateOptions { Size = Size }, cancellationToken);
        _target = (RbdVolume)await _targetDriver.CreateVolumeAsync($"{TargetPool}/{id}", new VolumeCreateOptions { Size = Size }, cancellationToken);
        if (WithWritesRoute)
        {
            _writesDriver = await RbdDriver.ConnectAsync(new RbdDriverOptions { SendChangedContentOnly = false }, cancellationToken: cancellationToken);
            _writesSource = (RbdVolume)await _writesDriver.OpenVolumeAsync(_source.Name, cancellationToken);
        }
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
        foreach (var driver in new[] { _writesDriver, _sourceDriver, _targetDriver })
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
        await RewriteIfAskedAsync(cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task<(SnapshotInfo Base, SnapshotInfo BaseOnTarget)> NextCaseAsync(
        SnapshotInfo baseSnapshot, SnapshotInfo baseOnTarget, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        var next = await base.NextCaseAsync(baseSnapshot, baseOnTarget, snapshot, cancellationToken);
        await RewriteIfAskedAsync(cancellationToken);
        return next;
    }

    // For the rewrite pattern: every byte of the source written again with what it holds (after the base snapshot),
    // before the case's change gives a share of its blocks new content.
    private async Task RewriteIfAskedAsync(CancellationToken cancellationToken)
    {
        if (Pattern == RbdChangePattern.Rewrite)
        {
            var data = await VolumeData.OpenAsync(Source, Size, FileSize, cancellationToken);
            await data.RewriteAsync(4 << 20, static (_, _) => { }, cancellationToken);
        }
    }

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
            case WritesRoute:
                var writesSource = _writesSource ?? throw new InvalidOperationException("The volumes are not made yet.");
                _writesBytes = (await TransferAsync(writesSource, Target, routeCase.Base, routeCase.BaseOnTarget, routeCase.Snapshot, cancellationToken)).Bytes;
                return 0;
            default:
                await RefreshSnapshotsAsync(cancellationToken);
                return 0;
        }
    }

    /// <inheritdoc />
    protected override RbdRefreshBenchmarkResult CreateResult(double percent, long streamBytes, RouteTimes times) => new(
        percent, streamBytes, times.Median(RawRoute), times.Median(DeltaSnapRoute), times.Median(RefreshRoute),
        times.Fastest(RawRoute), times.Fastest(DeltaSnapRoute), times.Fastest(RefreshRoute),
        times.PairedRatio(DeltaSnapRoute), times.PairedRatio(RefreshRoute),
        PatternName(Pattern),
        WithWritesRoute ? _writesBytes : null,
        WithWritesRoute ? times.Median(WritesRoute) : null,
        WithWritesRoute ? Median(times[DeltaSnapRoute].Select((t, i) => t / times[WritesRoute][i]).ToList()) : null);

    /// <summary>The command-line spelling of <paramref name="pattern"/>.</summary>
    public static string PatternName(RbdChangePattern pattern) => pattern switch
    {
        RbdChangePattern.Scattered4K => "scattered-4k",
        RbdChangePattern.Rewrite => "rewrite",
        _ => "blocks",
    };

    private RbdVolume Source => _source ?? throw new InvalidOperationException("The volumes are not made yet.");

    private RbdVolume Target => _target ?? throw new InvalidOperationException("The volumes are not made yet.");
}
