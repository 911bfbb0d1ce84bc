using System.Diagnostics.Metrics;
using DeltaSnap.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Sample2_ScheduledRefresh;

/// <summary>
/// Logs every measurement of the DeltaSnap meter (no exporter package is at hand: an OpenTelemetry or Prometheus exporter
/// would subscribe the same way, by meter name). Measurements arrive once per refresh.
/// </summary>
public sealed partial class DeltaSnapMeterLog(IMeterFactory meterFactory, ILogger<DeltaSnapMeterLog> logger) : IHostedService, IDisposable
{
    private readonly MeterListener _listener = new();

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // The container's meter: the replicator's, made by the IMeterFactory that AddMetrics registered.
            if (instrument.Meter.Name == DeltaSnapDiagnostics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Write(i, value, tags));
        _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Write(i, value, tags));
        _listener.Start();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private void Write(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var text = new List<string>(tags.Length);
        foreach (var tag in tags)
        {
            text.Add($"{tag.Key}={tag.Value}");
        }
        LogMeasurement(logger, instrument.Name, value, instrument.Unit ?? "", string.Join(", ", text));
    }

    [LoggerMessage(100, LogLevel.Information, "metric {Instrument} {Value} {Unit} [{Tags}]")]
    private static partial void LogMeasurement(ILogger logger, string instrument, double value, string unit, string tags);
}
