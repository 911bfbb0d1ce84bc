using System.Globalization;
using BenchmarkDotNet.Columns;
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
internal sealed class ThroughputColumn(string columnName, string legend, Func<BenchmarkCase, long?> bytesPerCall, double unitBytes, string suffix) : IColumn
{
    public string Id => "DeltaSnap.Throughput." + columnName;

    public string ColumnName => columnName;

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => legend;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var statistics = summary[benchmarkCase]?.ResultStatistics;
        if (statistics is null || bytesPerCall(benchmarkCase) is not { } bytes)
        {
            return "-";
        }
        return (bytes / unitBytes / (statistics.Mean / 1e9)).ToString("0.00", CultureInfo.InvariantCulture) + suffix;
    }

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
}
