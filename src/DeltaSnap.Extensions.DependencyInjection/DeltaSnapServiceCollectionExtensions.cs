using System.Diagnostics.Metrics;
using DeltaSnap.Drivers;
using DeltaSnap.Extensions.DependencyInjection;
using DeltaSnap.Replication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers DeltaSnap with a service collection: a singleton <see cref="VolumeResolver"/> with the backends the callback
/// adds (<c>services.AddDeltaSnap(r =&gt; r.AddLvol().AddZfs())</c>), a singleton <see cref="Replicator"/>, both built with the
/// container's <see cref="ILoggerFactory"/> and <see cref="IMeterFactory"/> (where registered), and <see cref="DeltaSnapOptions"/>
/// (optionally bound from configuration) validated on start, with the <see cref="RefreshOptions"/> they describe.
/// </summary>
/// <remarks>
/// The replicator takes a <see cref="TreeSynchronizer"/> from the container when one is registered
/// (<c>services.AddSingleton&lt;TreeSynchronizer&gt;(new RsyncTreeSynchronizer())</c> from DeltaSnap.Rsync), which opens the
/// route between file system volumes of different backends. Call <c>AddDeltaSnap</c> once: the services are added with
/// <c>TryAdd</c>, so a second call adds nothing (and its callback is never run).
/// </remarks>
public static class DeltaSnapServiceCollectionExtensions
{
    /// <summary>Registers DeltaSnap with default <see cref="DeltaSnapOptions"/>.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configureResolver">Adds the backends to the resolver (<c>r =&gt; r.AddLvol()</c>); it runs once, when the resolver is first resolved.</param>
    /// <returns>The service collection, to chain calls.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IServiceCollection AddDeltaSnap(this IServiceCollection services, Action<VolumeResolver> configureResolver)
    {
        ArgumentNullException.ThrowIfNull(configureResolver);
        return services.AddDeltaSnap((resolver, _) => configureResolver(resolver));
    }

    /// <summary>Registers DeltaSnap with default <see cref="DeltaSnapOptions"/>; the callback can take backend options from the container.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configureResolver">Adds the backends to the resolver, with the service provider at hand (<c>(r, sp) =&gt; r.AddLvol(sp.GetRequiredService&lt;IOptions&lt;LvolBackendOptions&gt;&gt;().Value)</c>).</param>
    /// <returns>The service collection, to chain calls.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IServiceCollection AddDeltaSnap(this IServiceCollection services, Action<VolumeResolver, IServiceProvider> configureResolver)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configureResolver);
        AddOptions(services, DeltaSnapOptions.SectionName);
        return AddCore(services, configureResolver);
    }

    /// <summary>Registers DeltaSnap with <see cref="DeltaSnapOptions"/> bound from a configuration section (<c>configuration.GetSection("DeltaSnap")</c>) and validated on start.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section to bind <see cref="DeltaSnapOptions"/> from; validation messages name settings by its path.</param>
    /// <param name="configureResolver">Adds the backends to the resolver.</param>
    /// <returns>The service collection, to chain calls.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IServiceCollection AddDeltaSnap(this IServiceCollection services, IConfiguration configuration, Action<VolumeResolver> configureResolver)
    {
        ArgumentNullException.ThrowIfNull(configureResolver);
        return services.AddDeltaSnap(configuration, (resolver, _) => configureResolver(resolver));
    }

    /// <summary>Registers DeltaSnap with <see cref="DeltaSnapOptions"/> bound from a configuration section and validated on start; the callback can take backend options from the container.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section to bind <see cref="DeltaSnapOptions"/> from; validation messages name settings by its path.</param>
    /// <param name="configureResolver">Adds the backends to the resolver, with the service provider at hand.</param>
    /// <returns>The service collection, to chain calls.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IServiceCollection AddDeltaSnap(this IServiceCollection services, IConfiguration configuration, Action<VolumeResolver, IServiceProvider> configureResolver)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(configureResolver);
        AddOptions(services, (configuration as IConfigurationSection)?.Path ?? "").Bind(configuration);
        return AddCore(services, configureResolver);
    }

    private static OptionsBuilder<DeltaSnapOptions> AddOptions(IServiceCollection services, string sectionPath)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DeltaSnapOptions>>(new DeltaSnapOptionsValidator(sectionPath)));
        return services.AddOptions<DeltaSnapOptions>().ValidateOnStart();
    }

    private static IServiceCollection AddCore(IServiceCollection services, Action<VolumeResolver, IServiceProvider> configureResolver)
    {
        services.TryAddSingleton(sp =>
        {
            var resolver = new VolumeResolver(sp.GetService<ILoggerFactory>());
            configureResolver(resolver, sp);
            return resolver;
        });
        services.TryAddSingleton(sp => new Replicator(sp.GetService<ILoggerFactory>(), sp.GetService<IMeterFactory>())
        {
            TreeSynchronizer = sp.GetService<TreeSynchronizer>(),
        });
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<DeltaSnapOptions>>().Value.ToRefreshOptions());
        return services;
    }
}
