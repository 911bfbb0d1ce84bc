using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using Microsoft.Extensions.Logging;

namespace DeltaSnap
{
    /// <summary>Registers the lvol backend (<c>lvol:STORE#VOLUME</c>) with a <see cref="VolumeResolver"/>.</summary>
    public static class LvolVolumeResolverExtensions
    {
        /// <summary>Registers the lvol backend with the default options (stores must exist).</summary>
        /// <exception cref="ArgumentException">The resolver has an <c>lvol</c> backend already.</exception>
        public static VolumeResolver AddLvol(this VolumeResolver resolver) => resolver.AddLvol(new LvolBackendOptions());

        /// <summary>Registers the lvol backend.</summary>
        /// <exception cref="ArgumentException">The resolver has an <c>lvol</c> backend already, or the options are not usable.</exception>
        public static VolumeResolver AddLvol(this VolumeResolver resolver, LvolBackendOptions options)
        {
            ArgumentNullException.ThrowIfNull(resolver);
            ArgumentNullException.ThrowIfNull(options);
            options.Validate();
            return resolver.Add(new LvolBackend(options));
        }
    }
}

namespace DeltaSnap.Lvol
{
    /// <summary>How the lvol backend registered with a <see cref="VolumeResolver"/> treats addresses.</summary>
    public sealed record LvolBackendOptions
    {
        /// <summary>
        /// Whether creating a volume at an address whose store file does not exist creates the store first (with
        /// <see cref="StoreClusterSize"/>); false (the default) fails with <see cref="FileNotFoundException"/> instead.
        /// </summary>
        public bool CreateMissingStores { get; init; }

        /// <summary>The cluster size of stores made by <see cref="CreateMissingStores"/>: a power of two from 4 KiB to 64 MiB.</summary>
        public int StoreClusterSize { get; init; } = ClusterLayout.DefaultClusterSize;

        internal void Validate()
        {
            if (StoreClusterSize is < ClusterLayout.MinClusterSize or > ClusterLayout.MaxClusterSize || (StoreClusterSize & (StoreClusterSize - 1)) != 0)
            {
                throw new ArgumentException($"The store cluster size {StoreClusterSize} is not a power of two from 4 KiB to 64 MiB.", nameof(StoreClusterSize));
            }
        }
    }

    /// <summary>The lvol backend's registration: <c>lvol:STORE#VOLUME</c>, the store file's path before the last <c>#</c>.</summary>
    internal sealed class LvolBackend(LvolBackendOptions options) : VolumeBackend(LvolDriver.SchemeName)
    {
        public override string AddressSyntax => "lvol:STORE#VOLUME";

        protected override VolumeAddress ParseAddressCore(string path)
        {
            var hash = path.LastIndexOf('#');
            if (hash <= 0 || hash == path.Length - 1)
            {
                throw new FormatException($"'{Scheme}:{path}' is not an lvol address: expected {AddressSyntax}.");
            }
            // The name is checked before the store is opened.
            LvolDriver.VolumeNames.Validate(path[(hash + 1)..], "volume name");
            return new VolumeAddress(Scheme, path[..hash], path[(hash + 1)..]);
        }

        protected override async Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken) =>
            await LvolDriver.OpenAsync(location, loggerFactory, cancellationToken).ConfigureAwait(false);

        protected override async Task<Volume> CreateVolumeCoreAsync(VolumeAddress address, VolumeCreateOptions createOptions, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
        {
            if (options.CreateMissingStores && !File.Exists(address.Location))
            {
                // Validate the name before a store file appears for it.
                LvolDriver.VolumeNames.Validate(address.Name, "volume name");
                var driver = await LvolDriver.CreateStoreAsync(address.Location, options.StoreClusterSize, loggerFactory, cancellationToken).ConfigureAwait(false);
                try
                {
                    return await driver.CreateVolumeAsync(address.Name, createOptions, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    await driver.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }
            return await base.CreateVolumeCoreAsync(address, createOptions, loggerFactory, cancellationToken).ConfigureAwait(false);
        }
    }
}
