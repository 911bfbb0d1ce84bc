using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using DeltaSnap.Checksums;
using DeltaSnap.Devices;

namespace DeltaSnap.Benchmarks.Checksums;

/// <summary>
/// <see cref="ClusterChecksums.ComputeAsync"/> (1 MiB clusters) over a 1 GiB page-cached file against a plain
/// sequential read of the same file (<c>RandomAccess.Read</c>, 1 MiB at a time, one thread), with one and two
/// workers. The goal (issue 16): at least 0.75 × the plain read's throughput with one worker, and at least 1.4 × its own
/// one-worker figure with two.
/// </summary>
/// <remarks>
/// The algorithm is XXH128, the library default. This measures steady state in-process; the whole-process comparison
/// with <c>cat</c>, paired, is <c>benchmarks/checksums/scan-vs-read.sh</c>.
/// </remarks>
[Config(typeof(ThroughputConfig))]
public class ClusterChecksumsBenchmarks
{
    private const long FileLength = 1L << 30;
    private static readonly string FilePath = Path.Combine("/var/tmp", "deltasnap-bench", "checksums-1g-v1.img");
    private readonly byte[] _buffer = new byte[1 << 20];
    private FileBlockDevice _device = null!;
    private SafeFileHandleHolder _handle = null!;

    [Params(1, 2)]
    public int MaxDegreeOfParallelism { get; set; }

    public static ChecksumAlgorithm Algorithm => ChecksumAlgorithm.Xxh128;

    [GlobalSetup]
    public void Setup()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        if (!File.Exists(FilePath) || new FileInfo(FilePath).Length != FileLength)
        {
            var random = new Random(7);
            using var stream = new FileStream(FilePath + ".tmp", FileMode.Create, FileAccess.Write);
            for (long written = 0; written < FileLength; written += _buffer.Length)
            {
                random.NextBytes(_buffer);
                stream.Write(_buffer);
            }
            stream.Close();
            File.Move(FilePath + ".tmp", FilePath, overwrite: true);
        }
        _handle = new SafeFileHandleHolder(File.OpenHandle(FilePath));
        _device = FileBlockDevice.Open(FilePath, readOnly: true);
        PlainRead(); // into the page cache
        Console.WriteLine($"// algorithm {Algorithm}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _device.Dispose();
        _handle.Handle.Dispose();
    }

    /// <summary>The yardstick: read the file front to back, 1 MiB at a time, on one thread.</summary>
    [Benchmark(Baseline = true)]
    public long PlainRead()
    {
        long total = 0;
        int n;
        while ((n = RandomAccess.Read(_handle.Handle, _buffer, total)) > 0)
        {
            total += n;
        }
        return total;
    }

    [Benchmark]
    public Task<ClusterChecksums> ComputeClusterChecksums() =>
        ClusterChecksums.ComputeAsync(_device, new ClusterChecksumOptions { Algorithm = Algorithm, MaxDegreeOfParallelism = MaxDegreeOfParallelism });

    /// <summary>Keeps the handle in a reference type so the benchmark class stays simple.</summary>
    private sealed record SafeFileHandleHolder(Microsoft.Win32.SafeHandles.SafeFileHandle Handle);

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new ThroughputColumn(
            "Throughput", "GiB per second over the 1 GiB file", _ => FileLength, 1 << 30, " GiB/s"));
    }
}
