using BenchmarkDotNet.Attributes;
using DeltaSnap.Copy;
using DeltaSnap.Delta;
using DeltaSnap.Devices;

namespace DeltaSnap.Benchmarks.Copy;

/// <summary>
/// The shallow copy pipeline alone (parallel reads, ordered writes) from a 1 GiB page-cached file to a sink
/// that discards: whole 1 MiB clusters (Longhorn's range shallow copy of every cluster), and a plan of 10 %
/// scattered 4 KiB blocks (what a refined delta plan looks like), with one and two readers.
/// </summary>
public class ShallowCopyBenchmarks
{
    private const long FileLength = 1L << 30;
    private static readonly string FilePath = Path.Combine("/var/tmp", "deltasnap-bench", "copy-1g-v1.img");
    private FileBlockDevice _source = null!;
    private ShallowCopyRequest _allClusters = null!;
    private ShallowCopyRequest _scatteredBlocks = null!;

    [Params(1, 2)]
    public int MaxDegreeOfParallelism { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        if (!File.Exists(FilePath) || new FileInfo(FilePath).Length != FileLength)
        {
            var random = new Random(11);
            var buffer = new byte[1 << 20];
            using var stream = new FileStream(FilePath + ".tmp", FileMode.Create, FileAccess.Write);
            for (long written = 0; written < FileLength; written += buffer.Length)
            {
                random.NextBytes(buffer);
                stream.Write(buffer);
            }
            stream.Close();
            File.Move(FilePath + ".tmp", FilePath, overwrite: true);
        }
        _source = FileBlockDevice.Open(FilePath, readOnly: true);
        var layout = new ClusterLayout(FileLength);
        _allClusters = ShallowCopyRequest.ForClusters(layout, Enumerable.Range(0, (int)layout.ClusterCount).Select(i => (long)i));
        var blocks = new Random(12).GetItems(Enumerable.Range(0, (int)(FileLength / 4096)).ToArray(), (int)(FileLength / 4096 / 10));
        var copy = new RangeSet(blocks.Select(b => new ByteRange(b * 4096L, 4096)));
        _scatteredBlocks = ShallowCopyRequest.ForPlan(new DeltaPlan(layout, copy, new RangeSet()));
        AllClusters().GetAwaiter().GetResult(); // into the page cache
    }

    [GlobalCleanup]
    public void Cleanup() => _source.Dispose();

    [Benchmark]
    public Task<long> AllClusters() => CopyAsync(_allClusters);

    [Benchmark]
    public Task<long> ScatteredBlocks() => CopyAsync(_scatteredBlocks);

    private async Task<long> CopyAsync(ShallowCopyRequest request)
    {
        var operation = ShallowCopyOperation.Start(_source, new DiscardingSink(), request,
            new ShallowCopyOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism, DetectZeros = false });
        await operation.Completion;
        return operation.CopiedBytes;
    }

    private sealed class DiscardingSink : DeltaSink
    {
        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
