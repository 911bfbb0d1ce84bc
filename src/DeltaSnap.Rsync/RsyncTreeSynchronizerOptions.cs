namespace DeltaSnap.Rsync;

/// <summary>How <see cref="RsyncTreeSynchronizer"/> runs <c>rsync</c>.</summary>
public sealed record RsyncTreeSynchronizerOptions
{
    private readonly string _rsyncPath = "rsync";
    private readonly IReadOnlyList<string> _extraArguments = [];
    private readonly int _bandwidthLimitKiBPerSecond;
    private readonly int _inPlaceBlockSize = 4096;

    /// <summary>The rsync program: a name looked up on the PATH or an absolute path (default <c>rsync</c>).</summary>
    /// <exception cref="ArgumentException">Empty, relative with a directory part, or holding control characters.</exception>
    public string RsyncPath
    {
        get => _rsyncPath;
        init
        {
            ArgumentException.ThrowIfNullOrEmpty(value);
            if (value.Any(char.IsControl) || (value.Contains('/', StringComparison.Ordinal) && !Path.IsPathFullyQualified(value)) || value.StartsWith('-'))
            {
                throw new ArgumentException($"'{value}' is not a program name or an absolute path.", nameof(value));
            }
            _rsyncPath = value;
        }
    }

    /// <summary>Arguments added before the source and target (each must start with <c>--</c>: options only, no paths).</summary>
    /// <exception cref="ArgumentException">An argument is not a long option or holds a control character.</exception>
    public IReadOnlyList<string> ExtraArguments
    {
        get => _extraArguments;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            foreach (var argument in value)
            {
                if (argument is null || !argument.StartsWith("--", StringComparison.Ordinal) || argument.Length == 2 || argument.Any(char.IsControl))
                {
                    throw new ArgumentException($"Extra rsync argument '{argument}' is not a long option (--name or --name=value).", nameof(value));
                }
            }
            _extraArguments = value.ToArray();
        }
    }

    /// <summary>A bandwidth limit in KiB/s (<c>--bwlimit</c>); 0, the default, for none.</summary>
    public int BandwidthLimitKiBPerSecond
    {
        get => _bandwidthLimitKiBPerSecond;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _bandwidthLimitKiBPerSecond = value;
        }
    }

    /// <summary>
    /// The block size (<c>--block-size</c>) with which rsync updates a copy-on-write target in place: the unit in which
    /// it finds changed data and rewrites it, and so the unit that stops being shared with the previous snapshot.
    /// Default 4096. rsync's own choice, the square root of a file's size (32 KiB for 1 GiB, at most 128 KiB), rewrote
    /// 7.7 × as much for 1 % of a 1 GiB file's 4 KiB blocks changed (82 MB against 10.7 MB, each also the snapshot's
    /// exclusive space on Btrfs; `benchmarks/README.md`). rsync keeps about 40 bytes per block of a file in memory, so
    /// each synchronization raises it until the largest file of the tree it updates has at most 2^20 blocks (4 GiB at
    /// 4 KiB), up to rsync's maximum of 128 KiB; finding that file costs one <c>stat</c> per file of the tree before each
    /// rsync (about 3 µs per file with the tree cached, 6.5 µs cold, measured on ext4). 0: rsync's own choice, and no
    /// such walk. A <c>--block-size</c> among <see cref="ExtraArguments"/> wins.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or above 131072 (rsync's maximum).</exception>
    public int InPlaceBlockSize
    {
        get => _inPlaceBlockSize;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, RsyncBlockSize.Maximum);
            _inPlaceBlockSize = value;
        }
    }

    /// <summary>
    /// Accept files that vanish from the source during the copy (rsync's exit 24, an inconsistent copy) for every
    /// request, not only those that ask for it. Default false: exit 24 is an error.
    /// </summary>
    public bool AllowVanishedFiles { get; init; }

    /// <summary>
    /// How an rsync that talks to a peer is confined: the one this machine runs for a peer
    /// (<see cref="Replication.TreeSynchronizer.ServeAsync"/>, the server half of the remote rsync route), and the local
    /// one of a remote refresh (<see cref="Replication.TreeSynchronizer.SynchronizeRemoteAsync"/>), which a server
    /// drives when it pulls. Default <see cref="RsyncPeerConfinement.WhereSupported"/>.
    /// </summary>
    public RsyncPeerConfinement PeerConfinement { get; init; }
}

/// <summary>
/// Whether an rsync that talks to a peer may change the file system only in the tree it synchronizes. The peer's rsync
/// drives it through its protocol, as a sender drives a receiver, and rsync's own guards against a hostile sender
/// (chroot, symlink munging) are in its daemon mode only. Linux Landlock (5.13 and later) lets a receiving rsync
/// create, write, remove and link only beneath its tree (and link from the newest snapshot it was given), and a sending
/// rsync change nothing at all; reading is not restricted.
/// </summary>
public enum RsyncPeerConfinement
{
    /// <summary>Confine with Landlock where the kernel has it; where it has not, log a warning once and run unconfined.</summary>
    WhereSupported,

    /// <summary>Confine with Landlock; refuse (<see cref="PlatformNotSupportedException"/>) where the kernel has none.</summary>
    Required,

    /// <summary>Do not confine (the peer is trusted as far as an ssh user running rsync would be).</summary>
    None,
}
