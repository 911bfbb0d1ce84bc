using DeltaSnap.Drivers;
using DeltaSnap.Zfs;
using Microsoft.Extensions.Logging;

namespace DeltaSnap
{
    /// <summary>Registers the ZFS backend (<c>zfs:POOL/DATASET</c>) with a <see cref="VolumeResolver"/>.</summary>
    public static class ZfsVolumeResolverExtensions
    {
        /// <summary>Registers the ZFS backend with the default driver options.</summary>
        /// <exception cref="ArgumentException">The resolver has a <c>zfs</c> backend already.</exception>
        public static VolumeResolver AddZfs(this VolumeResolver resolver) => resolver.AddZfs(new ZfsDriverOptions());

        /// <summary>Registers the ZFS backend; every driver it opens uses <paramref name="options"/>.</summary>
        /// <exception cref="ArgumentException">
        /// The resolver has a <c>zfs</c> backend already, or the options set <see cref="ZfsDriverOptions.Root"/> (addresses
        /// name whole datasets, so drivers opened for them have no root).
        /// </exception>
        public static VolumeResolver AddZfs(this VolumeResolver resolver, ZfsDriverOptions options)
        {
            ArgumentNullException.ThrowIfNull(resolver);
            ArgumentNullException.ThrowIfNull(options);
            if (options.Root is not null)
            {
                throw new ArgumentException("Addresses name whole datasets (zfs:POOL/DATASET): the options of a registered ZFS backend cannot set a root.", nameof(options));
            }
            return resolver.Add(new ZfsBackend(options));
        }
    }
}

namespace DeltaSnap.Zfs
{
    /// <summary>
    /// The ZFS backend's registration: <c>zfs:POOL/DATASET</c>; the location is the pool, the volume name the whole
    /// dataset name (drivers are opened without a root).
    /// </summary>
    internal sealed class ZfsBackend(ZfsDriverOptions options) : VolumeBackend(ZfsDriver.SchemeName)
    {
        public override string AddressSyntax => "zfs:POOL/DATASET";

        // Names are checked before any zfs command runs.
        protected override VolumeAddress ParseAddressCore(string path) =>
            ParsePoolQualifiedAddress(path, name => ZfsDriver.DatasetRules.Validate(name, "ZFS dataset name"));

        protected override async Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken) =>
            await ZfsDriver.OpenAsync(options, loggerFactory, cancellationToken).ConfigureAwait(false);
    }
}
