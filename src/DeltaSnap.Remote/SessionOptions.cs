namespace DeltaSnap.Remote;

/// <summary>The settings both ends of a session share, validated when set.</summary>
internal static class SessionLimits
{
    /// <summary>The largest data frame payload: 1 MiB.</summary>
    public const int MaxDataFrame = 1 << 20;

    /// <summary>
    /// The data frames a stream sends when nothing is compressed: 256 KiB, so that the 2 MiB window holds eight and the
    /// receiver credits back every two it consumed (with 1 MiB frames only two fit, and the sender waited on each credit).
    /// Frames to compress stay 1 MiB (the compressors see more at once).
    /// </summary>
    public const int RawDataFrame = 256 << 10;

    /// <summary>The smallest accepted limit on control messages: 64 KiB.</summary>
    public const int MinMessageBytes = 64 << 10;

    /// <summary>The largest accepted limit on control messages: 64 MiB.</summary>
    public const int MaxMessageBytesLimit = 64 << 20;

    public static TimeSpan Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be positive and at most a day.");
        }
        return value;
    }

    public static long? Bandwidth(long? value, string name)
    {
        if (value is { } v && v < 4096)
        {
            throw new ArgumentOutOfRangeException(name, value, "A bandwidth limit is at least 4096 bytes per second, or null for none.");
        }
        return value;
    }

    public static int MessageBytes(int value, string name)
    {
        if (value < MinMessageBytes || value > MaxMessageBytesLimit)
        {
            throw new ArgumentOutOfRangeException(name, value, $"Must be from {MinMessageBytes} to {MaxMessageBytesLimit} bytes.");
        }
        return value;
    }

    public static IReadOnlyList<SessionCompression> Compression(IReadOnlyList<SessionCompression> value, string name)
    {
        ArgumentNullException.ThrowIfNull(value, name);
        if (value.Count == 0 || value.Any(c => !Enum.IsDefined(c)) || value.Distinct().Count() != value.Count)
        {
            throw new ArgumentException("List at least one compression, each once (None, Lz4, Zstd).", name);
        }
        return value.ToArray();
    }
}

/// <summary>How a <see cref="VolumeServer"/> serves its sessions. Values are validated when set.</summary>
public sealed record VolumeServerOptions
{
    private readonly TimeSpan _heartbeatInterval = TimeSpan.FromSeconds(5);
    private readonly TimeSpan _peerTimeout = TimeSpan.FromSeconds(10);
    private readonly TimeSpan _handshakeTimeout = TimeSpan.FromSeconds(10);
    private readonly IReadOnlyList<SessionCompression> _compression = [SessionCompression.Zstd, SessionCompression.Lz4, SessionCompression.None];
    private readonly long? _bandwidthLimit;
    private readonly int _maxMessageBytes = 4 << 20;
    private readonly int _maxConcurrentRequests = 16;

    /// <summary>
    /// Decides whether a peer may access a volume: (peer, volume address as the client named it, access) → allowed. Every
    /// request is checked. Null: every peer may do everything (stdio sessions, in-process servers).
    /// </summary>
    public Func<PeerIdentity, string, VolumeAccess, bool>? Authorize { get; init; }

    /// <summary>
    /// Runs the server half of the rsync route (<c>volume.treeServer</c>) on this server's file system volumes:
    /// DeltaSnap.Rsync's <c>RsyncTreeSynchronizer</c>, which checks every command line a client asks for. Null (the
    /// default): clients cannot refresh file system volumes of other backends to or from this server.
    /// </summary>
    public DeltaSnap.Replication.TreeSynchronizer? TreeSynchronizer { get; init; }

    /// <summary>The features the server announces in its banner and welcome (tests leave some out to act as an older server).</summary>
    internal IReadOnlyList<string> AnnouncedFeatures { get; init; } = ClientSession.Features;

    /// <summary>How often the server sends a heartbeat. Default 5 s.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive or over a day.</exception>
    public TimeSpan HeartbeatInterval { get => _heartbeatInterval; init => _heartbeatInterval = SessionLimits.Positive(value, nameof(HeartbeatInterval)); }

    /// <summary>How long the peer may be silent before the session ends. Default 10 s.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive or over a day.</exception>
    public TimeSpan PeerTimeout { get => _peerTimeout; init => _peerTimeout = SessionLimits.Positive(value, nameof(PeerTimeout)); }

