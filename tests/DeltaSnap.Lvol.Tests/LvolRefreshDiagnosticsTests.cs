using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using DeltaSnap.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Replication;

namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// A checksum-route refresh between two real lvol stores as OpenTelemetry sees it: the meter's measurements tagged with
/// route and schemes, and the refresh span with its steps tagged with the bytes they moved.
/// </summary>
public sealed class LvolRefreshDiagnosticsTests : StoreFixture
{
    private const int Cluster = 64 * 1024;
    private const string TestSourceName = "DeltaSnap.Lvol.Tests.RefreshDiagnostics";

    private static readonly ActivitySource TestSource = new(TestSourceName);

    [Test]
    public async Task ChecksumRoute_betweenLvolStores_measurementsAndSpansCarryRouteSchemesAndBytes()
    {
        await using var sourceDriver = await LvolDriver.CreateStoreAsync(StorePath("a"), Cluster);
        await using var targetDriver = await LvolDriver.CreateStoreAsync(StorePath("b"), Cluster);
        var source = await sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 32 * Cluster });
        var target = await targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 32 * Cluster });
        await using (var device = await source.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(3 * Cluster, Pattern(2 * Cluster, 7));
            await device.FlushAsync();
        }
        await source.CreateSnapshotAsync("s1");
        var options = new RefreshOptions { DisableNativeStreams = true, Delta = new DeltaSnap.Delta.DeltaPlanOptions { ClusterSize = Cluster } };

        var measurements = new ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        var spans = new ConcurrentQueue<Activity>();
        using var meters = new ScopedMeterFactory();
        using var meterListener = new MeterListener();
        meterListener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meters)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meterListener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => measurements.Enqueue((instrument.Name, value, ToDictionary(tags))));
        meterListener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => measurements.Enqueue((instrument.Name, value, ToDictionary(tags))));
        meterListener.Start();
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is DeltaSnapDiagnostics.ActivitySourceName or TestSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(activityListener);

        RefreshResult result;
        ActivityTraceId trace;
        using (var root = TestSource.StartActivity("test")!)
        {
            trace = root.TraceId;
            result = await new Replicator(meterFactory: meters).RefreshAsync(source, target, options);
        }

        Assert.That(result.Route, Is.EqualTo(RefreshRoute.Checksum));
        Assert.That(result.BytesSent, Is.EqualTo(2 * Cluster), "s1's two written clusters; the live state equals s1");
        var expectedTags = new Dictionary<string, object?>
        {
            ["deltasnap.refresh.route"] = "checksum",
            ["deltasnap.source.scheme"] = "lvol",
            ["deltasnap.target.scheme"] = "lvol",
        };
        var duration = measurements.Single(m => m.Instrument == "deltasnap.refresh.duration");
        Assert.That(duration.Tags, Is.EquivalentTo(expectedTags));
        var sent = measurements.Single(m => m.Instrument == "deltasnap.refresh.bytes_sent");
        Assert.That(sent.Value, Is.EqualTo(result.BytesSent));
        Assert.That(sent.Tags, Is.EquivalentTo(expectedTags));
        var compared = measurements.Single(m => m.Instrument == "deltasnap.refresh.clusters_compared");
        Assert.That(compared.Value, Is.EqualTo(result.ClustersCompared).And.GreaterThan(0));

        var ours = spans.Where(s => s.TraceId == trace && s.Source.Name == DeltaSnapDiagnostics.ActivitySourceName).ToList();
        var refresh = ours.Single(s => s.OperationName == "deltasnap.refresh");
        Assert.That(refresh.GetTagItem("deltasnap.refresh.route"), Is.EqualTo("checksum"));
        Assert.That(refresh.GetTagItem("deltasnap.source.address"), Is.EqualTo(source.Address));
        var send = ours.Single(s => s.OperationName == "deltasnap.refresh.send_snapshot");
        Assert.That(send.ParentSpanId, Is.EqualTo(refresh.SpanId));
        Assert.That(send.GetTagItem("deltasnap.snapshot.name"), Is.EqualTo("s1"));
        Assert.That(send.GetTagItem("deltasnap.bytes_sent"), Is.EqualTo(2L * Cluster));
        Assert.That(ours.Select(s => s.Status), Has.None.EqualTo(ActivityStatusCode.Error));
    }

    private static Dictionary<string, object?> ToDictionary(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }
        return copy;
    }

    /// <summary>Fresh meters whose scope is this factory, so the listener hears only this test's replicator.</summary>
    private sealed class ScopedMeterFactory : IMeterFactory
    {
        private readonly ConcurrentQueue<Meter> _meters = new();

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
            _meters.Enqueue(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}
