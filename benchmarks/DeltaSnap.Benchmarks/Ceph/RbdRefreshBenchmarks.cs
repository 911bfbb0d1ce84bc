using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using DeltaSnap.Ceph;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Benchmarks.Ceph;

/// <summary>
/// Incremental RBD backups of a 1 GiB image (fully written, then copied once) from pool A to pool B of the test
/// cluster, in the steady state of a backup schedule: before each operation <see cref="ChangedPercent"/> of the
/// source is rewritten in random 64 KiB blocks and snapshot S<sub>n</sub> is taken (not timed); the operation brings
/// the target, which holds S<sub>n-1</sub>, to S<sub>n</sub>:
/// <list type="bullet">
/// <item><c>RbdPipe</c> (baseline): <c>rbd export-diff --from-snap S(n-1) SRC@S(n) - | rbd import-diff - DST</c>, a kernel pipe between two processes;</item>
/// <item><c>NativeRefresh</c>: DeltaSnap's <see cref="Replicator"/> over the native RBD stream, snapshots only (the pipe's work plus planning, identity records and a read-back check of what was written);</item>
/// <item><c>NativeRefreshWithLiveState</c>: the same, also carrying the live state through a temporary snapshot (the whole Incus flow);</item>
/// <item><c>DiffInProcess</c>: <see cref="RbdVolume.ExportDiffAsync"/> piped into <see cref="RbdVolume.ImportDiffAsync"/> in one process (the rbd diff v1 path).</item>
/// </list>
/// Every method has its own source and target (BenchmarkDotNet runs each in its own process), so all do the
/// same work. BenchmarkDotNet runs the methods one after another, each on a cluster that is still trimming what
/// the one before deleted, so compare them with care: the <c>rbd</c> command of benchmarks/DeltaSnap.RefreshBenchmarks interleaves the routes and reports
/// paired ratios. Needs the cluster of <c>scripts/backends/up.sh</c> started with a larger OSD (every process writes
/// 2 GiB: <c>DELTASNAP_CEPH_OSD_GIB=16</c>; the default 8 GiB fills up), its
/// <c>CEPH_CONF</c> and <c>DELTASNAP_CEPH_POOL_A/B</c>, and the <c>rbd</c> command. Run:
/// <c>dotnet run -c Release -- --filter '*RbdRefresh*'</c>.
/// </summary>
[InvocationCount(1)]
[WarmupCount(1)]
[IterationCount(7)]
public class RbdRefreshBenchmarks
{
    private const long ImageSize = 1L << 30;
    private const int BlockSize = 64 << 10;

    private RbdDriver _driver = null!;
    private RbdVolume _source = null!;
    private RbdVolume _target = null!;
    private Random _random = null!;
    private int _generation;

    [Params(1, 10)]
    public int ChangedPercent { get; set; }

    private string Previous => $"s{_generation - 1}";

    private string Current => $"s{_generation}";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var poolA = Environment.GetEnvironmentVariable("DELTASNAP_CEPH_POOL_A") ?? throw new InvalidOperationException("DELTASNAP_CEPH_POOL_A is not set: start the cluster with scripts/backends/up.sh and source its env.sh.");
        var poolB = Environment.GetEnvironmentVariable("DELTASNAP_CEPH_POOL_B") ?? throw new InvalidOperationException("DELTASNAP_CEPH_POOL_B is not set.");
        _driver = await RbdDriver.ConnectAsync(new RbdDriverOptions { NativeStream = true });
        var name = "bench-" + Guid.NewGuid().ToString("N")[..8];
        _source = (RbdVolume)await _driver.CreateVolumeAsync($"{poolA}/{name}", new VolumeCreateOptions { Size = ImageSize });
        _target = (RbdVolume)await _driver.CreateVolumeAsync($"{poolB}/{name}", new VolumeCreateOptions { Size = ImageSize });
        _random = new Random(ChangedPercent);
        await using (var device = await _source.OpenDeviceAsync(null, writable: true))
        {
            var buffer = new byte[4 << 20];
            for (long offset = 0; offset < ImageSize; offset += buffer.Length)
            {
                _random.NextBytes(buffer);
                await device.WriteAsync(offset, buffer);
            }
        }
        _generation = 0;
        await _source.CreateSnapshotAsync(Current);
        await new Replicator().RefreshAsync(_source, _target, new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } });
    }

    /// <summary>Rewrites <see cref="ChangedPercent"/> of the source and takes the next snapshot.</summary>
    [IterationSetup]
    public void ChangeSource() => ChangeSourceAsync().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, Description = "rbd export-diff | rbd import-diff")]
    public async Task RbdPipe()
    {
        var pipeline = $"rbd export-diff --no-progress --from-snap {Previous} {_source.Name}@{Current} - | rbd import-diff --no-progress - {_target.Name}";
        var info = new ProcessStartInfo("/bin/bash") { RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("set -o pipefail; " + pipeline);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{pipeline} exited with {process.ExitCode}: {await stderr}");
        }
    }

    [Benchmark(Description = "DeltaSnap native refresh, snapshots only")]
    public Task<RefreshResult> NativeRefresh() =>
        new Replicator().RefreshAsync(_source, _target, new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } });

    [Benchmark(Description = "DeltaSnap native refresh + live state")]
    public Task<RefreshResult> NativeRefreshWithLiveState() => new Replicator().RefreshAsync(_source, _target);

    [Benchmark(Description = "DeltaSnap ExportDiff -> ImportDiff in-process")]
    public async Task DiffInProcess()
    {
        var pipe = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 16 << 20, resumeWriterThreshold: 8 << 20));
        var export = Task.Run(async () =>
        {
            await using var writer = pipe.Writer.AsStream();
            await _source.ExportDiffAsync(Previous, Current, writer);
        });
        await using (var reader = pipe.Reader.AsStream())
        {
            await _target.ImportDiffAsync(reader);
        }
        await export;
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _driver.DeleteVolumeAsync(_source.Name);
        await _driver.DeleteVolumeAsync(_target.Name);
        await _driver.DisposeAsync();
    }

    private async Task ChangeSourceAsync()
    {
        await using (var device = await _source.OpenDeviceAsync(null, writable: true))
        {
            var blocks = ImageSize * ChangedPercent / 100 / BlockSize;
            var chosen = new HashSet<long>();
            var data = new byte[BlockSize];
            while (chosen.Count < blocks)
            {
                var block = _random.NextInt64(ImageSize / BlockSize);
                if (chosen.Add(block))
                {
                    _random.NextBytes(data);
                    await device.WriteAsync(block * BlockSize, data);
                }
            }
        }
        _generation++;
        await _source.CreateSnapshotAsync(Current);
        // Keep only the two newest snapshots on both sides: the single-OSD test cluster is 8 GiB.
        var old = $"s{_generation - 2}";
        foreach (var volume in new[] { _source, _target })
        {
            if ((await volume.GetLineageAsync()).Find(old) is not null)
            {
                await volume.DeleteSnapshotAsync(old);
            }
        }
    }
}
