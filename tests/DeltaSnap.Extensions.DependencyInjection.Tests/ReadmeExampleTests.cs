using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Lvol;
using DeltaSnap.Replication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DeltaSnap.Extensions.DependencyInjection.Tests;

/// <summary>The root README's "Embedding with DI" program, with its paths in a temporary directory.</summary>
public sealed class ReadmeExampleTests
{
    [Test]
    public async Task ReadmeProgram_runs_fullRefreshOverLvol()
    {
        var dir = Path.Combine(Path.GetTempPath(), "deltasnap-readme-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            string[] args = [];
            var builder = Host.CreateApplicationBuilder(args);
            builder.Services.AddMetrics();
            builder.Services.AddDeltaSnap(builder.Configuration.GetSection("DeltaSnap"),
                r => r.AddLvol(new LvolBackendOptions { CreateMissingStores = true }));
            using var host = builder.Build();
            await host.StartAsync().ConfigureAwait(false);

            var resolver = host.Services.GetRequiredService<VolumeResolver>();
            var replicator = host.Services.GetRequiredService<Replicator>();
            var source = await resolver.CreateVolumeAsync($"lvol:{dir}/a.lvs#vm", new VolumeCreateOptions { Size = 64L << 20 }).ConfigureAwait(false);
            var target = await resolver.CreateVolumeAsync($"lvol:{dir}/b.lvs#vm", new VolumeCreateOptions { Size = 64L << 20 }).ConfigureAwait(false);
            await source.CreateSnapshotAsync("monday").ConfigureAwait(false);
            var result = await replicator.RefreshAsync(source, target, host.Services.GetRequiredService<RefreshOptions>()).ConfigureAwait(false);
            Assert.That(result.Kind, Is.EqualTo(RefreshKind.Full));
            Assert.That((await target.GetLineageAsync().ConfigureAwait(false)).Find("monday"), Is.Not.Null);
            await source.Driver.DisposeAsync().ConfigureAwait(false);
            await target.Driver.DisposeAsync().ConfigureAwait(false);
            await host.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
