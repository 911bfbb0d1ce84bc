using System.Security.Cryptography;
using System.Text;
using DeltaSnap;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Sample2_ScheduledRefresh;

/// <summary>Snapshots the source on a schedule, refreshes the target, verifies the copy and prunes old snapshots.</summary>
public sealed partial class ScheduledRefreshWorker(
    VolumeResolver resolver,
    Replicator replicator,
    RefreshOptions refreshOptions,
    IOptions<ScheduledRefreshOptions> options,
    RunOutcome outcome,
    IHostApplicationLifetime lifetime,
    ILogger<ScheduledRefreshWorker> logger) : BackgroundService
{
    /// <summary>The prefix of the snapshots this worker takes (and the only ones it deletes).</summary>
    public const string SnapshotPrefix = "auto-";

    private const int Block = 4096;
    private readonly ScheduledRefreshOptions _options = options.Value;
    private int _tick;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            if (_options.Keep < 1 || _options.Interval <= TimeSpan.Zero)
            {
                throw new InvalidOperationException($"ScheduledRefresh:Keep ({_options.Keep}) must be at least 1 and ScheduledRefresh:Interval ({_options.Interval}) positive.");
            }
            await EnsureVolumesAsync(stoppingToken).ConfigureAwait(false);
            outcome.ExitCode = 0;
            using var timer = new PeriodicTimer(_options.Interval);
            do
            {
                if (!await TickAsync(stoppingToken).ConfigureAwait(false))
                {
                    outcome.ExitCode = 1;
                }
            }
            while (!outcome.Once && await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Ctrl+C: the host is stopping.
        }
        catch (Exception e) when (e is DeltaSnapException or IOException or InvalidOperationException or ArgumentException or FormatException or NotSupportedException)
        {
            LogFailed(logger, e);
            outcome.ExitCode = 1;
        }
        finally
        {
            if (outcome.Once || outcome.ExitCode != 0)
            {
                lifetime.StopApplication();
            }
        }
    }

    private async Task EnsureVolumesAsync(CancellationToken cancellationToken)
    {
        foreach (var (address, fill) in new[] { (_options.SourceAddress, true), (_options.TargetAddress, false) })
        {
            try
            {
                var volume = await resolver.OpenVolumeAsync(address, cancellationToken).ConfigureAwait(false);
                await volume.Driver.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (_options.CreateIfMissing && e is VolumeNotFoundException or FileNotFoundException)
            {
                var parsed = resolver.ParseAddress(address);
                if (parsed.Scheme == "lvol" && Path.GetDirectoryName(Path.GetFullPath(parsed.Location)) is { } directory)
                {
                    Directory.CreateDirectory(directory);
                }
                var volume = await resolver.CreateVolumeAsync(parsed, new VolumeCreateOptions { Size = _options.VolumeSize }, cancellationToken).ConfigureAwait(false);
                await using (volume.Driver.ConfigureAwait(false))
                {
                    if (fill)
                    {
                        await WriteBlocksAsync(volume, count: 1024, "initial data", cancellationToken).ConfigureAwait(false);
                    }
                }
                LogCreated(logger, address, _options.VolumeSize >> 20, fill ? " with 4 MiB of data" : "");
            }
        }
    }

    private async Task<bool> TickAsync(CancellationToken cancellationToken)
    {
        var tick = ++_tick;
        var source = await resolver.OpenVolumeAsync(_options.SourceAddress, cancellationToken).ConfigureAwait(false);
        await using var sourceDriver = source.Driver.ConfigureAwait(false);
        var target = await resolver.OpenVolumeAsync(_options.TargetAddress, cancellationToken).ConfigureAwait(false);
        await using var targetDriver = target.Driver.ConfigureAwait(false);

        if (_options.SimulateWrites)
        {
            await WriteBlocksAsync(source, count: 16, $"tick {tick}", cancellationToken).ConfigureAwait(false);
        }
        var name = $"{SnapshotPrefix}{DateTime.UtcNow:yyyyMMdd-HHmmss-fff}";
        await source.CreateSnapshotAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
        var result = await replicator.RefreshAsync(source, target, refreshOptions, cancellationToken: cancellationToken).ConfigureAwait(false);
        LogRefreshed(logger, name, source.Address, target.Address, result.Route, result.Kind, result.BytesSent, result.BytesWritten, result.Duration.TotalSeconds);

        var sourceDigest = await DigestAsync(source, name, cancellationToken).ConfigureAwait(false);
        var targetDigest = await DigestAsync(target, name, cancellationToken).ConfigureAwait(false);
        if (sourceDigest != targetDigest)
        {
            LogMismatch(logger, name, sourceDigest, targetDigest);
            return false;
        }
        LogVerified(logger, name, sourceDigest[..16]);
        outcome.VerifiedRefreshes++;

        await PruneAsync(source, target, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Keeps the newest <c>Keep</c> of this worker's snapshots on each side, and always the newest one both sides share.</summary>
    private async Task PruneAsync(Volume source, Volume target, CancellationToken cancellationToken)
    {
        var sourceLineage = await source.GetLineageAsync(cancellationToken).ConfigureAwait(false);
        var targetLineage = await target.GetLineageAsync(cancellationToken).ConfigureAwait(false);
        var common = SnapshotLineage.FindCommonBase(sourceLineage, targetLineage);
        foreach (var (volume, lineage, keep) in new[] { (source, sourceLineage, common?.Source), (target, targetLineage, common?.Target) })
        {
            var old = lineage.Where(s => s.Name.StartsWith(SnapshotPrefix, StringComparison.Ordinal))
                .Reverse().Skip(_options.Keep)                    // the lineage is oldest first
                .Where(s => keep is null || s.Name != keep.Name)
                .ToList();
            foreach (var snapshot in old)
            {
                await volume.DeleteSnapshotAsync(snapshot.Name, cancellationToken).ConfigureAwait(false);
            }
            if (old.Count > 0)
            {
                LogPruned(logger, volume.Address, old.Count, string.Join(", ", old.Select(s => s.Name)));
            }
        }
    }

    private static async Task WriteBlocksAsync(Volume volume, int count, string what, CancellationToken cancellationToken)
    {
        var device = await volume.OpenDeviceAsync(null, writable: true, cancellationToken).ConfigureAwait(false);
        await using (device.ConfigureAwait(false))
        {
            var blocks = (int)(device.Length / Block);
            var block = new byte[Block];
            foreach (var index in Enumerable.Range(0, count).Select(_ => Random.Shared.Next(blocks)))
            {
                Array.Clear(block);
                Encoding.ASCII.GetBytes($"Block {index}: {what}, {DateTime.UtcNow:O}.").CopyTo(block, 0);
                await device.WriteAsync((long)index * Block, block, cancellationToken).ConfigureAwait(false);
            }
            await device.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>SHA-256 of a snapshot's whole contents, hex.</summary>
    public static async Task<string> DigestAsync(Volume volume, string? snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(volume);
        BlockDevice device = await volume.OpenDeviceAsync(snapshot, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using (device.ConfigureAwait(false))
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 20];
            for (long offset = 0; offset < device.Length; offset += buffer.Length)
            {
                var n = (int)Math.Min(buffer.Length, device.Length - offset);
                await device.ReadAsync(offset, buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                hash.AppendData(buffer, 0, n);
            }
            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Created {Address} ({SizeMiB} MiB){What}.")]
    private static partial void LogCreated(ILogger logger, string address, long sizeMiB, string what);

    [LoggerMessage(2, LogLevel.Information, "Snapshot {Snapshot}: refreshed {Source} -> {Target}: route {Route}, {Kind}, {BytesSent} bytes sent, {BytesWritten} written, {Seconds:F2} s.")]
    private static partial void LogRefreshed(ILogger logger, string snapshot, string source, string target, RefreshRoute route, RefreshKind kind, long bytesSent, long bytesWritten, double seconds);

    [LoggerMessage(3, LogLevel.Information, "Verified: the copy of {Snapshot} equals the source (SHA-256 {Digest}…).")]
    private static partial void LogVerified(ILogger logger, string snapshot, string digest);

    [LoggerMessage(4, LogLevel.Error, "The copy of {Snapshot} differs from the source: source SHA-256 {SourceDigest}, copy {TargetDigest}.")]
    private static partial void LogMismatch(ILogger logger, string snapshot, string sourceDigest, string targetDigest);

    [LoggerMessage(5, LogLevel.Information, "Pruned {Count} snapshot(s) of {Address}: {Names}.")]
    private static partial void LogPruned(ILogger logger, string address, int count, string names);

    [LoggerMessage(6, LogLevel.Error, "The scheduled refresh failed.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
