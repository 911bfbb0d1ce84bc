namespace DeltaSnap.Lineage;

/// <summary>A snapshot as its volume reports it.</summary>
public sealed record SnapshotInfo
{
    /// <summary>Creates snapshot information; the creation time is kept in UTC at whole seconds.</summary>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    public SnapshotInfo(string name, SnapshotIdentity identity, DateTimeOffset createdUtc)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Identity = identity;
        CreatedUtc = TruncateToSeconds(createdUtc);
    }

    /// <summary>The snapshot's name on its volume (without the volume part: <c>snap1</c>, not <c>pool/ds@snap1</c>).</summary>
    public string Name { get; }

    /// <summary>The backend's identity of this snapshot.</summary>
    public SnapshotIdentity Identity { get; }

    /// <summary>
    /// The creation time in UTC, at one precision (whole seconds) so that times read from different backends
    /// and code paths compare equal (Incus compared seconds with nanoseconds).
    /// </summary>
    public DateTimeOffset CreatedUtc { get; }

    /// <summary>The identity of the source snapshot this one was received from, if the backend or DeltaSnap recorded it.</summary>
    public SnapshotIdentity? ReceivedFrom { get; init; }

    /// <summary>The volume size at the snapshot, for block volumes.</summary>
    public long? Size { get; init; }

    /// <summary>Whether this is a temporary snapshot of a refresh (its name has <see cref="TemporarySnapshot.Prefix"/>).</summary>
    public bool IsTemporary => TemporarySnapshot.IsTemporary(Name);

    /// <summary>
    /// Whether this snapshot (on a target) is the same as <paramref name="source"/>: equal identities, or this
    /// one was received from it.
    /// </summary>
    public bool IsSameAs(SnapshotInfo source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Identity == source.Identity || (ReceivedFrom is { } from && (from == source.Identity || (source.ReceivedFrom is { } sf && sf == from)));
    }

    /// <summary>Cuts a time to whole seconds in UTC.</summary>
    public static DateTimeOffset TruncateToSeconds(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Identity}, {CreatedUtc:yyyy-MM-ddTHH:mm:ssZ})";
}

/// <summary>The reserved name prefix of the temporary snapshots a refresh takes, and helpers around it.</summary>
public static class TemporarySnapshot
{
    /// <summary>Every temporary snapshot's name starts with this; no user snapshot may.</summary>
    public const string Prefix = "deltasnap-tmp-";

    /// <summary>A new, unique temporary snapshot name.</summary>
    public static string NewName() => Prefix + Guid.NewGuid().ToString("N")[..16];

    /// <summary>Whether <paramref name="name"/> is a temporary snapshot's name.</summary>
    public static bool IsTemporary(string name) => name?.StartsWith(Prefix, StringComparison.Ordinal) == true;
}
