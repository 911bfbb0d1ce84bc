namespace DeltaSnap;

/// <summary>
/// A snapshot's identity as its backend knows it, independent of its name: a ZFS GUID, a Btrfs subvolume
/// UUID, an lvol UUID, or an RBD image name with the snapshot's creation timestamp. Two snapshots are the
/// same snapshot when their identities are equal (or one was received from the other).
/// </summary>
/// <remarks>
/// It lives with the layer-1 primitives (not in the lineage layer) because the delta stream header, two
/// layers lower, carries the identities of its base and target snapshots.
/// </remarks>
public readonly record struct SnapshotIdentity
{
    /// <summary>Creates an identity.</summary>
    /// <param name="kind">What the value is: <c>zfs-guid</c>, <c>btrfs-uuid</c>, <c>lvol-uuid</c>, <c>rbd</c>, <c>file</c>, …</param>
    /// <param name="value">The value in the backend's own text form.</param>
    /// <exception cref="ArgumentException">The kind or value is empty or holds control characters.</exception>
    public SnapshotIdentity(string kind, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(kind);
        ArgumentException.ThrowIfNullOrEmpty(value);
        if (kind.Any(char.IsControl) || value.Any(char.IsControl) || kind.Contains(':', StringComparison.Ordinal))
        {
            ThrowHelper.ThrowArgument(nameof(value), "A snapshot identity holds no control characters, and its kind no ':'.");
        }
        Kind = kind;
        Value = value;
    }

    /// <summary>What the value is (<c>zfs-guid</c>, <c>btrfs-uuid</c>, …).</summary>
    public string Kind { get; }

    /// <summary>The backend's identity value.</summary>
    public string Value { get; }

    /// <summary>Whether this is the default (empty) identity.</summary>
    public bool IsEmpty => Kind is null;

    /// <summary>Parses the <c>kind:value</c> form <see cref="ToString"/> writes.</summary>
    /// <exception cref="FormatException">The text is not of that form.</exception>
    public static SnapshotIdentity Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == text.Length - 1)
        {
            throw new FormatException($"'{text}' is not a snapshot identity of the form kind:value.");
        }
        return new SnapshotIdentity(text[..colon], text[(colon + 1)..]);
    }

    /// <inheritdoc />
    public override string ToString() => IsEmpty ? "" : $"{Kind}:{Value}";
}
