using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace DeltaSnap.Diagnostics;

/// <summary>
/// The instruments of the <see cref="DeltaSnapDiagnostics.MeterName"/> meter: what refreshes move and how long they take.
/// One shared instance over a static meter, or one per <see cref="IMeterFactory"/> (dependency injection).
/// </summary>
internal sealed class DeltaSnapMetrics
{
    private static readonly string? Version = typeof(DeltaSnapMetrics).Assembly.GetName().Version?.ToString();

    /// <summary>Bucket boundaries for refresh durations: refreshes take from milliseconds (nothing changed) to hours.</summary>
    private static readonly double[] DurationBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

    private static readonly Lazy<DeltaSnapMetrics> SharedInstance = new(() => new DeltaSnapMetrics(new Meter(DeltaSnapDiagnostics.MeterName, Version)));

    private DeltaSnapMetrics(Meter meter)
    {
        Meter = meter;
        Duration = meter.CreateHistogram(
            "deltasnap.refresh.duration",
            "s",
            "Duration of refreshes, failed ones included (tagged with error.type).",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        BytesSent = meter.CreateCounter<long>("deltasnap.refresh.bytes_sent", "By", "Bytes sent from sources to targets.");
        BytesWritten = meter.CreateCounter<long>("deltasnap.refresh.bytes_written", "By", "Bytes written to targets.");
        ClustersCompared = meter.CreateCounter<long>("deltasnap.refresh.clusters_compared", "{cluster}", "Clusters whose checksums were compared.");
        Failures = meter.CreateCounter<long>("deltasnap.refresh.failures", "{refresh}", "Refreshes that failed.");
    }

    /// <summary>The instruments over the static meter, for replicators made without an <see cref="IMeterFactory"/>.</summary>
    public static DeltaSnapMetrics Shared => SharedInstance.Value;

    public Meter Meter { get; }

    public Histogram<double> Duration { get; }

    public Counter<long> BytesSent { get; }

    public Counter<long> BytesWritten { get; }

    public Counter<long> ClustersCompared { get; }

    public Counter<long> Failures { get; }

    /// <summary>The instruments over <paramref name="meterFactory"/>'s meter, or <see cref="Shared"/> when it is null.</summary>
    public static DeltaSnapMetrics Create(IMeterFactory? meterFactory) =>
        meterFactory is null ? Shared : new DeltaSnapMetrics(meterFactory.Create(new MeterOptions(DeltaSnapDiagnostics.MeterName) { Version = Version }));

    /// <summary>Records one refresh, successful or not (<paramref name="errorType"/> set), with what it moved so far.</summary>
    public void RecordRefresh(TagList tags, TimeSpan duration, long bytesSent, long bytesWritten, long clustersCompared, string? errorType)
    {
        if (errorType is not null)
        {
            tags.Add(DiagnosticNames.ErrorType, errorType);
        }
        Duration.Record(duration.TotalSeconds, tags);
        if (bytesSent > 0)
        {
            BytesSent.Add(bytesSent, tags);
        }
        if (bytesWritten > 0)
        {
            BytesWritten.Add(bytesWritten, tags);
        }
        if (clustersCompared > 0)
        {
            ClustersCompared.Add(clustersCompared, tags);
        }
        if (errorType is not null)
        {
            Failures.Add(1, tags);
        }
    }
}
