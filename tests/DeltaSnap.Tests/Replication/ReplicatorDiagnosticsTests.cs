using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using DeltaSnap.Diagnostics;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using DeltaSnap.Testing;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Tests.Replication;

/// <summary>
/// What OpenTelemetry users see of a refresh: a <c>deltasnap.refresh</c> span with a child span per step, tagged, and
/// marked failed with an exception event when the refresh fails; and the meter's measurements, tagged with route,
/// schemes and <c>error.type</c>. Refreshes run between in-memory volumes over the native route.
/// </summary>
public class ReplicatorDiagnosticsTests
{
    private const string TestSourceName = "DeltaSnap.Tests.ReplicatorDiagnostics";

    private static readonly ActivitySource TestSource = new(TestSourceName);

    private readonly ConcurrentQueue<Activity> _stopped = new();
    private ActivityListener? _listener;

    [SetUp]
    public void StartListening()
    {
        _stopped.Clear();
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is DeltaSnapDiagnostics.ActivitySourceName or TestSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [TearDown]
    public void StopListening() => _listener?.Dispose();

    [Test]
    public async Task Refresh_nativeRoute_oneRefreshSpanWithAChildSpanPerStep()
    {
        var (source, target) = await TwoSnapshotsAsync();

        RefreshResult result;
        ActivityTraceId trace;
        ActivitySpanId rootSpan;
        using (var root = TestSource.StartActivity("test")!)
        {
            (trace, rootSpan) = (root.TraceId, root.SpanId);
            result = await new Replicator().RefreshAsync(source, target);
        }

        var spans = SpansOf(trace);
        var refresh = spans.Single(s => s.OperationName == "deltasnap.refresh");
        Assert.That(refresh.ParentSpanId, Is.EqualTo(rootSpan));
        Assert.That(refresh.Status, Is.EqualTo(ActivityStatusCode.Unset));
        Assert.That(refresh.GetTagItem("deltasnap.source.address"), Is.EqualTo(source.Address));
        Assert.That(refresh.GetTagItem("deltasnap.target.address"), Is.EqualTo(target.Address));
        Assert.That(refresh.GetTagItem("deltasnap.source.scheme"), Is.EqualTo("lvol"));
        Assert.That(refresh.GetTagItem("deltasnap.target.scheme"), Is.EqualTo("lvol"));
        Assert.That(refresh.GetTagItem("deltasnap.refresh.route"), Is.EqualTo("native_stream"));
        Assert.That(refresh.GetTagItem("deltasnap.refresh.kind"), Is.EqualTo("full"));
        Assert.That(refresh.GetTagItem("deltasnap.bytes_sent"), Is.EqualTo(result.BytesSent));
        // s1 (1000 bytes), s2 (1500) and the live state (1500 again): the native stream of this backend is the bytes.
        Assert.That(result.BytesSent, Is.EqualTo(1000 + 1500 + 1500));

        var steps = spans.Where(s => s.ParentSpanId == refresh.SpanId).OrderBy(s => s.StartTimeUtc).ToList();
        Assert.That(steps.Select(s => s.OperationName), Is.EqualTo(new[]
        {
            "deltasnap.refresh.plan", "deltasnap.refresh.prepare", "deltasnap.refresh.send_snapshot", "deltasnap.refresh.send_snapshot",
            "deltasnap.refresh.live_state", "deltasnap.refresh.cleanup",
        }));
        var sends = steps.Where(s => s.OperationName == "deltasnap.refresh.send_snapshot").ToList();
        Assert.That(sends.Select(s => s.GetTagItem("deltasnap.snapshot.name")), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(sends.Select(s => s.GetTagItem("deltasnap.bytes_sent")), Is.EqualTo(new object[] { 1000L, 1500L }));
        Assert.That(steps[0].GetTagItem("deltasnap.refresh.route"), Is.EqualTo("native_stream"));

        var live = steps.Single(s => s.OperationName == "deltasnap.refresh.live_state");
        Assert.That(live.GetTagItem("deltasnap.snapshot.name"), Is.TypeOf<string>().And.StartsWith(TemporarySnapshot.Prefix));
        Assert.That(live.GetTagItem("deltasnap.bytes_sent"), Is.EqualTo(1500L));
        var promote = spans.Single(s => s.OperationName == "deltasnap.refresh.promote");
        Assert.That(promote.ParentSpanId, Is.EqualTo(live.SpanId));
        Assert.That(spans.Where(s => s.Status == ActivityStatusCode.Error), Is.Empty);
    }

    [Test]
    public async Task Refresh_failingReceive_refreshAndStepSpansFailedWithExceptionAndCleanupSpan()
    {
        var (source, inner) = await TwoSnapshotsAsync();
        var target = new FaultInjectingVolume(inner) { FailReceiveAfterBytes = 10 };

        Exception? failure = null;
        ActivityTraceId trace;
        using (var root = TestSource.StartActivity("test")!)
        {
            trace = root.TraceId;
            try
            {
                await new Replicator().RefreshAsync(source, target);
            }
            catch (IOException e)
            {
                failure = e;
            }
        }

        Assert.That(failure, Is.Not.Null);
        var spans = SpansOf(trace);
        var refresh = spans.Single(s => s.OperationName == "deltasnap.refresh");
        Assert.That(refresh.Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(refresh.StatusDescription, Is.EqualTo(failure!.Message));
        Assert.That(refresh.GetTagItem("error.type"), Is.EqualTo("System.IO.IOException"));
        var exception = refresh.Events.Single(e => e.Name == "exception");
        Assert.That(exception.Tags.Single(t => t.Key == "exception.type").Value, Is.EqualTo("System.IO.IOException"));

        var send = spans.Single(s => s.OperationName == "deltasnap.refresh.send_snapshot");
        Assert.That(send.ParentSpanId, Is.EqualTo(refresh.SpanId));
        Assert.That(send.Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(send.GetTagItem("deltasnap.snapshot.name"), Is.EqualTo("s1"));

        var cleanup = spans.Single(s => s.OperationName == "deltasnap.refresh.cleanup");
        Assert.That(cleanup.ParentSpanId, Is.EqualTo(refresh.SpanId));
        Assert.That(cleanup.GetTagItem("deltasnap.cleanup.after_failure"), Is.EqualTo(true));
        Assert.That(cleanup.Status, Is.EqualTo(ActivityStatusCode.Unset));
        Assert.That(spans.Where(s => s.OperationName == "deltasnap.refresh.live_state"), Is.Empty);
    }

    [Test]
    public async Task Refresh_success_measurementsTaggedWithRouteAndSchemes()
    {
        var (source, target) = await TwoSnapshotsAsync();
        using var meters = new TestMeterFactory();
        using var recorder = new MeasurementRecorder(meters);

        var result = await new Replicator(meterFactory: meters).RefreshAsync(source, target);

        Assert.That(meters.Meters.Select(m => m.Name), Is.EqualTo(new[] { DeltaSnapDiagnostics.MeterName }));
        var duration = recorder.Single("deltasnap.refresh.duration");
        Assert.That(duration.Value, Is.EqualTo(result.Duration.TotalSeconds));
        Assert.That(duration.Tags, Is.EquivalentTo(new Dictionary<string, object?>
        {
            ["deltasnap.refresh.route"] = "native_stream",
            ["deltasnap.source.scheme"] = "lvol",
            ["deltasnap.target.scheme"] = "lvol",
        }));
        var sent = recorder.Single("deltasnap.refresh.bytes_sent");
        Assert.That(sent.Value, Is.EqualTo(4000));
        Assert.That(sent.Tags, Is.EquivalentTo(duration.Tags));
        Assert.That(recorder.Single("deltasnap.refresh.bytes_written").Value, Is.EqualTo(result.BytesWritten));
        Assert.That(recorder.All("deltasnap.refresh.failures"), Is.Empty);
    }

    [Test]
    public async Task Refresh_failure_durationAndFailureRecordedWithErrorType()
    {
        var (source, inner) = await TwoSnapshotsAsync();
        var target = new FaultInjectingVolume(inner) { FailReceiveAfterBytes = 10 };
        using var meters = new TestMeterFactory();
        using var recorder = new MeasurementRecorder(meters);

        Assert.That(async () => await new Replicator(meterFactory: meters).RefreshAsync(source, target), Throws.InstanceOf<IOException>());

        var expectedTags = new Dictionary<string, object?>
        {
            ["deltasnap.refresh.route"] = "native_stream",
            ["deltasnap.source.scheme"] = "lvol",
            ["deltasnap.target.scheme"] = "lvol",
            ["error.type"] = "System.IO.IOException",
        };
        var duration = recorder.Single("deltasnap.refresh.duration");
        Assert.That(duration.Value, Is.GreaterThan(0));
        Assert.That(duration.Tags, Is.EquivalentTo(expectedTags));
        var failures = recorder.Single("deltasnap.refresh.failures");
        Assert.That(failures.Value, Is.EqualTo(1));
        Assert.That(failures.Tags, Is.EquivalentTo(expectedTags));
    }

    [Test]
    public async Task Refresh_refusedByThePlan_durationRecordedWithErrorTypeAndNoRoute()
    {
        var source = new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "source") { Live = [1, 2, 3] };
        var target = new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "target") { Live = [4] };
        await source.CreateSnapshotAsync("a");
        await target.CreateSnapshotAsync("b");
        using var meters = new TestMeterFactory();
        using var recorder = new MeasurementRecorder(meters);

        Assert.That(async () => await new Replicator(meterFactory: meters).RefreshAsync(source, target), Throws.InstanceOf<NoCommonBaseException>());

        Assert.That(recorder.Single("deltasnap.refresh.duration").Tags, Is.EquivalentTo(new Dictionary<string, object?>
        {
            ["deltasnap.source.scheme"] = "lvol",
            ["deltasnap.target.scheme"] = "lvol",
            ["error.type"] = typeof(NoCommonBaseException).FullName,
        }));
    }

    [Test]
    public async Task Refresh_nativeRoute_snapshotSentLoggedWithTheBytesMoved()
    {
        var (source, target) = await TwoSnapshotsAsync();
        using var logs = new RecordingLoggerFactory();

        await new Replicator(logs).RefreshAsync(source, target);

        var sent = logs.Entries.Where(e => e.EventId.Id == 1105).Select(e => (e.State["Snapshot"], e.State["Bytes"]));
        Assert.That(sent, Is.EqualTo(new (object?, object?)[] { ("s1", 1000L), ("s2", 1500L) }));
    }

    /// <summary>A source with snapshots s1 (1000 bytes) and s2 (1500 bytes, its live state too) and an empty target.</summary>
    private static async Task<(MemoryNativeVolume Source, MemoryNativeVolume Target)> TwoSnapshotsAsync()
    {
        var source = new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "source") { Live = Bytes(1000, 1) };
        await source.CreateSnapshotAsync("s1");
        source.Live = Bytes(1500, 2);
        await source.CreateSnapshotAsync("s2");
        return (source, new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "target"));
    }

