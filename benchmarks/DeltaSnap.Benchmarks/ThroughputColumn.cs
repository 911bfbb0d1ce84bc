using System.Globalization;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace DeltaSnap.Benchmarks;

/// <summary>
/// A throughput column: the bytes one call processes (from the case's parameters, or a constant) over the mean time
/// of the call, in units of <paramref name="unitBytes"/> bytes per second.
/// </summary>
/// <param name="columnName">The column's title.</param>
/// <param name="legend">What the column shows.</param>
/// <param name="bytesPerCall">The bytes one call of the case processes, or null when unknown.</param>
/// <param name="unitBytes">The unit: 1e9 for GB/s, 2^30 for GiB/s.</param>
/// <param name="suffix">Text after each value (" GiB/s"), or empty.</param>
internal sealed class ThroughputColumn(string columnName, string legend, Func<BenchmarkCase, long?> bytesPerCall, double unitBytes, string suffix)
    : CustomColumn("DeltaSnap.Throughput." + columnName, columnName, legend)
{
    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var statistics = summary[benchmarkCase]?.ResultStatistics;
        if (statistics is null || bytesPerCall(benchmarkCase) is not { } bytes)
        {
            return "-";
        }
        return (bytes / unitBytes / (statistics.Mean / 1e9)).ToString("0.00", CultureInfo.InvariantCulture) + suffix;
    }
}
