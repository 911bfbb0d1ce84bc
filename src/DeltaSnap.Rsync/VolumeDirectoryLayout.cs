using DeltaSnap.Drivers;

namespace DeltaSnap.Rsync;

/// <summary>Where a <c>dir:</c> or <c>file:</c> volume keeps its snapshots and catalog: a hidden sibling <c>.NAME.deltasnap</c> of the volume.</summary>
internal static class VolumeDirectoryLayout
{
    public const string Suffix = ".deltasnap";

    /// <summary>Rules for volume names: one path component, the usual forbidden characters, no leading dot (the metadata directories are hidden).</summary>
    public static NameRules VolumeNames { get; } = new() { MaxLength = 200 };

    public static string MetadataDirectory(string root, string name) => Path.Combine(root, "." + name + Suffix);

    /// <summary>Validates a driver's root directory: absolute, no control characters, no <c>..</c> component.</summary>
    public static string ValidateRoot(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        if (!Path.IsPathFullyQualified(rootDirectory) || rootDirectory.Any(char.IsControl) || rootDirectory.Split('/').Any(p => p == ".."))
        {
            throw new ArgumentException($"The root directory '{Printable(rootDirectory)}' must be an absolute path without control characters or '..' components.", nameof(rootDirectory));
        }
        return Path.TrimEndingDirectorySeparator(rootDirectory);
    }

    public static void ValidateVolumeName(string name)
    {
        VolumeNames.Validate(name, "volume name");
        if (name.StartsWith('.'))
        {
            throw new ArgumentException($"The volume name '{name}' starts with '.', which this backend reserves for its metadata.", nameof(name));
        }
    }

    /// <summary>Splits <c>scheme:/PARENT/NAME</c> into the driver root and the volume name.</summary>
    public static (string Root, string Name) Split(VolumeAddress address, string scheme)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!string.Equals(address.Scheme, scheme, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{address}' is not a {scheme} address ({scheme}:/PATH).", nameof(address));
        }
        var path = Path.TrimEndingDirectorySeparator(address.Name);
        var root = Path.GetDirectoryName(path);
        var name = Path.GetFileName(path);
        if (string.IsNullOrEmpty(root) || string.IsNullOrEmpty(name))
        {
            throw new ArgumentException($"'{address}' names no volume below a directory.", nameof(address));
        }
        return (root, name);
    }

    private static string Printable(string text) => new(text.Take(80).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