    private static byte[] Bytes(int length, byte value) => Enumerable.Repeat(value, length).ToArray();

    private List<Activity> SpansOf(ActivityTraceId trace) =>
        _stopped.Where(a => a.TraceId == trace && a.Source.Name == DeltaSnapDiagnostics.ActivitySourceName).ToList();

    /// <summary>A logger factory whose loggers keep every entry's event id and structured values.</summary>
    private sealed class RecordingLoggerFactory : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<(EventId EventId, Dictionary<string, object?> State)> Entries { get; } = new();

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state as IEnumerable<KeyValuePair<string, object?>> ?? [];
            Entries.Enqueue((eventId, values.ToDictionary(p => p.Key, p => p.Value)));
        }

        public void Dispose()
        {
        }
    }

    /// <summary>An <see cref="IMeterFactory"/> that hands out fresh meters, as dependency injection's does, and remembers them.</summary>
    private sealed class TestMeterFactory : IMeterFactory
    {
        public ConcurrentQueue<Meter> Meters { get; } = new();

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
            Meters.Enqueue(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in Meters)
            {
                meter.Dispose();
            }
        }
    }

    private sealed record Measurement(string Instrument, double Value, Dictionary<string, object?> Tags);

    /// <summary>Records every measurement of the meters one factory made.</summary>
    private sealed class MeasurementRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<Measurement> _measurements = new();

        public MeasurementRecorder(TestMeterFactory factory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.Start();
        }

        public IReadOnlyList<Measurement> All(string instrument) => _measurements.Where(m => m.Instrument == instrument).ToList();

        public Measurement Single(string instrument)
        {
            var all = All(instrument);
            Assert.That(all, Has.Count.EqualTo(1), instrument);
            return all[0];
        }

        public void Dispose() => _listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }
            _measurements.Enqueue(new Measurement(instrument.Name, value, copy));
        }
    }
}
