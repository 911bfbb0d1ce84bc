using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using DeltaSnap.Benchmarking;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Replication;

namespace DeltaSnap.Benchmarks.Lvol;

/// <summary>
/// Refreshing a 4 GiB lvol (1 MiB clusters) after 1 % of its 4 KiB blocks were rewritten at random places, against
/// <c>rsync --inplace --no-whole-file --ignore-times</c> (default block size, and <c>-B 4096</c>) on the same data as plain files.
/// Each iteration first writes a fresh 1 % (and, for the lvol, snapshots it), then measures one refresh. Every
/// iteration prints the bytes moved and the peak resident memory of what ran (the DeltaSnap process; rsync's
/// processes). Size: <c>DELTASNAP_BENCH_LVOL_GIB</c> (default 4).
/// </summary>
/// <remarks>Run: <c>dotnet run -c Release --project benchmarks/DeltaSnap.Benchmarks -- --filter '*LvolRefresh*'</c>.</remarks>
[Config(typeof(RefreshConfig))]
public class LvolRefreshBenchmarks
{
    private const int ClusterSize = 1 << 20;
    private const int Block = 4096;
    private const double ChangedFraction = 0.01;

    private readonly long _volumeBytes = long.Parse(Environment.GetEnvironmentVariable("DELTASNAP_BENCH_LVOL_GIB") ?? "4", CultureInfo.InvariantCulture) << 30;
    private string _directory = "";
    private LvolDriver? _sourceDriver;
    private LvolDriver? _targetDriver;
    private Volume? _source;
    private Volume? _target;
    private int _iteration;
    private long _changedBytes;

    /// <summary>The job: one launch, no warm-up, a few single-invocation iterations (each consumes its own change).</summary>
    public sealed class RefreshConfig : ManualConfig
    {
        public RefreshConfig()
        {
            AddJob(Job.Default
                .WithStrategy(RunStrategy.Monitoring)
                .WithLaunchCount(1)
                .WithWarmupCount(0)
                .WithIterationCount(int.Parse(Environment.GetEnvironmentVariable("DELTASNAP_BENCH_ITERATIONS") ?? "3", CultureInfo.InvariantCulture))
                .WithInvocationCount(1)
                .WithUnrollFactor(1)
                .AsMutator()); // applies to the shared configuration's job instead of adding a second one
            AddDiagnoser(MemoryDiagnoser.Default);
        }
    }

    [GlobalSetup(Target = nameof(LvolRefresh))]
    public void SetupLvol()
    {
        CreateDirectory();
        SetupLvolAsync().GetAwaiter().GetResult();
    }

    [GlobalSetup(Targets = [nameof(RsyncDefaultBlockSize), nameof(Rsync4KBlocks)])]
    public void SetupFiles()
    {
        CreateDirectory();
        foreach (var name in new[] { "source.img", "target.img" })
        {
            using var file = new FileStream(Path.Combine(_directory, name), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            var chunk = new byte[ClusterSize];
            for (long offset = 0; offset < _volumeBytes; offset += chunk.Length)
            {
                Fill(chunk, 1, offset);
                file.Write(chunk);
            }
        }
    }

    [IterationSetup(Target = nameof(LvolRefresh))]
    public void ChangeLvol() => ChangeLvolAsync().GetAwaiter().GetResult();

    [IterationSetup(Targets = [nameof(RsyncDefaultBlockSize), nameof(Rsync4KBlocks)])]
    public void ChangeFile()
    {
        using var handle = File.OpenHandle(Path.Combine(_directory, "source.img"), FileMode.Open, FileAccess.ReadWrite);
        var block = new byte[Block];
        foreach (var index in ChangedBlocks(++_iteration))
        {
            Fill(block, 1000 + _iteration, index * Block);
            RandomAccess.Write(handle, block, index * Block);
        }
    }

    /// <summary>DeltaSnap: the replicator between two lvol stores (the native lvol diff stream).</summary>
    [Benchmark]
    public async Task<long> LvolRefresh()
    {
        ResourceUsage.ResetPeakResidentSet();
        var result = await new Replicator().RefreshAsync(_source!, _target!);
        Console.WriteLine(
            $"// lvol refresh: {result.Route}, {result.BytesSent} bytes sent for {_changedBytes} bytes changed " +
            $"(x{(double)result.BytesSent / _changedBytes:F3}), {result.Duration.TotalSeconds:F2} s, peak RSS {PeakResidentMiB():F0} MiB");
        return result.BytesSent;
    }

    /// <summary><c>rsync --inplace --no-whole-file</c> with its default block size.</summary>
    [Benchmark(Baseline = true)]
    public long RsyncDefaultBlockSize() => Rsync([]);

    /// <summary><c>rsync --inplace --no-whole-file -B 4096</c>.</summary>
    [Benchmark]
    public long Rsync4KBlocks() => Rsync(["-B", "4096"]);

    [GlobalCleanup]
    public void Cleanup()
    {
        try
        {
            if (_source is not null)
            {
                var a = DigestAsync(_source).GetAwaiter().GetResult();
                var b = DigestAsync(_target!).GetAwaiter().GetResult();
                Console.WriteLine($"// lvol copy {(a == b ? "matches" : "DIFFERS FROM")} the source ({a[..16]}…)");
                if (a != b)
                {
                    throw new InvalidOperationException("The refreshed lvol differs from its source.");
                }
            }
            else if (File.Exists(Path.Combine(_directory, "target.img")))
            {
                var a = FileDigest(Path.Combine(_directory, "source.img"));
                var b = FileDigest(Path.Combine(_directory, "target.img"));
                Console.WriteLine($"// rsync copy {(a == b ? "matches" : "DIFFERS FROM")} the source");
            }
        }
        finally
        {
            _sourceDriver?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _targetDriver?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Directory.Delete(_directory, recursive: true);
        }
    }

    private void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "dsbench-lvol-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_directory);
    }

