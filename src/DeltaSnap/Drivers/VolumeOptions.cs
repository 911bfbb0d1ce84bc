using DeltaSnap.Lineage;

namespace DeltaSnap.Drivers;

/// <summary>How to create a volume.</summary>
public sealed record VolumeCreateOptions
{
    private readonly long _size;

    /// <summary>Block or file system. Must be one the driver supports.</summary>
    public VolumeKind Kind { get; init; } = VolumeKind.Block;

    /// <summary>The size in bytes, for block volumes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public long Size
    {
        get => _size;
        init
        {
            ThrowHelper.ThrowIfNegative(value);
            _size = value;
        }
    }

    /// <summary>Allocate on first write (thin) rather than up front, where the backend can choose.</summary>
    public bool Thin { get; init; } = true;
}

/// <summary>How to create a snapshot.</summary>
public sealed record SnapshotCreateOptions
{
    /// <summary>The creation time to record, where the backend can (a refresh keeps the source's); null for now.</summary>
    public DateTimeOffset? CreatedUtc { get; init; }

    /// <summary>The source snapshot this one replicates, recorded where the backend can, so later refreshes match by identity.</summary>
    public SnapshotIdentity? ReceivedFrom { get; init; }
}

/// <summary>Options of a native send.</summary>
public sealed record NativeSendOptions
{
    /// <summary>Send blocks compressed as stored (<c>zfs send -c</c>) where supported.</summary>
    public bool Compressed { get; init; }

    /// <summary>Send raw (encrypted) blocks (<c>zfs send -w</c>) where supported. Never mixed with non-raw in one chain.</summary>
    public bool Raw { get; init; }

    /// <summary>Resume an interrupted send from the target's resume token, where supported.</summary>
    public string? ResumeToken { get; init; }
}

/// <summary>What a native receive is to produce on the target.</summary>
public sealed record NativeReceiveRequest
{
    /// <summary>The source snapshot being received (name, identity, time).</summary>
    public required SnapshotInfo Snapshot { get; init; }

    /// <summary>The target snapshot the stream is incremental from, or null for a full stream.</summary>
    public SnapshotInfo? TargetBase { get; init; }

    /// <summary>Keep a partially received state to resume from, where supported.</summary>
    public bool Resumable { get; init; }
}
