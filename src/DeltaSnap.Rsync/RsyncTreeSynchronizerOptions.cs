namespace DeltaSnap.Rsync;

/// <summary>How <see cref="RsyncTreeSynchronizer"/> runs <c>rsync</c>.</summary>
public sealed record RsyncTreeSynchronizerOptions
{
    private readonly string _rsyncPath = "rsync";
    private readonly IReadOnlyList<string> _extraArguments = [];
    private readonly int _bandwidthLimitKiBPerSecond;

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
    /// Accept files that vanish from the source during the copy (rsync's exit 24, an inconsistent copy) for every
    /// request, not only those that ask for it. Default false: exit 24 is an error.
    /// </summary>
    public bool AllowVanishedFiles { get; init; }
}
