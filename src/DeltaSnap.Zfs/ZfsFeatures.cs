using System.Text.RegularExpressions;

namespace DeltaSnap.Zfs;

/// <summary>
/// What the installed <c>zfs</c> can do, detected once when a <see cref="ZfsDriver"/> opens: from the usage text
/// <c>zfs</c> prints (which lists each subcommand with its flags) and, for zvols, from the kernel module being
/// loaded. zfs-fuse (pool version 23) has holds but no zvols, bookmarks, resumable, compressed or raw streams.
/// </summary>
public sealed partial record ZfsFeatures
{
    /// <summary>Block volumes (<c>zfs create -V</c>): needs the kernel module; zfs-fuse has none.</summary>
    public bool Zvols { get; init; }

    /// <summary>Resumable streams: <c>zfs receive -s</c>, <c>zfs send -t TOKEN</c> and <c>zfs receive -A</c>.</summary>
    public bool ResumableStreams { get; init; }

    /// <summary>User holds (<c>zfs hold</c>/<c>zfs release</c>), used to protect the common base.</summary>
    public bool Holds { get; init; }

    /// <summary>Bookmarks (<c>zfs bookmark</c>).</summary>
    public bool Bookmarks { get; init; }

    /// <summary>Compressed sends (<c>zfs send -c</c>).</summary>
    public bool CompressedSend { get; init; }

    /// <summary>Raw sends (<c>zfs send -w</c>).</summary>
    public bool RawSend { get; init; }

    /// <summary>Receiving without mounting (<c>zfs receive -u</c>).</summary>
    public bool ReceiveWithoutMount { get; init; }

    /// <summary>Excluding a property from a receive (<c>zfs receive -x PROPERTY</c>).</summary>
    public bool ReceiveExcludeProperty { get; init; }

    /// <summary>None of the optional features: what the driver assumes of any <c>zfs</c>.</summary>
    public static ZfsFeatures Minimal { get; } = new();

    /// <summary>Reads the features from the usage text of <c>zfs</c> (what it prints when run without arguments).</summary>
    /// <param name="usage">The usage text.</param>
    /// <param name="kernelModule">Whether the ZFS kernel module is loaded (zvols need it).</param>
    public static ZfsFeatures FromUsage(string usage, bool kernelModule)
    {
        ArgumentNullException.ThrowIfNull(usage);
        var send = Flags(usage, "send");
        var receive = Flags(usage, "receive");
        return new ZfsFeatures
        {
            Zvols = kernelModule,
            ResumableStreams = receive.Contains('s') && TokenSend().IsMatch(usage) && AbortReceive().IsMatch(usage),
            Holds = Command(usage, "hold") && Command(usage, "release"),
            Bookmarks = Command(usage, "bookmark"),
            CompressedSend = send.Contains('c'),
            RawSend = send.Contains('w'),
            ReceiveWithoutMount = receive.Contains('u'),
            ReceiveExcludeProperty = usage.Contains("[-x <property>]", StringComparison.Ordinal) || usage.Contains("[-x property]", StringComparison.Ordinal),
        };
    }

    /// <summary>Detections made or under way in this process, by program: the installed <c>zfs</c> does not change while it runs.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<ZfsFeatures>>> Detected = new(StringComparer.Ordinal);

    /// <summary>
    /// The features of <paramref name="zfs"/>'s program, detected once per process (a refresh opens a driver per side, and
    /// each detection is a process start): a detection that failed or was cancelled is not kept.
    /// </summary>
    internal static async Task<ZfsFeatures> DetectOnceAsync(ZfsCommandRunner zfs, CancellationToken cancellationToken)
    {
        // Lazy: two drivers opened at once (a refresh's two sides) start one detection, not two.
        var entry = Detected.GetOrAdd(zfs.Program, _ => new Lazy<Task<ZfsFeatures>>(() => DetectAsync(zfs, CancellationToken.None)));
        var detection = entry.Value;
        try
        {
            return await detection.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch when (detection.IsFaulted || detection.IsCanceled)
        {
            Detected.TryRemove(new KeyValuePair<string, Lazy<Task<ZfsFeatures>>>(zfs.Program, entry));
            throw;
        }
    }

    /// <summary>Runs <c>zfs</c> without arguments and reads its usage.</summary>
    internal static async Task<ZfsFeatures> DetectAsync(ZfsCommandRunner zfs, CancellationToken cancellationToken)
    {
        var result = await zfs.TryRunAsync([], cancellationToken).ConfigureAwait(false);
        var usage = result.StandardOutput + "\n" + result.StandardError;
        if (!usage.Contains("usage:", StringComparison.OrdinalIgnoreCase))
        {
            throw new BackendCommandException($"`{zfs.Program}` printed no usage text; is it the ZFS command? Output: {usage.Trim()}");
        }
        return FromUsage(usage, Directory.Exists("/sys/module/zfs"));
    }

    private static bool Command(string usage, string name) =>
        Regex.IsMatch(usage, $@"(?m)^\s+{Regex.Escape(name)}(\s|$)", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>The letters of the first flag group right after the subcommand: <c>receive [-vnsFhu]</c> → v n s F h u.</summary>
    private static HashSet<char> Flags(string usage, string name)
    {
        var letters = new HashSet<char>();
        foreach (Match m in Regex.Matches(usage, $@"(?m)^\s+{Regex.Escape(name)}\s+\[-([A-Za-z]+)\]", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)))
        {
            letters.UnionWith(m.Groups[1].Value);
        }
        return letters;
    }

    [GeneratedRegex(@"(?m)^\s+send\s.*-t\s+<", RegexOptions.CultureInvariant)]
    private static partial Regex TokenSend();

    [GeneratedRegex(@"(?m)^\s+receive\s+-A\b", RegexOptions.CultureInvariant)]
    private static partial Regex AbortReceive();
}
