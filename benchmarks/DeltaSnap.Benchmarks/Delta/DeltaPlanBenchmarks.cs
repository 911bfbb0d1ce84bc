using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using DeltaSnap.Checksums;
using DeltaSnap.Copy;
using DeltaSnap.Delta;
using DeltaSnap.Devices;

namespace DeltaSnap.Benchmarks.Delta;

/// <summary>
/// Refreshing a 4 GiB sparse image file (half of it allocated) after 1 % or 10 % of its 4 KiB blocks were
/// rewritten at random: delta planning plus shallow copy, three ways. <see cref="RsyncRefreshBenchmarks"/>
/// does the same refresh with rsync; run both with <c>--join</c> to get one table with the speed-up column.
/// Every iteration starts from the same stale target. Columns: bytes written to the target (Moved), Moved ÷
/// bytes actually changed, bytes read, and how many times faster than the better of the two rsync runs.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>FullScan</c>: no checksum maps, no hints: both images are read (holes skipped) and compared.</item>
/// <item><c>TargetMap</c>: the target's map is at hand (registered after the previous refresh): the source is read
/// in full, the target only where clusters differ.</item>
/// <item><c>Candidates</c>: the backend says which ranges were written (a diff or allocation map): only those
/// clusters are read, on both sides.</item>
/// </list>
/// The copy goes to a sink that writes the file without fsync, as rsync does.
/// </remarks>
[Config(typeof(RefreshConfig))]
[InvocationCount(1)]
public class DeltaPlanBenchmarks : RefreshBenchmarks
{
    private ClusterChecksums _targetMap = null!;

    public override void Setup()
    {
        base.Setup();
        _targetMap = ClusterChecksums.ComputeAsync(Target, new ClusterChecksumOptions { Algorithm = RefreshImages.Algorithm }).GetAwaiter().GetResult();
    }

    [IterationSetup]
    public void RestoreChangedBlocks() => Images.RestoreTarget(regionSize: 4096);

    [Benchmark]
    public Task FullScan() => RefreshAsync(nameof(FullScan), targetMap: null, candidates: null);

    [Benchmark]
    public Task TargetMap() => RefreshAsync(nameof(TargetMap), _targetMap, candidates: null);

    [Benchmark]
    public Task Candidates() => RefreshAsync(nameof(Candidates), targetMap: null, Images.ChangedRanges);

    private async Task RefreshAsync(string method, ClusterChecksums? targetMap, RangeSet? candidates)
    {
        var cpu = CpuTime.OfThisProcess();
        var options = new DeltaPlanOptions { Algorithm = RefreshImages.Algorithm };
        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest { Source = Source, Target = Target, Options = options, TargetChecksums = targetMap, Candidates = candidates });
        var copy = ShallowCopyOperation.Start(Source, new FileSinkWithoutFlush(Target), ShallowCopyRequest.ForPlan(plan));
        await copy.Completion;
        Measured(method, moved: copy.CopiedBytes, read: plan.SourceBytesRead + plan.TargetBytesRead + copy.CopiedBytes,
            cpuSeconds: CpuTime.OfThisProcess() - cpu);
    }

    /// <summary>Writes to the target file without the fsync a <see cref="BlockDeviceSink"/> gets at the end: rsync does not fsync either.</summary>
    private sealed class FileSinkWithoutFlush(BlockDevice device) : DeltaSink
    {
        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
            device.WriteAsync(offset, data, cancellationToken);

        protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken) =>
            device.UnmapAsync(range, cancellationToken);
    }
}

/// <summary>
/// The same refresh as <see cref="DeltaPlanBenchmarks"/> done by <c>rsync --inplace --no-whole-file</c> from the
/// source image to the target image, with its default block size and with <c>-B 4096</c>. Each run takes
/// minutes, so this class runs two iterations and no warm-up.
/// </summary>
[Config(typeof(RefreshConfig))]
[InvocationCount(1)]
[WarmupCount(0)]
[IterationCount(2)]
public class RsyncRefreshBenchmarks : RefreshBenchmarks
{
    [IterationSetup]
    public void RestoreRsyncBlocks() => Images.RestoreTarget(regionSize: 128 * 1024);

    [Benchmark(Description = "rsync (default block)")]
    public void Rsync() => RunRsync(nameof(Rsync), blockSize: null);

    [Benchmark(Description = "rsync -B 4096")]
    public void Rsync4KiB() => RunRsync(nameof(Rsync4KiB), blockSize: 4096);