    /// <summary>How long the banners and the hello may take. Default 10 s.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive or over a day.</exception>
    public TimeSpan HandshakeTimeout { get => _handshakeTimeout; init => _handshakeTimeout = SessionLimits.Positive(value, nameof(HandshakeTimeout)); }

    /// <summary>The compressions the server accepts; the client's first preference that is listed here is used. Default all three.</summary>
    /// <exception cref="ArgumentException">Empty, or a value repeated or undefined.</exception>
    public IReadOnlyList<SessionCompression> Compression { get => _compression; init => _compression = SessionLimits.Compression(value, nameof(Compression)); }

    /// <summary>The most payload bytes per second the server sends in one session, shared by its transfers; null for no limit.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 4096.</exception>
    public long? BandwidthLimit { get => _bandwidthLimit; init => _bandwidthLimit = SessionLimits.Bandwidth(value, nameof(BandwidthLimit)); }

    /// <summary>The largest control message accepted. Default 4 MiB.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 64 KiB or over 64 MiB.</exception>
    public int MaxMessageBytes { get => _maxMessageBytes; init => _maxMessageBytes = SessionLimits.MessageBytes(value, nameof(MaxMessageBytes)); }

    /// <summary>How many requests of one session run at once (more wait); with the 2 MiB window per request this bounds a session's memory. Default 16.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 1 or over 64.</exception>
    public int MaxConcurrentRequests
    {
        get => _maxConcurrentRequests;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 64);
            _maxConcurrentRequests = value;
        }
    }
}

/// <summary>How a <see cref="RemoteSession"/> connects. Values are validated when set.</summary>
public sealed record RemoteSessionOptions
{
    private readonly TimeSpan _heartbeatInterval = TimeSpan.FromSeconds(5);
    private readonly TimeSpan _peerTimeout = TimeSpan.FromSeconds(10);
    private readonly TimeSpan _handshakeTimeout = TimeSpan.FromSeconds(10);
    private readonly IReadOnlyList<SessionCompression> _compression = [SessionCompression.Lz4, SessionCompression.Zstd, SessionCompression.None];
    private readonly long? _bandwidthLimit;
    private readonly int _maxMessageBytes = 4 << 20;

    /// <summary>The compressions the client prefers, best first; the server picks the first it also accepts. Default LZ4, zstd, none.</summary>
    /// <exception cref="ArgumentException">Empty, or a value repeated or undefined.</exception>
    public IReadOnlyList<SessionCompression> Compression { get => _compression; init => _compression = SessionLimits.Compression(value, nameof(Compression)); }

    /// <summary>The most payload bytes per second the client sends in this session, shared by its transfers; null for no limit.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 4096.</exception>
    public long? BandwidthLimit { get => _bandwidthLimit; init => _bandwidthLimit = SessionLimits.Bandwidth(value, nameof(BandwidthLimit)); }

    /// <summary>How often the client sends a heartbeat. Default 5 s.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive or over a day.</exception>
    public TimeSpan HeartbeatInterval { get => _heartbeatInterval; init => _heartbeatInterval = SessionLimits.Positive(value, nameof(HeartbeatInterval)); }

    /// <summary>How long the server may be silent before the session ends. Default 10 s.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive or over a day.</exception>
    public TimeSpan PeerTimeout { get => _peerTimeout; init => _peerTimeout = SessionLimits.Positive(value, nameof(PeerTimeout)); }

    /// <summary>How long the banners and the hello may take. Default 10 s.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive or over a day.</exception>
    public TimeSpan HandshakeTimeout { get => _handshakeTimeout; init => _handshakeTimeout = SessionLimits.Positive(value, nameof(HandshakeTimeout)); }

    /// <summary>The largest control message accepted. Default 4 MiB.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 64 KiB or over 64 MiB.</exception>
    public int MaxMessageBytes { get => _maxMessageBytes; init => _maxMessageBytes = SessionLimits.MessageBytes(value, nameof(MaxMessageBytes)); }

    /// <summary>
    /// How the peer is named in remote volumes' addresses and in messages (<c>ssh://backup1</c>): a remote volume's
    /// <see cref="DeltaSnap.Drivers.Volume.Address"/> is this, <c>/</c>, and the address on the server. Null: <c>remote</c>.
    /// </summary>
    public string? PeerName { get; init; }
}
