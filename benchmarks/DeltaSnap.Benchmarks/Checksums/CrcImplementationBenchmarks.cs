using System.IO.Hashing;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using DeltaSnap.Checksums;

namespace DeltaSnap.Benchmarks.Checksums;

/// <summary>
/// Why DeltaSnap keeps its own CRCs: the in-project folding implementations (<see cref="Crc32C"/>,
/// <see cref="Crc64Iso"/>) beside System.IO.Hashing's parameterised <see cref="Crc32"/> and <see cref="Crc64"/>
/// computing the same CRC-32C and CRC-64/ISO, one-shot on hot buffers. Ratio is per CRC, against the in-project
/// implementation; GB/s is Size / Mean. The core package's README quotes these numbers.
/// </summary>
/// <remarks><c>dotnet run -c Release --project benchmarks/DeltaSnap.Benchmarks -- --filter '*CrcImplementationBenchmarks*'</c></remarks>
[Config(typeof(ChecksumBenchmarks.ThroughputConfig))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
public class CrcImplementationBenchmarks
{
    /// <summary>CRC-64/ISO (CRC-64/GO-ISO): polynomial 0x1B, reflected, initial value and final XOR all ones.</summary>
    private static readonly Crc64ParameterSet Crc64IsoParameters = Crc64ParameterSet.Create(0x1BUL, ulong.MaxValue, ulong.MaxValue, reflectValues: true);

    private byte[] _data = [];

    /// <summary>The buffer length in bytes.</summary>
    [Params(4 * 1024, 64 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(42).NextBytes(_data);
        // The two sides must compute the same CRC, or the comparison means nothing.
        if (Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, _data) != Crc32C.Compute(_data)
            || Crc64.HashToUInt64(Crc64IsoParameters, _data) != Crc64Iso.Compute(_data))
        {
            throw new InvalidOperationException("System.IO.Hashing and DeltaSnap disagree on CRC-32C or CRC-64/ISO.");
        }
    }

    [Benchmark(Baseline = true), BenchmarkCategory("CRC-32C")]
    public uint Crc32C_InProjectFolding() => Crc32C.Compute(_data);

    [Benchmark, BenchmarkCategory("CRC-32C")]
    public uint Crc32C_SystemIOHashing() => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, _data);

    [Benchmark(Baseline = true), BenchmarkCategory("CRC-64/ISO")]
    public ulong Crc64Iso_InProjectFolding() => Crc64Iso.Compute(_data);

    [Benchmark, BenchmarkCategory("CRC-64/ISO")]
    public ulong Crc64Iso_SystemIOHashing() => Crc64.HashToUInt64(Crc64IsoParameters, _data);
}