    private void RunRsync(string method, int? blockSize)
    {
        var stopwatch = Stopwatch.StartNew();
        var cpu = CpuTime.OfReapedChildren();
        var start = new ProcessStartInfo("rsync") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["--inplace", "--no-whole-file", "--ignore-times", "--stats"])
        {
            start.ArgumentList.Add(argument);
        }
        if (blockSize is { } size)
        {
            start.ArgumentList.Add("--block-size=" + size.ToString(CultureInfo.InvariantCulture));
        }
        start.ArgumentList.Add(Images.SourcePath);
        start.ArgumentList.Add(Images.TargetPath);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"rsync exited with {process.ExitCode}: {error.Result}");
        }
        // "Literal data: 42,991,616 bytes": what rsync had to send rather than match.
        var line = output.Result.Split('\n').First(l => l.StartsWith("Literal data:", StringComparison.Ordinal));
        var literal = long.Parse(line["Literal data:".Length..].Replace("bytes", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal).Trim(),
            CultureInfo.InvariantCulture);
        // WaitForExit returned, so rsync has been reaped: its CPU time (and its children's) is in ours.
        Measured(method, moved: literal, read: 2 * Images.Length, cpuSeconds: CpuTime.OfReapedChildren() - cpu);
        RecordBestTime(stopwatch.Elapsed.TotalSeconds);
    }
}

/// <summary>What both refresh benchmarks share: the images, the open devices, the metrics, the final check.</summary>
public abstract class RefreshBenchmarks
{
    private string _method = "";
    private long _moved;
    private long _read;
    private double _bestSeconds = double.PositiveInfinity;
    private double _bestCpuSeconds = double.PositiveInfinity;

    [Params(1, 10)]
    public int ChangedPercent { get; set; }

    internal RefreshImages Images { get; private set; } = null!;

    internal FileBlockDevice Source { get; private set; } = null!;

    internal FileBlockDevice Target { get; private set; } = null!;

    [GlobalSetup]
    public virtual void Setup()
    {
        Images = RefreshImages.Prepare(ChangedPercent);
        Source = FileBlockDevice.Open(Images.SourcePath, readOnly: true);
        Target = FileBlockDevice.Open(Images.TargetPath);
        Console.WriteLine($"// {RefreshImages.Algorithm}; {Images.ChangedBlocks.Length} blocks changed ({Images.ChangedBytes} bytes)");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Source.Dispose();
        Target.Dispose();
        // The last iteration must have made the target read exactly like the source.
        if (!RefreshImages.ContentEqual(Images.SourcePath, Images.TargetPath))
        {
            throw new InvalidOperationException("The target does not read like the source after the refresh.");
        }
        BenchmarkMetrics.Record(_method, ChangedPercent, "moved", _moved);
        BenchmarkMetrics.Record(_method, ChangedPercent, "changed", Images.ChangedBytes);
        BenchmarkMetrics.Record(_method, ChangedPercent, "read", _read);
        if (!double.IsInfinity(_bestSeconds))
        {
            BenchmarkMetrics.Record(_method, ChangedPercent, "seconds", _bestSeconds);
        }
        if (!double.IsInfinity(_bestCpuSeconds))
        {
            BenchmarkMetrics.Record(_method, ChangedPercent, "cpu", _bestCpuSeconds);
        }
    }

    internal void Measured(string method, long moved, long read, double cpuSeconds)
    {
        (_method, _moved, _read) = (method, moved, read);
        _bestCpuSeconds = Math.Min(_bestCpuSeconds, cpuSeconds);
    }

    // The best wall time of this method's runs, for the speed-up column.
    internal void RecordBestTime(double seconds) => _bestSeconds = Math.Min(_bestSeconds, seconds);

    private protected sealed class RefreshConfig : ManualConfig
    {
        public RefreshConfig()
        {
            AddColumn(new MetricColumn("Moved", "moved", "Bytes written to the target (rsync: literal data)", MetricFormat.Bytes));
            AddColumn(new MetricColumn("Moved/Changed", "moved", "Moved ÷ bytes actually changed", MetricFormat.Ratio, dividedBy: "changed"));
            AddColumn(new MetricColumn("Read", "read", "Bytes read from both images (planning + copy; rsync: both files whole)", MetricFormat.Bytes));
            AddColumn(new MetricColumn("CPU", "cpu", "Least CPU time (user + system) of one refresh, all threads and child processes", MetricFormat.Seconds));
            AddColumn(new SpeedupColumn("vs rsync", "seconds", "Best rsync wall time ÷ this mean: how many times faster than rsync"));
            AddColumn(new SpeedupColumn("CPU vs rsync", "cpu", "Least rsync CPU time ÷ this least CPU time: how many times less CPU than rsync"));
        }
    }
}

