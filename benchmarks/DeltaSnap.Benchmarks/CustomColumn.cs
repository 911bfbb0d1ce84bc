using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace DeltaSnap.Benchmarks;

/// <summary>A numeric column of the benchmarks' own, shown in every summary: subclasses say only what a cell holds.</summary>
/// <param name="id">The column's unique id.</param>
/// <param name="columnName">The column's title.</param>
/// <param name="legend">What the column shows.</param>
/// <param name="priority">The column's place among the custom ones (lower first).</param>
internal abstract class CustomColumn(string id, string columnName, string legend, int priority = 0) : IColumn
{
    public string Id => id;

    public string ColumnName => columnName;

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => priority;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => legend;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public abstract string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style);

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
}
