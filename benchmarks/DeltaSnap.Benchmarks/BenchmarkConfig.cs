using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;

namespace DeltaSnap.Benchmarks;

/// <summary>
/// The shared configuration: memory diagnoser, throughput columns, a short job by default, and the Markdown (GitHub),
/// CSV and JSON exporters (reports in <c>BenchmarkDotNet.Artifacts/results/</c>; BenchmarkDotNet drops an exporter
/// the default configuration already has, so none is written twice).
/// </summary>
public static class BenchmarkConfig
{
    public static IConfig Create() =>
        DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(StatisticColumn.Median)
            .AddExporter(MarkdownExporter.GitHub, CsvExporter.Default, JsonExporter.Full)
            .WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend))
            .AddJob(Job.ShortRun.WithId("short"));
}
