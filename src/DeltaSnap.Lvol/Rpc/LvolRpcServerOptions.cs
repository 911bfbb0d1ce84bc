namespace DeltaSnap.Lvol;

/// <summary>
/// Limits of <see cref="LvolRpcServer"/>: what one client may make the server hold. The defaults serve Longhorn's
/// engine (its largest request, a range shallow copy of 256 clusters, is about 6 KB) with a wide margin.
/// </summary>
public sealed class LvolRpcServerOptions
{
    private int _maxRequestBytes = 1 << 20;
    private int _maxNestingDepth = 16;
    private int _maxConnections = 64;
    private int _maxPendingRequestsPerConnection = 16;
    private int _maxErrorMessageLength = 256;

    /// <summary>
    /// The longest request accepted, in bytes (default 1 MiB; 1 KiB to 64 MiB). A longer one is answered with a parse
    /// error and its connection closed; it is also the most a connection buffers of an unfinished request.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside 1 KiB to 64 MiB.</exception>
    public int MaxRequestBytes
    {
        get => _maxRequestBytes;
        init => _maxRequestBytes = InRange(value, 1 << 10, 64 << 20);
    }

    /// <summary>The deepest nesting of objects and arrays in a request (default 16; 2 to 64).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside 2 to 64.</exception>
    public int MaxNestingDepth
    {
        get => _maxNestingDepth;
        init => _maxNestingDepth = InRange(value, 2, 64);
    }

    /// <summary>Connections served at once (default 64; 1 to 4096). One more is closed as soon as it is accepted.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside 1 to 4096.</exception>
    public int MaxConnections
    {
        get => _maxConnections;
        init => _maxConnections = InRange(value, 1, 4096);
    }

    /// <summary>
    /// Requests of one connection that may run at once (default 16; 1 to 1024). The server stops reading the
    /// connection until one finishes, so a client that sends without reading answers holds at most this many.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside 1 to 1024.</exception>
    public int MaxPendingRequestsPerConnection
    {
        get => _maxPendingRequestsPerConnection;
        init => _maxPendingRequestsPerConnection = InRange(value, 1, 1024);
    }

    /// <summary>The longest error message sent, in characters (default 256; 32 to 4096). Nothing a client sent is echoed beyond it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside 32 to 4096.</exception>
    public int MaxErrorMessageLength
    {
        get => _maxErrorMessageLength;
        init => _maxErrorMessageLength = InRange(value, 32, 4096);
    }

    /// <summary>
    /// The most bytes of requests one connection holds at once: the unfinished request being read
    /// (≤ <see cref="MaxRequestBytes"/>) plus the requests running, whose text together is kept within
    /// <see cref="MaxRequestBytes"/> too (the server stops reading the connection until enough of them finished).
    /// </summary>
    public long MaxBufferedBytesPerConnection => 2L * MaxRequestBytes;

    private static int InRange(int value, int min, int max, [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {min} and {max}.");
        }
        return value;
    }
}
