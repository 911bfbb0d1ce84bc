using DeltaSnap.Btrfs;
using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap
{
    /// <summary>Registers the Btrfs backend (<c>btrfs:/MOUNT/PATH/SUBVOLUME</c>) with a <see cref="VolumeResolver"/>.</summary>
    public static class BtrfsVolumeResolverExtensions
    {
        /// <summary>Registers the Btrfs backend with the default driver options.</summary>
        /// <exception cref="ArgumentException">The resolver has a <c>btrfs</c> backend already.</exception>
        public static VolumeResolver AddBtrfs(this VolumeResolver resolver) => resolver.AddBtrfs(new BtrfsDriverOptions());

        /// <summary>Registers the Btrfs backend; every driver it opens uses <paramref name="options"/> (snapshot layout, program).</summary>
        /// <exception cref="ArgumentException">The resolver has a <c>btrfs</c> backend already, or the options are not usable.</exception>
        public static VolumeResolver AddBtrfs(this VolumeResolver resolver, BtrfsDriverOptions options)
        {
            ArgumentNullException.ThrowIfNull(resolver);
            ArgumentNullException.ThrowIfNull(options);
            options.Validate();
            return resolver.Add(new BtrfsBackend(options));
        }
    }
}

namespace DeltaSnap.Btrfs
{
    /// <summary>
    /// The Btrfs backend's registration: <c>btrfs:/MOUNT/PATH/SUBVOLUME</c> is volume <c>SUBVOLUME</c> of the driver rooted at
    /// <c>/MOUNT/PATH</c> (the location).
    /// </summary>
    internal sealed class BtrfsBackend(BtrfsDriverOptions options) : VolumeBackend(BtrfsDriver.SchemeName)
    {
        public override string AddressSyntax => "btrfs:/MOUNT/PATH/SUBVOLUME";

        private static NameRules PathNames { get; } = new() { AllowSlash = true, MaxLength = 4095, ForbiddenCharacters = "" };

        protected override VolumeAddress ParseAddressCore(string path)
        {
            if (!path.StartsWith('/') || path.Split('/').Any(p => p is ".." or "."))
            {
                throw new FormatException($"'{Scheme}:{path}' is not a btrfs address: expected an absolute path without '.' or '..' components (path traversal; {AddressSyntax}).");
            }
            var full = BtrfsDriver.Normalize(path);
            var root = Path.GetDirectoryName(full);
            var name = Path.GetFileName(full);
            if (string.IsNullOrEmpty(root) || string.IsNullOrEmpty(name))
            {
                throw new FormatException($"'{Scheme}:{path}' must name a subvolume below a directory, such as btrfs:/mnt/data/vm1.");
            }
            // Every component is checked before any btrfs command runs: the directories above the subvolume by the path
            // rules (no control or format characters, no leading '-'), the subvolume by the volume rules.
            PathNames.Validate(path.TrimStart('/'), "Btrfs path");
            BtrfsDriver.VolumeNames.Validate(name, "Btrfs subvolume name");
            return new VolumeAddress(Scheme, root, name);
        }

        protected override Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken) =>
            Task.FromResult<VolumeDriver>(new BtrfsDriver(location, options, loggerFactory));
    }
}
