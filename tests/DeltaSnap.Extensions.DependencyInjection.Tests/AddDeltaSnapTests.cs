using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using DeltaSnap.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Replication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sample2_ScheduledRefresh;

namespace DeltaSnap.Extensions.DependencyInjection.Tests;

public sealed class AddDeltaSnapTests
{
    private string _directory = "";

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "deltasnap-di-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task AddDeltaSnap_lvol_refreshesBetweenStores_copyEqual_logsAndMetricsReachContainer()
    {
        var logs = new RecordingLoggerProvider();
        var services = new ServiceCollection()
            .AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug))
            .AddMetrics()
            .AddDeltaSnap(r => r.AddLvol(new LvolBackendOptions { CreateMissingStores = true }));
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        var meterFactory = provider.GetRequiredService<IMeterFactory>();
        var measured = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == DeltaSnapDiagnostics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, value, _, _) => measured.AddOrUpdate(i.Name, value, (_, old) => old + value));
        listener.Start();

        var resolver = provider.GetRequiredService<VolumeResolver>();
        var replicator = provider.GetRequiredService<Replicator>();
        Assert.That(resolver.Schemes, Is.EqualTo(new[] { "lvol" }));
        Assert.That(provider.GetRequiredService<VolumeResolver>(), Is.SameAs(resolver));
        Assert.That(resolver.LoggerFactory, Is.SameAs(provider.GetRequiredService<ILoggerFactory>()));

        var source = await resolver.CreateVolumeAsync($"lvol:{_directory}/a.lvs#vm", new VolumeCreateOptions { Size = 8L << 20 }).ConfigureAwait(false);
        await using var sourceDriver = source.Driver.ConfigureAwait(false);
        var target = await resolver.CreateVolumeAsync($"lvol:{_directory}/b.lvs#vm", new VolumeCreateOptions { Size = 8L << 20 }).ConfigureAwait(false);
        await using var targetDriver = target.Driver.ConfigureAwait(false);
        var data = new byte[3 << 20];
        new Random(17).NextBytes(data);
        var device = await source.OpenDeviceAsync(null, writable: true).ConfigureAwait(false);
        await using (device.ConfigureAwait(false))
        {
            await device.WriteAsync(1 << 20, data).ConfigureAwait(false);
            await device.FlushAsync().ConfigureAwait(false);
        }
        await source.CreateSnapshotAsync("monday").ConfigureAwait(false);

        var result = await replicator.RefreshAsync(source, target, provider.GetRequiredService<RefreshOptions>()).ConfigureAwait(false);

        Assert.That(result.SnapshotsSent, Does.Contain("monday"));
        var sourceDigest = await ScheduledRefreshWorker.DigestAsync(source, "monday").ConfigureAwait(false);
        Assert.That(await ScheduledRefreshWorker.DigestAsync(target, "monday").ConfigureAwait(false), Is.EqualTo(sourceDigest));
        Assert.That(await ScheduledRefreshWorker.DigestAsync(target, null).ConfigureAwait(false), Is.EqualTo(await ScheduledRefreshWorker.DigestAsync(source, null).ConfigureAwait(false)));

        Assert.That(logs.Entries.Where(e => e.Category == typeof(Replicator).FullName).Select(e => e.Message),
            Has.Some.Contains(source.Address), "the container's ILoggerFactory gets the replicator's logs");
        Assert.That(measured.TryGetValue("deltasnap.refresh.bytes_written", out var written), Is.True, "the container's IMeterFactory made the replicator's meter");
        Assert.That(written, Is.EqualTo(result.BytesWritten).And.GreaterThanOrEqualTo(data.Length));
    }

    [Test]
    public async Task AddDeltaSnap_configurationSection_bindsOptionsAndRefreshOptions()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DeltaSnap:ClusterSize"] = "65536",
            ["DeltaSnap:RefinementBlockSize"] = "0",
            ["DeltaSnap:CleanupTimeout"] = "00:00:30",
            ["DeltaSnap:AllowFullResend"] = "true",
        }).Build();
        await using var provider = new ServiceCollection()
            .AddDeltaSnap(configuration.GetSection("DeltaSnap"), r => r.AddLvol())
            .BuildServiceProvider();

        Assert.That(provider.GetRequiredService<IOptions<DeltaSnapOptions>>().Value.ClusterSize, Is.EqualTo(65536));
        var refresh = provider.GetRequiredService<RefreshOptions>();
        Assert.That(refresh.Delta.ClusterSize, Is.EqualTo(65536));
        Assert.That(refresh.Delta.RefinementBlockSize, Is.Zero);
        Assert.That(refresh.CleanupTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(refresh.Plan.AllowFullResend, Is.True);
        // Without a logger factory or meter factory in the container, both are built without (no exception).
        Assert.That(provider.GetRequiredService<Replicator>(), Is.Not.Null);
        Assert.That(provider.GetRequiredService<VolumeResolver>().Schemes, Is.EqualTo(new[] { "lvol" }));
    }

    [TestCase("ClusterSize", "3000", "DeltaSnap:ClusterSize")]
    [TestCase("RefinementBlockSize", "2097152", "DeltaSnap:RefinementBlockSize")]
    [TestCase("CleanupTimeout", "-00:00:05", "DeltaSnap:CleanupTimeout")]
    [TestCase("MaxDegreeOfParallelism", "0", "DeltaSnap:MaxDegreeOfParallelism")]
    public async Task Host_invalidSetting_failsAtStart_namingTheSetting(string key, string value, string named)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [$"DeltaSnap:{key}"] = value });
        builder.Services.AddDeltaSnap(builder.Configuration.GetSection("DeltaSnap"), r => r.AddLvol());
        using var host = builder.Build();

        var e = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.That(e!.Message, Does.StartWith(named + ": "));
        await host.StopAsync().ConfigureAwait(false);
    }

    [Test]
    public async Task Host_validSettings_starts()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["DeltaSnap:ClusterSize"] = "4096", ["DeltaSnap:RefinementBlockSize"] = "512" });
        builder.Services.AddDeltaSnap(builder.Configuration.GetSection("DeltaSnap"), r => r.AddLvol());
        using var host = builder.Build();
        await host.StartAsync().ConfigureAwait(false);
        Assert.That(host.Services.GetRequiredService<RefreshOptions>().Delta.ClusterSize, Is.EqualTo(4096));
        await host.StopAsync().ConfigureAwait(false);
    }

    [Test]
    public void Validator_reusesCoreRules_refinementNotBelowCluster()
    {
        var result = new DeltaSnapOptionsValidator().Validate(null, new DeltaSnapOptions { ClusterSize = 4096, RefinementBlockSize = 4096 });
        Assert.That(result.Failed, Is.True);
        Assert.That(result.FailureMessage, Does.StartWith("DeltaSnap:RefinementBlockSize:").And.Contain("smaller than the cluster size"));
        Assert.That(new DeltaSnapOptionsValidator().Validate(null, new DeltaSnapOptions()).Succeeded, Is.True);
    }

    [Test]
    public async Task ScheduledRefreshSample_once_exitsZero_copyVerified()
    {
        var exitCode = await ScheduledRefreshApp.RunAsync(["--once", $"--ScheduledRefresh:Directory={_directory}", "--ScheduledRefresh:Keep=1"]).ConfigureAwait(false);

        Assert.That(exitCode, Is.Zero);
        var resolver = new VolumeResolver().AddLvol();
        var source = await resolver.OpenVolumeAsync($"lvol:{_directory}/site-a.lvs#data").ConfigureAwait(false);
        await using var sourceDriver = source.Driver.ConfigureAwait(false);
        var target = await resolver.OpenVolumeAsync($"lvol:{_directory}/site-b.lvs#data").ConfigureAwait(false);
        await using var targetDriver = target.Driver.ConfigureAwait(false);
        var sourceSnapshots = (await source.GetLineageAsync().ConfigureAwait(false)).Where(s => s.Name.StartsWith(ScheduledRefreshWorker.SnapshotPrefix, StringComparison.Ordinal)).ToList();
        var targetLineage = await target.GetLineageAsync().ConfigureAwait(false);
        Assert.That(sourceSnapshots, Has.Count.EqualTo(1));
        var name = sourceSnapshots[0].Name;
        Assert.That(targetLineage.Find(name), Is.Not.Null);
        Assert.That(await ScheduledRefreshWorker.DigestAsync(target, name).ConfigureAwait(false), Is.EqualTo(await ScheduledRefreshWorker.DigestAsync(source, name).ConfigureAwait(false)));
    }

    private sealed class RecordingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new RecordingLogger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class RecordingLogger(RecordingLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                provider.Entries.Enqueue((category, formatter(state, exception)));
        }
    }
}
