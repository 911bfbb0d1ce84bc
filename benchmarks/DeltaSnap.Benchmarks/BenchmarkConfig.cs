using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;

namespace DeltaSnap.Benchmarks;

/// <summary>
/// The shared configuration: memory diagnoser, throughput columns, a short job by default, and the Markdown (GitHub),
/// CSV and JSON (full) exporters, reports in <c>BenchmarkDotNet.Artifacts/results/</c>. The default configuration
/// brings the Markdown, CSV and HTML ones; adding those again makes BenchmarkDotNet warn, so only JSON is added.
/// </summary>
public static class BenchmarkConfig
{
    public static IConfig Create() =>
        DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(StatisticColumn.Median)
            .AddExporter(JsonExporter.Full)
            .WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend))
            .AddJob(Job.ShortRun.WithId("short"));
}
