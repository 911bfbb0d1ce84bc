using DeltaSnap;
using DeltaSnap.Lvol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Sample2_ScheduledRefresh;

/// <summary>Builds and runs the host.</summary>
public static class ScheduledRefreshApp
{
    /// <summary>Runs the worker until stopped, or once with <c>--once</c>; returns the process exit code (0: every refresh verified).</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var once = args.Contains("--once", StringComparer.Ordinal);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args.Where(a => a != "--once").ToArray(),
            // appsettings.json beside the assembly, wherever it is started from (also from a test).
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Services.AddOptions<ScheduledRefreshOptions>().Bind(builder.Configuration.GetSection(ScheduledRefreshOptions.SectionName));
        builder.Services.AddMetrics();
        // Missing lvol stores are created when a volume is created in them (only when the sample makes its demo volumes).
        builder.Services.AddDeltaSnap(builder.Configuration.GetSection("DeltaSnap"),
            r => r.AddLvol(new LvolBackendOptions { CreateMissingStores = true }));
        var outcome = new RunOutcome(once);
        builder.Services.AddSingleton(outcome);
        builder.Services.AddHostedService<DeltaSnapMeterLog>();
        builder.Services.AddHostedService<ScheduledRefreshWorker>();

        using var host = builder.Build();
        // RunAsync disposes the host (and its services): the outcome is read from the instance kept here.
        await host.RunAsync(cancellationToken).ConfigureAwait(false);
        return outcome.ExitCode;
    }
}

/// <summary>What the worker reports back to <see cref="ScheduledRefreshApp.RunAsync"/>.</summary>
public sealed class RunOutcome(bool once)
{
    /// <summary>Whether to run one snapshot and refresh, then stop.</summary>
    public bool Once { get; } = once;

    /// <summary>0 while every refresh has been verified; 1 after a failure.</summary>
    public int ExitCode { get; set; } = 1;

    /// <summary>Refreshes done and verified.</summary>
    public int VerifiedRefreshes { get; set; }
}