/// <summary>
/// The images of <see cref="DeltaPlanBenchmarks"/>, in <c>/var/tmp/deltasnap-bench</c>: a 4 GiB sparse base
/// (runs of 1 MiB clusters with random data, half of the volume), a source made of the base plus scattered
/// 4 KiB writes, and a working target that starts as a copy of the base. The base and sources are kept
/// between runs; the target is made afresh.
/// </summary>
internal sealed class RefreshImages
{
    public const long ImageLength = 4L << 30;
    private const int Block = 4096;
    private const string Version = "v1";
    private static readonly string Directory = Path.Combine("/var/tmp", "deltasnap-bench");

    private RefreshImages(int percent, long[] changedBlocks)
    {
        ChangedBlocks = changedBlocks;
        ChangedRanges = new RangeSet(changedBlocks.Select(b => new ByteRange(b * Block, Block)));
        SourcePath = Path.Combine(Directory, $"source-{percent}-{Version}.img");
        TargetPath = Path.Combine(Directory, $"target-{percent}.img");
    }

    /// <summary>The plan algorithm: XXH128, the library default.</summary>
    public static ChecksumAlgorithm Algorithm => ChecksumAlgorithm.Xxh128;

    public static string BasePath { get; } = Path.Combine(Directory, $"base-{Version}.img");

    public long Length => ImageLength;

    public long[] ChangedBlocks { get; }

    public long ChangedBytes => ChangedBlocks.Length * (long)Block;

    public RangeSet ChangedRanges { get; }

    public string SourcePath { get; }

    public string TargetPath { get; }

    public static RefreshImages Prepare(int percent)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var random = new Random(1000 + percent);
        var chosen = new HashSet<long>();
        while (chosen.Count < ImageLength / Block * percent / 100)
        {
            chosen.Add(random.NextInt64(ImageLength / Block));
        }
        var blocks = chosen.Order().ToArray();
        var images = new RefreshImages(percent, blocks);
        if (!File.Exists(BasePath))
        {
            CreateBase(BasePath + ".tmp");
            File.Move(BasePath + ".tmp", BasePath);
        }
        if (!File.Exists(images.SourcePath))
        {
            var temporary = images.SourcePath + ".tmp";
            SparseCopy(BasePath, temporary);
            using (var source = FileBlockDevice.Open(temporary))
            {
                var data = new byte[Block];
                foreach (var b in blocks)
                {
                    random.NextBytes(data);
                    data[0] |= 1; // never all zeros
                    source.WriteAsync(b * Block, data).AsTask().GetAwaiter().GetResult();
                }
            }
            File.Move(temporary, images.SourcePath);
        }
        SparseCopy(BasePath, images.TargetPath);
        // Warm the page cache: every method reads the same cached files.
        _ = ContentEqual(images.SourcePath, images.TargetPath);
        return images;
    }

    /// <summary>Puts back the base's bytes (and holes) in the aligned regions around each changed block.</summary>
    public void RestoreTarget(int regionSize)
    {
        var regions = new RangeSet(ChangedBlocks.Select(b => new ByteRange(b * Block / regionSize * regionSize, regionSize)));
        using var baseImage = FileBlockDevice.Open(BasePath, readOnly: true);
        using var target = FileBlockDevice.Open(TargetPath);
        var buffer = new byte[Block];
        foreach (var region in regions)
        {
            for (var offset = region.Offset; offset < region.End; offset += Block)
            {
                baseImage.ReadAsync(offset, buffer).AsTask().GetAwaiter().GetResult();
                if (buffer.AsSpan().ContainsAnyExcept((byte)0))
                {
                    target.WriteAsync(offset, buffer).AsTask().GetAwaiter().GetResult();
                }
                else
                {
                    target.UnmapAsync(new ByteRange(offset, Block)).AsTask().GetAwaiter().GetResult();
                }
            }
        }
    }

    public static bool ContentEqual(string a, string b)
    {
        using var first = File.OpenHandle(a);
        using var second = File.OpenHandle(b);
        if (RandomAccess.GetLength(first) != RandomAccess.GetLength(second))
        {
            return false;
        }
        var x = new byte[1 << 20];
        var y = new byte[1 << 20];
        for (long offset = 0; ; offset += x.Length)
        {
            var n = RandomAccess.Read(first, x, offset);
            if (n == 0)
            {
                return true;
            }
            if (RandomAccess.Read(second, y.AsSpan(0, n), offset) != n || !x.AsSpan(0, n).SequenceEqual(y.AsSpan(0, n)))
            {
                return false;
            }
        }
    }

    private static void CreateBase(string path)
    {
        var random = new Random(42);
        using var device = FileBlockDevice.Create(path, ImageLength);
        var cluster = new byte[1 << 20];
        var clusters = ImageLength >> 20;
        for (long c = 0; c < clusters;)
        {
            var run = Math.Min(clusters - c, random.Next(1, 65));
            if (random.Next(2) == 0)
            {
                for (var i = 0; i < run; i++)
                {
                    random.NextBytes(cluster);
                    device.WriteAsync((c + i) << 20, cluster).AsTask().GetAwaiter().GetResult();
                }
            }
            c += run;
        }
    }

    // Copies the file's data extents only, so holes stay holes.
    private static void SparseCopy(string from, string to)
    {
        using var source = FileBlockDevice.Open(from, readOnly: true);
        using var target = FileBlockDevice.Create(to, source.Length);
        var buffer = new byte[1 << 20];
        foreach (var range in source.ReadAllocationAsync().GetAwaiter().GetResult())
        {
            for (var offset = range.Offset; offset < range.End; offset += buffer.Length)
            {
                var n = (int)Math.Min(buffer.Length, range.End - offset);
                source.ReadAsync(offset, buffer.AsMemory(0, n)).AsTask().GetAwaiter().GetResult();
                target.WriteAsync(offset, buffer.AsMemory(0, n)).AsTask().GetAwaiter().GetResult();
            }
        }
    }

}

