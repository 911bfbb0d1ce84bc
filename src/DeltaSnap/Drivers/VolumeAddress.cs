namespace DeltaSnap.Drivers;

/// <summary>
/// A volume named by URI, parsed by its backend's registration (<see cref="VolumeBackend.ParseAddress"/>, usually
/// through <see cref="VolumeResolver.ParseAddress"/>): <c>lvol:STORE#VOLUME</c>, <c>zfs:POOL/DATASET</c>,
/// <c>btrfs:/MOUNT/PATH/SUBVOLUME</c>, <c>rbd:POOL/IMAGE</c>, or whatever a registered backend accepts.
/// </summary>
/// <param name="Scheme">The backend (<c>lvol</c>, <c>zfs</c>, <c>btrfs</c>, <c>rbd</c>, …), in lower case.</param>
/// <param name="Location">
/// Where the backend finds the volume's container: the store file, the pool, the parent directory. A driver opened for
/// it (<see cref="VolumeBackend.OpenDriverAsync"/>) knows the volume as <paramref name="Name"/>.
/// </param>
/// <param name="Name">The volume's name in the driver opened for <paramref name="Location"/>.</param>
public sealed record VolumeAddress(string Scheme, string Location, string Name)
{
    private readonly string? _text;

    /// <summary>
    /// The address as text (<c>scheme:…</c>): as parsed, with the scheme in lower case; for an address made with the
    /// constructor, <c>Scheme:Name</c> unless set.
    /// </summary>
    public string Text
    {
        get => _text ?? $"{Scheme}:{Name}";
        init => _text = value;
    }

    /// <summary>Whether both name the same volume: same scheme, location and name (the text is not compared).</summary>
    public bool Equals(VolumeAddress? other) =>
        other is not null
        && string.Equals(Scheme, other.Scheme, StringComparison.Ordinal)
        && string.Equals(Location, other.Location, StringComparison.Ordinal)
        && string.Equals(Name, other.Name, StringComparison.Ordinal);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Scheme, Location, Name);

    /// <inheritdoc />
    public override string ToString() => Text;
}
