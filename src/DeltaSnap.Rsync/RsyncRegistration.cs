using DeltaSnap.Drivers;
using DeltaSnap.Rsync;
using Microsoft.Extensions.Logging;

namespace DeltaSnap
{
    /// <summary>Registers the <c>dir:</c> and <c>file:</c> backends of DeltaSnap.Rsync with a <see cref="VolumeResolver"/>.</summary>
    public static class RsyncVolumeResolverExtensions
    {
        /// <summary>Registers <c>dir:/PARENT/NAME</c> volumes (directory trees with snapshots in a hidden sibling).</summary>
        /// <exception cref="ArgumentException">The resolver has a <c>dir</c> backend already.</exception>
        public static VolumeResolver AddDir(this VolumeResolver resolver)
        {
            ArgumentNullException.ThrowIfNull(resolver);
            return resolver.Add(new DirectoryVolumeBackend(DirDriver.SchemeName, "dir:/PARENT/NAME", static (root, lf) => new DirDriver(root, lf)));
        }

        /// <summary>Registers <c>file:/PARENT/NAME</c> volumes (sparse image files as block volumes).</summary>
        /// <exception cref="ArgumentException">The resolver has a <c>file</c> backend already.</exception>
        public static VolumeResolver AddFile(this VolumeResolver resolver)
        {
            ArgumentNullException.ThrowIfNull(resolver);
            return resolver.Add(new DirectoryVolumeBackend(FileDriver.SchemeName, "file:/PARENT/NAME", static (root, lf) => new FileDriver(root, lf)));
        }
    }
}

namespace DeltaSnap.Rsync
{
    /// <summary>
    /// The registration of a backend whose volumes are entries of a directory (<c>dir:</c>, <c>file:</c>): the address is an
    /// absolute path, the driver's location its parent directory and the volume's name its last component.
    /// </summary>
    internal sealed class DirectoryVolumeBackend(string scheme, string syntax, Func<string, ILoggerFactory, VolumeDriver> openDriver) : VolumeBackend(scheme)
    {
        public override string AddressSyntax => syntax;

        protected override VolumeAddress ParseAddressCore(string path)
        {
            if (!path.StartsWith('/') || path.Split('/').Any(p => p is ".." or "."))
            {
                throw new FormatException($"'{Scheme}:{path}' is not a {Scheme} address: expected an absolute path without '.' or '..' components ({AddressSyntax}).");
            }
            var full = Path.TrimEndingDirectorySeparator(path);
            var root = Path.GetDirectoryName(full);
            var name = Path.GetFileName(full);
            if (string.IsNullOrEmpty(root) || string.IsNullOrEmpty(name))
            {
                throw new FormatException($"'{Scheme}:{path}' must name a volume below a directory ({AddressSyntax}).");
            }
            return new VolumeAddress(Scheme, root, name);
        }

        protected override Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken) =>
            Task.FromResult(openDriver(location, loggerFactory));
    }
}