    private async Task SetupLvolAsync()
    {
        _sourceDriver = await LvolDriver.CreateStoreAsync(Path.Combine(_directory, "source.lvs"), ClusterSize);
        _targetDriver = await LvolDriver.CreateStoreAsync(Path.Combine(_directory, "target.lvs"), ClusterSize);
        _source = await _sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = _volumeBytes });
        _target = await _targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = _volumeBytes });
        await using (var device = await _source.OpenDeviceAsync(null, writable: true))
        {
            var chunk = new byte[ClusterSize];
            for (long offset = 0; offset < _volumeBytes; offset += chunk.Length)
            {
                Fill(chunk, 1, offset);
                await device.WriteAsync(offset, chunk);
            }
            await device.FlushAsync();
        }
        await _source.CreateSnapshotAsync("base");
        var full = await new Replicator().RefreshAsync(_source, _target);
        Console.WriteLine($"// setup: full refresh of {_volumeBytes >> 20} MiB in {full.Duration.TotalSeconds:F1} s");
    }

    private async Task ChangeLvolAsync()
    {
        _changedBytes = 0;
        await using (var device = await _source!.OpenDeviceAsync(null, writable: true))
        {
            var block = new byte[Block];
            foreach (var index in ChangedBlocks(++_iteration))
            {
                Fill(block, 1000 + _iteration, index * Block);
                await device.WriteAsync(index * Block, block);
                _changedBytes += Block;
            }
            await device.FlushAsync();
        }
        await _source.CreateSnapshotAsync($"s{_iteration}");
    }

    /// <summary>1 % of the volume's 4 KiB blocks, scattered, the same for the lvol and the file of one iteration.</summary>
    private List<long> ChangedBlocks(int iteration)
    {
        var blocks = _volumeBytes / Block;
        var count = (int)(blocks * ChangedFraction);
        var random = new Random(iteration);
        var chosen = new HashSet<long>();
        while (chosen.Count < count)
        {
            chosen.Add(random.NextInt64(blocks));
        }
        var list = chosen.ToList();
        list.Sort();
        return list;
    }

    private long Rsync(string[] extra)
    {
        var info = new ProcessStartInfo("rsync") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // --ignore-times: compare contents even when size and modification time match (they can, within a second).
        foreach (var a in (string[])["--inplace", "--no-whole-file", "--ignore-times", "--stats", .. extra, Path.Combine(_directory, "source.img"), Path.Combine(_directory, "target.img")])
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"rsync exited with {process.ExitCode}: {error}");
        }
        var literal = StatLine(output, "Literal data:");
        var sent = StatLine(output, "Total bytes sent:");
        var changed = (long)(_volumeBytes / Block * ChangedFraction) * Block;
        Console.WriteLine($"// rsync {string.Join(' ', extra)}: literal data {literal} bytes, {sent} bytes sent for {changed} bytes changed (x{(double)sent / changed:F3}), " +
            $"peak RSS of its processes {ChildrenPeakResidentMiB():F0} MiB");
        return sent;
    }

    private static long StatLine(string output, string label)
    {
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(label, StringComparison.Ordinal)) ?? "";
        var digits = new string(line[label.Length..].Where(char.IsDigit).ToArray());
        return digits.Length == 0 ? -1 : long.Parse(digits, CultureInfo.InvariantCulture);
    }

    /// <summary>Deterministic incompressible bytes for <paramref name="offset"/> (xorshift seeded per 4 KiB block).</summary>
    private static void Fill(Span<byte> buffer, int seed, long offset)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(buffer);
        for (var i = 0; i < words.Length; i++)
        {
            if ((i & 511) == 0)
            {
                var block = (ulong)(offset + (i * 8L)) / Block;
                _state = (block * 0x9E3779B97F4A7C15UL) ^ ((ulong)seed * 0xD1B54A32D192ED03UL) ^ 0x2545F4914F6CDD1DUL;
            }
            _state ^= _state << 13;
            _state ^= _state >> 7;
            _state ^= _state << 17;
            words[i] = _state;
        }
    }

    [ThreadStatic]
    private static ulong _state;

    private static async Task<string> DigestAsync(Volume volume)
    {
        await using var device = await volume.OpenDeviceAsync(null);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[ClusterSize];
        for (long offset = 0; offset < device.Length; offset += buffer.Length)
        {
            await device.ReadAsync(offset, buffer);
            hash.AppendData(buffer);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static string FileDigest(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static double PeakResidentMiB() => ResourceUsage.PeakResidentSetBytes() / 1048576.0;

    private static double ChildrenPeakResidentMiB() => ResourceUsage.ChildrenPeakResidentBytes() / 1048576.0;
}
