namespace DeltaSnap.Drivers;

/// <summary>
/// A volume named by URI, as the CLI and samples name them: <c>lvol:STORE#VOLUME</c>, <c>zfs:POOL/DATASET</c>,
/// <c>btrfs:/MOUNT/PATH/SUBVOLUME</c>, <c>rbd:POOL/IMAGE</c>, <c>file:/PATH</c>, <c>dir:/PATH</c>.
/// </summary>
/// <param name="Scheme">The backend (<c>lvol</c>, <c>zfs</c>, <c>btrfs</c>, <c>rbd</c>, <c>file</c>, <c>dir</c>).</param>
/// <param name="Location">Where the backend finds the volume's container: the store file, the pool, the mount.</param>
/// <param name="Name">The volume's name within it (for <c>lvol</c>, after <c>#</c>; for the others the whole path).</param>
public sealed record VolumeAddress(string Scheme, string Location, string Name)
{
    /// <summary>Parses an address.</summary>
    /// <exception cref="FormatException">The text has no scheme, an unknown one, or misses a part the scheme needs.</exception>
    public static VolumeAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new FormatException($"'{text}' is not a volume address: expected scheme:location, such as lvol:/var/lib/store#vm1 or zfs:tank/vm1.");
        }
        var scheme = text[..colon].ToLowerInvariant();
        var rest = text[(colon + 1)..];
        if (rest.Length == 0)
        {
            throw new FormatException($"'{text}' names no volume after '{scheme}:'.");
        }
        switch (scheme)
        {
            case "lvol":
                var hash = rest.LastIndexOf('#');
                if (hash <= 0 || hash == rest.Length - 1)
                {
                    throw new FormatException($"'{text}' is not an lvol address: expected lvol:STORE#VOLUME.");
                }
                return new VolumeAddress(scheme, rest[..hash], rest[(hash + 1)..]);
            case "zfs":
            case "rbd":
                var slash = rest.IndexOf('/', StringComparison.Ordinal);
                if (slash <= 0 || slash == rest.Length - 1)
                {
                    throw new FormatException($"'{text}' is not a {scheme} address: expected {scheme}:POOL/{(scheme == "zfs" ? "DATASET" : "IMAGE")}.");
                }
                return new VolumeAddress(scheme, rest[..slash], rest);
            case "btrfs":
            case "file":
            case "dir":
                if (!rest.StartsWith('/'))
                {
                    throw new FormatException($"'{text}' needs an absolute path after '{scheme}:'.");
                }
                return new VolumeAddress(scheme, Path.GetDirectoryName(rest) ?? "/", rest);
            default:
                throw new FormatException($"'{text}' has the unknown scheme '{scheme}'; known: lvol, zfs, btrfs, rbd, file, dir.");
        }
    }

    /// <inheritdoc />
    public override string ToString() => Scheme == "lvol" ? $"lvol:{Location}#{Name}" : $"{Scheme}:{Name}";
}
