using System.Globalization;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Replication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Rsync;

/// <summary>
/// Makes a target tree equal to a source tree with the real <c>rsync</c>, keeping everything a file system
/// volume holds: <c>-a</c> (recursion, symbolic links, permissions, times, group, owner, devices and specials),
/// <c>-H</c> hard links, <c>-A</c> POSIX ACLs, <c>-X</c> extended attributes except <c>security.selinux</c>,
/// <c>--numeric-ids</c>, <c>--sparse</c>, <c>--delete</c>, <c>--one-file-system</c>; on copy-on-write targets
/// <c>--inplace --no-whole-file</c> so the unchanged blocks of a changed file stay shared with the previous
/// snapshot. Exit 24 (files vanished) is an error unless vanished files are allowed; every other non-zero exit
/// is a <see cref="BackendCommandException"/> with the command line, exit code and the tail of standard error;
/// exits 10, 12, 30 and 35 (socket, protocol and timeout errors) are marked transient.
/// </summary>
public sealed class RsyncTreeSynchronizer : TreeSynchronizer
{
    private const int VanishedExitCode = RsyncPrograms.VanishedExitCode;
    private readonly ExternalCommandRunner _runner;
    private readonly ILogger _logger;

    /// <summary>Creates a synchronizer.</summary>
    public RsyncTreeSynchronizer(RsyncTreeSynchronizerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        Options = options ?? new RsyncTreeSynchronizerOptions();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<RsyncTreeSynchronizer>();
        _runner = RsyncPrograms.CreateRunner(Options.RsyncPath, _logger);
    }

    /// <summary>The options.</summary>
    public RsyncTreeSynchronizerOptions Options { get; }

    /// <summary>The rsync arguments for <paramref name="request"/>, source and target included (for logs, tests and documentation).</summary>
    public IReadOnlyList<string> BuildArguments(TreeSyncRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        List<string> arguments =
        [
            "--archive", "--hard-links", "--acls", "--xattrs", "--filter=-x security.selinux",
            "--numeric-ids", "--sparse", "--delete", "--one-file-system", "--modify-window=-1", "--stats", "--no-human-readable",
        ];
        if (request.TargetIsCopyOnWrite)
        {
            arguments.AddRange(["--inplace", "--no-whole-file"]);
        }
        if (Options.BandwidthLimitKiBPerSecond > 0)
        {
            arguments.Add("--bwlimit=" + Options.BandwidthLimitKiBPerSecond.ToString(CultureInfo.InvariantCulture));
        }
        arguments.AddRange(Options.ExtraArguments);
        // "--" ends the options; the trailing slashes copy the directories' contents; absolute paths never read as host:path.
        arguments.Add("--");
        arguments.Add(WithSlash(request.SourceDirectory));
        arguments.Add(WithSlash(request.TargetDirectory));
        return arguments;
    }

    /// <inheritdoc />
    protected override async Task<TreeSyncResult> SynchronizeCoreAsync(TreeSyncRequest request, CancellationToken cancellationToken)
    {
        var result = await RsyncPrograms.RunAsync(_runner, BuildArguments(request), _logger, cancellationToken).ConfigureAwait(false);
        var vanished = result.ExitCode == VanishedExitCode;
        if (!result.Succeeded && !(vanished && (request.AllowVanishedFiles || Options.AllowVanishedFiles)))
        {
            throw RsyncPrograms.Failure(result, $"synchronizing {request.TargetDirectory} from {request.SourceDirectory}", isRsync: true);
        }
        if (vanished)
        {
            Log.FilesVanished(_logger, request.SourceDirectory, request.TargetDirectory);
        }
        var stats = ParseStats(result.StandardOutput) with { FilesVanished = vanished };
        Log.Synchronized(_logger, request.SourceDirectory, request.TargetDirectory, stats.FilesTransferred, stats.LiteralBytes, stats.BytesSent);
        return stats;
    }

    /// <summary>Reads the numbers of <c>rsync --stats</c>.</summary>
    internal static TreeSyncResult ParseStats(string output)
    {
        long files = 0, size = 0, literal = 0, sent = 0;
        foreach (var line in output.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }
            var key = line[..colon].Trim();
            var value = Number(line[(colon + 1)..]);
            switch (key)
            {
                case "Number of regular files transferred":
                    files = value;
                    break;
                case "Total transferred file size":
                    size = value;
                    break;
                case "Literal data":
                    literal = value;
                    break;
                case "Total bytes sent":
                    sent = value;
                    break;
                default:
                    break;
            }
        }
        return new TreeSyncResult { FilesTransferred = files, TransferredFileBytes = size, LiteralBytes = literal, BytesSent = sent };
    }

    private static long Number(string text)
    {
        var digits = new string(text.TrimStart().TakeWhile(c => char.IsAsciiDigit(c) || c == ',').Where(char.IsAsciiDigit).ToArray());
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    private static string WithSlash(string path) => path.EndsWith('/') ? path : path + "/";
}
