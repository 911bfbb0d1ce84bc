using DeltaSnap.Delta;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Replication;

/// <summary>How a refresh runs.</summary>
public sealed record RefreshOptions
{
    /// <summary>The default of <see cref="CleanupTimeout"/>: two minutes.</summary>
    public static readonly TimeSpan DefaultCleanupTimeout = TimeSpan.FromMinutes(2);

    private readonly RefreshPlanOptions _plan = new();
    private readonly NativeSendOptions _native = new();
    private readonly DeltaPlanOptions _delta = new();
    private readonly TimeSpan _cleanupTimeout = DefaultCleanupTimeout;
    private readonly TimeSpan _checkpointInterval = TimeSpan.FromSeconds(5);

    /// <summary>What the plan may do: full resend over an unrelated target, keep target-only snapshots, and so on.</summary>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    public RefreshPlanOptions Plan
    {
        get => _plan;
        init
        {
            ThrowHelper.ThrowIfNull(value);
            _plan = value;
        }
    }

    /// <summary>Options of native streams (compressed, raw).</summary>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    public NativeSendOptions Native
    {
        get => _native;
        init
        {
            ThrowHelper.ThrowIfNull(value);
            _native = value;
        }
    }

    /// <summary>
    /// How the checksum route compares and copies: cluster size (default 1 MiB), checksum algorithm (default
    /// XXH3-128), refinement block size (default 4 KiB; 0 copies whole clusters) and how many clusters are read
    /// and hashed at once (default: the processor count).
    /// </summary>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    public DeltaPlanOptions Delta
    {
        get => _delta;
        init
        {
            ThrowHelper.ThrowIfNull(value);
            _delta = value;
        }
    }

    /// <summary>
    /// Verify the whole target after a block transfer by reading all of it (default false: only what was
    /// written is read back and compared, so the cost follows the change, not the volume).
    /// </summary>
    public bool VerifyWholeVolume { get; init; }

    /// <summary>Never take the native-stream route, even between volumes of one backend.</summary>
    public bool DisableNativeStreams { get; init; }

    /// <summary>
    /// On the tree route, accept files that vanish from the source during the copy (an inconsistent copy, rsync's
    /// exit 24); by default that fails the refresh. Sources read from snapshots do not change, so this matters
    /// only for sources that are not snapshots.
    /// </summary>
    public bool AllowVanishedFiles { get; init; }

    /// <summary>
    /// Where the checksum route keeps its resume checkpoints (a directory on the receiving side; null, the default:
    /// no checkpoints, an interrupted copy starts over). With a directory, a copy into the target's live state records
    /// how far it got every <see cref="CheckpointInterval"/> (after flushing the target); a refresh that fails or is
    /// killed leaves the partial copy in the target's live state (its complete snapshots are never touched), and the
    /// next refresh from the same source onto the same base compares the source with the target's live content
    /// instead of rolling it back, so only what is missing or changed since moves. A checkpoint whose base is no
    /// longer the common base is discarded with a warning and the refresh starts over. On the native route, when the
    /// source's streams are reproducible (<see cref="DriverCapabilities.ReproducibleNativeStream"/>: Btrfs), each stream
    /// is spooled into a file in this directory and received once complete; an interrupted transfer keeps its spool (and
    /// the source snapshots it names), and the next refresh sending the same pair has the source send only what follows
    /// the spooled bytes, after checking their digest. A spool that is damaged or that the source's stream does not
    /// begin with, or whose snapshots are gone, is discarded with a warning. The spool needs room for the whole stream.
    /// </summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>How often a checkpoint is saved while copying (default 5 seconds).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public TimeSpan CheckpointInterval
    {
        get => _checkpointInterval;
        init
        {
            if (value <= TimeSpan.Zero)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "The checkpoint interval must be positive.");
            }
            _checkpointInterval = value;
        }
    }

    /// <summary>Discard the target's resume checkpoint, if any, and refresh from its newest complete snapshot (the CLI's <c>--abort-resume</c>).</summary>
    public bool AbortResume { get; init; }

    /// <summary>
    /// How long the cleanup after a failed refresh may take (deleting the temporary snapshots on both sides,
    /// rolling the target back). It runs even when the refresh was cancelled, so it does not use the caller's
    /// token but this limit. Default <see cref="DefaultCleanupTimeout"/>; <see cref="Timeout.InfiniteTimeSpan"/> for none.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan CleanupTimeout
    {
        get => _cleanupTimeout;
        init
        {
            if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "The cleanup timeout must be positive, or Timeout.InfiniteTimeSpan.");
            }
            _cleanupTimeout = value;
        }
    }
}
