using DeltaSnap.Ceph;
using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap
{
    /// <summary>Registers the Ceph RBD backend (<c>rbd:POOL/IMAGE</c>) with a <see cref="VolumeResolver"/>.</summary>
    public static class RbdVolumeResolverExtensions
    {
        /// <summary>
        /// Registers the RBD backend with the default driver options: each driver it opens connects by the environment's
        /// settings (<c>CEPH_CONF</c>, <c>CEPH_KEYRING</c>, <c>CEPH_ARGS</c>).
        /// </summary>
        /// <exception cref="ArgumentException">The resolver has an <c>rbd</c> backend already.</exception>
        public static VolumeResolver AddRbd(this VolumeResolver resolver) => resolver.AddRbd(new RbdDriverOptions());

        /// <summary>Registers the RBD backend; every driver it opens connects and creates images with <paramref name="options"/>.</summary>
        /// <exception cref="ArgumentException">The resolver has an <c>rbd</c> backend already.</exception>
        public static VolumeResolver AddRbd(this VolumeResolver resolver, RbdDriverOptions options)
        {
            ArgumentNullException.ThrowIfNull(resolver);
            ArgumentNullException.ThrowIfNull(options);
            return resolver.Add(new RbdBackend(options));
        }
    }
}

namespace DeltaSnap.Ceph
{
    /// <summary>
    /// The RBD backend's registration: <c>rbd:POOL/IMAGE</c> (or <c>rbd:POOL/NAMESPACE/IMAGE</c>); the location is the pool,
    /// the volume name the whole <c>POOL/IMAGE</c>. The drivers it opens share one cluster connection while any of them
    /// is open (a refresh between two pools connects once, not twice: each connection costs a monitor handshake, an OSD
    /// session and a shutdown).
    /// </summary>
    internal sealed class RbdBackend(RbdDriverOptions options) : VolumeBackend(RbdDriver.SchemeName)
    {
        private readonly Interop.SharedRadosConnection _connection = new(options.Connection);

        public override string AddressSyntax => "rbd:POOL/IMAGE";

        // Names are checked before any connection is attempted.
        protected override VolumeAddress ParseAddressCore(string path) =>
            ParsePoolQualifiedAddress(path, name => RbdDriver.ImageNames.Validate(name, "RBD pool/image name"));

        protected override async Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
        {
            RbdDriver.Validate(options);
            var cluster = await _connection.AcquireAsync(RbdDriver.CreateLogger(loggerFactory), cancellationToken).ConfigureAwait(false);
            return new RbdDriver(cluster, options, loggerFactory);
        }
    }
}
