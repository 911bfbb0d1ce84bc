namespace DeltaSnap.Diagnostics;

/// <summary>
/// The names under which DeltaSnap reports what it does, for OpenTelemetry and other listeners:
/// <c>AddMeter(DeltaSnapDiagnostics.MeterName)</c> and <c>AddSource(DeltaSnapDiagnostics.ActivitySourceName)</c>.
/// </summary>
public static class DeltaSnapDiagnostics
{
    /// <summary>
    /// The name of the <see cref="System.Diagnostics.Metrics.Meter"/> of refreshes: <c>deltasnap.refresh.duration</c>,
    /// <c>deltasnap.refresh.bytes_sent</c>, <c>deltasnap.refresh.bytes_written</c>, <c>deltasnap.refresh.clusters_compared</c>
    /// and <c>deltasnap.refresh.failures</c>, tagged with the route, the source and target schemes and, on failure,
    /// <c>error.type</c>.
    /// </summary>
    public const string MeterName = "DeltaSnap";

    /// <summary>
    /// The name of the <see cref="System.Diagnostics.ActivitySource"/> of refreshes: a <c>deltasnap.refresh</c> span per
    /// refresh with a child span per step (<c>deltasnap.refresh.plan</c>, <c>.prepare</c>, <c>.send_snapshot</c>,
    /// <c>.live_state</c>, <c>.promote</c>, <c>.cleanup</c>).
    /// </summary>
    public const string ActivitySourceName = "DeltaSnap";
}
