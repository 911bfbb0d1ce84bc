using System.Globalization;
using System.IO.Hashing;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using DeltaSnap.Checksums;

namespace DeltaSnap.Benchmarks.Checksums;

/// <summary>
/// One-shot checksum throughput on hot buffers of 4 KiB, 64 KiB and 1 MiB, on the fastest path this CPU has
/// and on the scalar fallbacks. The GB/s column is Size / Mean. Targets on an AVX-512 + VPCLMULQDQ server
/// core (1 MiB): CRC-32C ≥ 20 GB/s, CRC-64/ISO ≥ 8 GB/s, XXH3 ≥ 25 GB/s. XXH3 is System.IO.Hashing's;
/// <see cref="CrcImplementationBenchmarks"/> sets the in-project CRCs beside System.IO.Hashing's.
/// </summary>
/// <remarks><c>dotnet run -c Release --project benchmarks/DeltaSnap.Benchmarks -- --filter '*ChecksumBenchmarks*'</c></remarks>
[Config(typeof(ThroughputConfig))]
public class ChecksumBenchmarks
{
    private readonly byte[] _digest = new byte[32];
    private byte[] _data = [];

    /// <summary>The buffer length in bytes.</summary>
    [Params(4 * 1024, 64 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(42).NextBytes(_data);
    }

    [Benchmark]
    public uint Crc32C_Compute() => Crc32C.Compute(_data);

    [Benchmark]
    public uint Crc32C_Scalar() => Crc32C.UpdateScalar(uint.MaxValue, _data);

    [Benchmark]
    public ulong Crc64Iso_Compute() => Crc64Iso.Compute(_data);

    [Benchmark]
    public ulong Crc64Iso_Table() => Crc64Iso.UpdateScalar(ulong.MaxValue, _data);

    [Benchmark]
    public ulong Xxh3_Hash64() => XxHash3.HashToUInt64(_data);

    [Benchmark]
    public UInt128 Xxh3_Hash128() => XxHash128.HashToUInt128(_data);

    [Benchmark]
    public int Sha256_HashData() => SHA256.HashData(_data, _digest);

    /// <summary>Adds the GB/s column.</summary>
    public sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new ThroughputColumn(
            "GB/s", "Throughput: Size / Mean, in 10^9 bytes per second", c => c.Parameters[nameof(Size)] is int size ? size : null, 1e9, ""));
    }
}

/// <summary>
/// Combining per-cluster CRCs into a whole-volume CRC: with a precomputed shift operator (the per-cluster
/// path) and from the length alone (square-and-multiply).
/// </summary>
public class CrcCombineBenchmarks
{
    private const long ClusterSize = 64 * 1024;
    private readonly Crc64Shift _shift64 = Crc64Iso.ShiftOperator(ClusterSize);
    private readonly Crc32CShift _shift32 = Crc32C.ShiftOperator(ClusterSize);
    private ulong _crc64 = 0x0123456789ABCDEFUL;
    private uint _crc32 = 0x01234567u;

    [Benchmark]
    public ulong Crc64Iso_CombineWithShift() => _crc64 = Crc64Iso.Combine(_crc64, 0x5555, _shift64);

    [Benchmark]
    public ulong Crc64Iso_CombineWithLength() => _crc64 = Crc64Iso.Combine(_crc64, 0x5555, ClusterSize);

    [Benchmark]
    public uint Crc32C_CombineWithShift() => _crc32 = Crc32C.Combine(_crc32, 0x5555, _shift32);

    [Benchmark]
    public uint Crc32C_CombineWithLength() => _crc32 = Crc32C.Combine(_crc32, 0x5555, ClusterSize);
}
