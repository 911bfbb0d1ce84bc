using System.Diagnostics.Metrics;

namespace DeltaSnap.Diagnostics;

/// <summary>The <c>DeltaSnap</c> meter: what refreshes move and how long they take.</summary>
internal static class DeltaSnapMetrics
{
    public const string MeterName = "DeltaSnap";

    private static readonly Meter Meter = new(MeterName, typeof(DeltaSnapMetrics).Assembly.GetName().Version?.ToString());

    public static readonly Counter<long> BytesSent = Meter.CreateCounter<long>("deltasnap.refresh.bytes_sent", "By", "Bytes sent from sources to targets.");

    public static readonly Counter<long> ClustersCompared = Meter.CreateCounter<long>("deltasnap.refresh.clusters_compared", "{cluster}", "Clusters whose checksums were compared.");

    public static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("deltasnap.refresh.duration", "s", "Duration of refreshes.");

    public static readonly Counter<long> Failures = Meter.CreateCounter<long>("deltasnap.refresh.failures", "{refresh}", "Refreshes that failed.");
}