/// <summary>
/// Numbers a benchmark process measures besides time (bytes moved, bytes read), handed to the host process
/// through small files, since BenchmarkDotNet runs each benchmark in a process of its own.
/// </summary>
internal static class BenchmarkMetrics
{
    private static readonly string Directory = Path.Combine(Path.GetTempPath(), "deltasnap-bench-metrics");

    public static void Record(string method, int parameter, string metric, double value)
    {
        System.IO.Directory.CreateDirectory(Directory);
        File.WriteAllText(Path.Combine(Directory, $"{method}-{parameter}-{metric}"), value.ToString(CultureInfo.InvariantCulture));
    }

    public static double? Read(string method, object? parameter, string metric)
    {
        var path = Path.Combine(Directory, $"{method}-{parameter}-{metric}");
        return File.Exists(path) ? double.Parse(File.ReadAllText(path), CultureInfo.InvariantCulture) : null;
    }
}

internal enum MetricFormat
{
    Bytes,
    Ratio,
    Seconds,
}

/// <summary>A summary column showing a metric recorded by <see cref="BenchmarkMetrics"/>, optionally divided by another.</summary>
internal sealed class MetricColumn(string name, string metric, string legend, MetricFormat format, string? dividedBy = null)
    : CustomColumn("DeltaSnap." + name, name, legend)
{
    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var method = benchmarkCase.Descriptor.WorkloadMethod.Name;
        var parameter = benchmarkCase.Parameters.Count > 0 ? benchmarkCase.Parameters[0].Value : null;
        var value = BenchmarkMetrics.Read(method, parameter, metric);
        if (value is not { } v)
        {
            return "-";
        }
        if (dividedBy is not null)
        {
            return BenchmarkMetrics.Read(method, parameter, dividedBy) is { } d and > 0 ? (v / d).ToString("0.000", CultureInfo.InvariantCulture) + "×" : "-";
        }
        return format switch
        {
            MetricFormat.Bytes => (v / (1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
            MetricFormat.Seconds => v.ToString("0.000", CultureInfo.InvariantCulture) + " s",
            _ => v.ToString(CultureInfo.InvariantCulture),
        };
    }
}

/// <summary>
/// How many times better than the better rsync run for the same change rate, by a recorded metric: wall time
/// (this case's mean against rsync's best run) or CPU time (least against least). rsync must have run before
/// the summary is printed: run both classes in one command with <c>--join</c>.
/// </summary>
internal sealed class SpeedupColumn(string name, string metric, string legend)
    : CustomColumn("DeltaSnap." + name, name, legend, priority: 1)
{
    private static readonly string[] RsyncMethods = ["Rsync", "Rsync4KiB"];

    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var parameter = benchmarkCase.Parameters.Count > 0 ? benchmarkCase.Parameters[0].Value : null;
        var rsync = RsyncMethods.Select(m => BenchmarkMetrics.Read(m, parameter, metric)).Where(s => s is not null).Min();
        var own = metric == "seconds"
            ? summary[benchmarkCase]?.ResultStatistics?.Mean / 1e9
            : BenchmarkMetrics.Read(benchmarkCase.Descriptor.WorkloadMethod.Name, parameter, metric);
        return rsync is { } r && own is { } o and > 0 ? (r / o).ToString("0.0", CultureInfo.InvariantCulture) + "×" : "-";
    }
}

/// <summary>CPU time (user + system) in seconds, read the way <c>time</c> reports it.</summary>
internal static class CpuTime
{
    /// <summary>Every thread of this process so far.</summary>
    public static double OfThisProcess()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>
    /// Every child process this one has reaped so far, with their own reaped children (<c>cutime + cstime</c> in
    /// <c>/proc/self/stat</c>, in clock ticks of 1/100 s).
    /// </summary>
    public static double OfReapedChildren()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17.
        return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / 100.0;
    }
}
