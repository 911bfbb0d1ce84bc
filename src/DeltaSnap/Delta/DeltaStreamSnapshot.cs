namespace DeltaSnap.Delta;

/// <summary>
/// A snapshot named in a delta stream's header (its base or its target): name, backend identity and
/// creation time.
/// </summary>
public sealed record DeltaStreamSnapshot
{
    /// <summary>The largest name, identity kind or identity value in UTF-8 bytes: 1024.</summary>
    public const int MaxTextBytes = 1024;

    /// <summary>Creates a snapshot description.</summary>
    /// <param name="name">The snapshot's name on its volume.</param>
    /// <param name="identity">The snapshot's identity as its backend knows it.</param>
    /// <param name="createdAt">When the snapshot was made; it is kept in UTC to whole seconds (a fraction is dropped).</param>
    /// <exception cref="ArgumentException">The name is empty, holds control characters or is not valid Unicode; the
    /// identity is empty; or a text is longer than <see cref="MaxTextBytes"/> in UTF-8.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    public DeltaStreamSnapshot(string name, SnapshotIdentity identity, DateTimeOffset createdAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Any(char.IsControl))
        {
            ThrowHelper.ThrowArgument(nameof(name), "A snapshot name holds no control characters.");
        }
        if (identity.IsEmpty)
        {
            ThrowHelper.ThrowArgument(nameof(identity), "A snapshot in a delta stream needs its identity.");
        }
        CheckTextLength(name, nameof(name));
        CheckTextLength(identity.Kind, nameof(identity));
        CheckTextLength(identity.Value, nameof(identity));
        Name = name;
        Identity = identity;
        CreatedAt = DateTimeOffset.FromUnixTimeSeconds(createdAt.ToUnixTimeSeconds());
    }

    /// <summary>The snapshot's name on its volume.</summary>
    public string Name { get; }

    /// <summary>The snapshot's identity as its backend knows it.</summary>
    public SnapshotIdentity Identity { get; }

    /// <summary>When the snapshot was made, in UTC, to whole seconds.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Identity}, {CreatedAt:u})";

    private static void CheckTextLength(string text, string parameterName)
    {
        int length;
        try
        {
            length = DeltaStreamFormat.Utf8.GetByteCount(text);
        }
        catch (System.Text.EncoderFallbackException e)
        {
            throw new ArgumentException($"'{text}' is not valid Unicode (a lone surrogate).", parameterName, e);
        }
        if (length > MaxTextBytes)
        {
            ThrowHelper.ThrowArgument(parameterName, $"'{text}' is {length} bytes in UTF-8; a delta stream holds at most {MaxTextBytes}.");
        }
    }
}
