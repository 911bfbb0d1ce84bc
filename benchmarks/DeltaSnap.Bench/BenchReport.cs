using System.Text.Json.Serialization;
using DeltaSnap.RefreshBenchmarks;

namespace DeltaSnap.Bench;

/// <summary>The result file of a run (<c>results.json</c>): the matrix and its hash, the environment, what was skipped and why, and every case.</summary>
internal sealed record BenchReport
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    public required string MatrixName { get; init; }

    public required string MatrixPath { get; init; }

    public required string MatrixSha256 { get; init; }

    public required int Rounds { get; init; }

    public required DateTimeOffset Started { get; init; }

    public required DateTimeOffset Finished { get; init; }

    public required string LoadAverageAtStart { get; init; }

    public required string LoadAverageAtEnd { get; init; }

    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    public required IReadOnlyList<Skipped> Skipped { get; init; }

    public required IReadOnlyList<CaseResult> Cases { get; init; }
}

/// <summary>A pair or a contender the run could not use, and why.</summary>
internal sealed record Skipped(string Pair, string? Contender, string Reason);

/// <summary>One case: the same change measured for every contender.</summary>
/// <param name="Pair">The backend pair.</param>
/// <param name="SizeBytes">The data size.</param>
/// <param name="Pattern">The change pattern.</param>
/// <param name="RatePercent">The change rate.</param>
/// <param name="ChangedBytes">Bytes whose content changed.</param>
/// <param name="StreamBytes">The backend's native incremental stream for the change (0 where there is none).</param>
/// <param name="Contenders">The contenders, in the order of the first round.</param>
internal sealed record CaseResult(string Pair, long SizeBytes, string Pattern, double RatePercent, long ChangedBytes, long StreamBytes, IReadOnlyList<ContenderResult> Contenders)
{
    [JsonIgnore]
    public CaseKey Key => new(Pair, SizeBytes, Pattern, RatePercent);
}

/// <summary>A contender's runs of a case and their summaries.</summary>
/// <param name="Name">The contender.</param>
/// <param name="Kind">What it is.</param>
/// <param name="Description">What exactly runs.</param>
/// <param name="Runs">Its runs.</param>
/// <param name="TargetMatches">Whether what its first run made on the target has the content of the source snapshot (SHA-256 of the device, or of every file).</param>
internal sealed record ContenderResult(string Name, ContenderKind Kind, string Description, IReadOnlyList<RunSample> Runs, bool TargetMatches = true)
{
    public Summary WallSeconds => Summary.Of(Runs.Select(r => r.WallSeconds));

    public Summary CpuSeconds => Summary.Of(Runs.Select(r => r.CpuSeconds));

    public Summary PeakRssBytes => Summary.Of(Runs.Select(r => (double)r.PeakRssBytes));

    public Summary WireBytes => Summary.Of(Runs.Select(r => (double)r.WireBytes));

    /// <summary>Every metric by its name in the CSV files and the comparison.</summary>
    public IEnumerable<(string Metric, Summary Value)> Metrics() =>
        [("wall-seconds", WallSeconds), ("cpu-seconds", CpuSeconds), ("peak-rss-bytes", PeakRssBytes), ("wire-bytes", WireBytes)];
}

/// <summary>Median, fastest and slowest of a contender's runs.</summary>
internal sealed record Summary(double Median, double Min, double Max)
{
    public static Summary Of(IEnumerable<double> values)
    {
        var list = values.ToList();
        return new Summary(RunStatistics.Median(list), list.Min(), list.Max());
    }
}

/// <summary>JSON of the matrix and the report (source-generated).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, UseStringEnumConverter = true,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true, IgnoreReadOnlyProperties = false)]
[JsonSerializable(typeof(Matrix))]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
