using System.Diagnostics;
using System.Globalization;
using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lineage;
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
/// snapshot, in 4 KiB blocks (<see cref="RsyncTreeSynchronizerOptions.InPlaceBlockSize"/>); with a link directory (a fresh target), <c>--link-dest</c> instead, so unchanged files are hard links to the
/// previous snapshot's. Exit 24 (files vanished) is an error unless vanished files are allowed; every other non-zero exit
/// is a <see cref="BackendCommandException"/> with the command line, exit code and the tail of standard error;
/// exits 10, 12, 30 and 35 (socket, protocol and timeout errors) are marked transient.
/// </summary>
public sealed class RsyncTreeSynchronizer : TreeSynchronizer
{
    private const int VanishedExitCode = RsyncPrograms.VanishedExitCode;
    private readonly ExternalCommandRunner _runner;
    private readonly ILogger _logger;
    private int _warnedUnconfined;

    /// <summary>Creates a synchronizer.</summary>
    public RsyncTreeSynchronizer(RsyncTreeSynchronizerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        Options = options ?? new RsyncTreeSynchronizerOptions();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<RsyncTreeSynchronizer>();
        _runner = RsyncPrograms.CreateRunner(Options.RsyncPath, _logger);
    }

    /// <summary>The options.</summary>
    public RsyncTreeSynchronizerOptions Options { get; }

    /// <summary>
    /// The rsync arguments for <paramref name="request"/>, source and target included (for logs, tests and
    /// documentation). For an in-place update this reads the target tree's file sizes, to choose the block size.
    /// </summary>
    public IReadOnlyList<string> BuildArguments(TreeSyncRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        // A fresh target directory with a link directory: no file to update in place; the unchanged ones are hard links.
        var arguments = Flags(request.TargetIsCopyOnWrite && request.LinkDirectory is null, request.TargetDirectory);
        if (request.LinkDirectory is { } link)
        {
            arguments.Add("--link-dest=" + link);
        }
        // "--" ends the options; the trailing slashes copy the directories' contents; absolute paths never read as host:path.
        arguments.Add("--");
        arguments.Add(WithSlash(request.SourceDirectory));
        arguments.Add(WithSlash(request.TargetDirectory));
        return arguments;
    }

    /// <summary>
    /// The local rsync client's arguments for a remote synchronization: the same flags, the options kept on the command
    /// line (<c>--no-protect-args</c>, so that the server can check them), the relaying remote shell with blocking
    /// descriptors (<c>--blocking-io</c>), and the remote
    /// tree as <c>deltasnap:tree/</c>.
    /// </summary>
    internal List<string> BuildRemoteArguments(RemoteTreeSyncRequest request, string remoteShell)
    {
        // As locally: a fresh local directory with a link directory has no file to update in place. (rsync keeps
        // --link-dest to itself when it receives: the server, the sender, never sees it.)
        // The receiver's old files are split into blocks: a pull's are here (rsync passes the block size on to the
        // server's sender, which has no use for it: the relay drops it); a push's are the server's, which chooses it.
        var arguments = Flags(request.TargetIsCopyOnWrite && request.LinkDirectory is null && !request.RemoteReceivesAside,
            request.RemoteIsSource ? request.LocalDirectory : null);
        if (request.LinkDirectory is { } link)
        {
            arguments.Add("--link-dest=" + link);
        }
        // --blocking-io: the shell's cat copies with plain blocking writes (rsync otherwise hands its remote shell non-blocking descriptors, as ssh wants).
        arguments.AddRange(["--no-protect-args", "--blocking-io", "-e", remoteShell, "--"]);
        var remote = RsyncServerArguments.Host + ":" + RsyncServerArguments.TreePlaceholder;
        arguments.AddRange(request.RemoteIsSource ? [remote, WithSlash(request.LocalDirectory)] : [WithSlash(request.LocalDirectory), remote]);
        return arguments;
    }

    /// <summary>
    /// The flags every synchronization uses; for an in-place update also the block size (<see cref="RsyncTreeSynchronizerOptions.InPlaceBlockSize"/>),
    /// raised for the largest file beneath <paramref name="receiverTree"/> when the receiver's old files are there
    /// (null: on the other machine, which raises it itself).
    /// </summary>
    private List<string> Flags(bool targetIsCopyOnWrite, string? receiverTree)
    {
        List<string> arguments =
        [
            "--archive", "--hard-links", "--acls", "--xattrs", "--filter=-x security.selinux",
            "--numeric-ids", "--sparse", "--delete", "--one-file-system", "--modify-window=-1", "--stats", "--no-human-readable",
        ];
        if (targetIsCopyOnWrite)
        {
            arguments.AddRange(["--inplace", "--no-whole-file"]);
            var chosen = Options.ExtraArguments.Any(a => a.StartsWith("--block-size", StringComparison.Ordinal));
            var blockSize = chosen || receiverTree is null ? 0 : RsyncBlockSize.For(RsyncBlockSize.LargestFile(receiverTree), Options.InPlaceBlockSize);
            if (blockSize > 0)
            {
                arguments.Add("--block-size=" + blockSize.ToString(CultureInfo.InvariantCulture));
            }
        }
        if (Options.BandwidthLimitKiBPerSecond > 0)
        {
            arguments.Add("--bwlimit=" + Options.BandwidthLimitKiBPerSecond.ToString(CultureInfo.InvariantCulture));
        }
        arguments.AddRange(Options.ExtraArguments);
        return arguments;
    }

    /// <inheritdoc />
    protected override async Task<TreeSyncResult> SynchronizeCoreAsync(TreeSyncRequest request, CancellationToken cancellationToken)
    {
        var result = request.Progress is { } progress
            ? await RunWithProgressAsync(["--info=progress2", .. BuildArguments(request)], progress, cancellationToken).ConfigureAwait(false)
            : await RsyncPrograms.RunAsync(_runner, BuildArguments(request), _logger, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// Runs rsync with <c>--info=progress2</c>, its standard output read as it comes: each progress line's byte count
    /// goes to <paramref name="progress"/>, and the text is kept for <c>--stats</c>. Returns the result whatever the exit code.
    /// </summary>
    private async Task<ExternalCommandResult> RunWithProgressAsync(IReadOnlyList<string> arguments, IProgress<long> progress, CancellationToken cancellationToken)
    {
        var output = new ProgressOutput(progress);
        try
        {
            await _runner.RunWithOutputAsync(arguments, output, cancellationToken).ConfigureAwait(false);
            return new ExternalCommandResult(_runner.Format(arguments), 0, output.Text, "", IsTransient: false);
        }
        catch (BackendCommandException e) when (!cancellationToken.IsCancellationRequested)
        {
            return new ExternalCommandResult(e.CommandLine, e.ExitCode, output.Text, e.StandardError, e.IsTransient);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.ProgramKilled(_logger, _runner.Program);
            throw;
        }
    }

    /// <summary>
    /// Runs the local rsync client with <see cref="RsyncRemoteShell"/> as its remote shell and relays that shell through
    /// <see cref="Volume.RunTreeServerAsync"/> to <c>rsync --server</c> where the remote volume is (push: the remote live
    /// tree is written; pull: the remote snapshot is read). A refusal or a lost session is the failure reported (the
    /// local rsync, whose connection went, is stopped); when the server's rsync failed, the local rsync's failure is,
    /// with the server's message added.
    /// </summary>
    protected override async Task<TreeSyncResult> SynchronizeRemoteCoreAsync(RemoteTreeSyncRequest request, CancellationToken cancellationToken)
    {
        var (source, target) = request.RemoteIsSource
            ? ($"{request.RemoteVolume.Address}@{request.RemoteSnapshot}", request.LocalDirectory)
            : (request.LocalDirectory, request.RemoteReceivesAside ? $"{request.RemoteVolume.Address} (aside, as {request.RemoteSnapshot ?? "its live tree"})" : request.RemoteVolume.Address);
        using var shell = RsyncRemoteShell.Create();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Pulling, the local rsync receives from the peer's sender: it may change only the tree it writes.
        var confinement = Confinement(
            request.RemoteIsSource ? request.LocalDirectory : null, request.RemoteIsSource ? request.LinkDirectory : null, shell.Directory, request.LocalDirectory);
        var running = RsyncPrograms.RunAsync(_runner, BuildRemoteArguments(request, shell.Command), _logger, stop.Token, confinement);
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        _ = running.ContinueWith(_ => Cancel(ended), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Exception? relayFailure = null;
        SnapshotInfo? received = null;
        try
        {
            // Waits for rsync to start its remote shell (or to end without one).
            var serverArguments = WithoutBlockSize(await shell.ReadServerArgumentsAsync(ended.Token).ConfigureAwait(false));
            if (request.RemoteReceivesAside)
            {
                received = await request.RemoteVolume.ReceiveTreeServerAsync(request.RemoteSnapshot, request.SnapshotOptions, serverArguments,
                    shell.CopyUpAsync, shell.CopyDownAsync, stop.Token).ConfigureAwait(false);
            }
            else
            {
                await request.RemoteVolume.RunTreeServerAsync(request.RemoteSnapshot, serverArguments, shell.CopyUpAsync, shell.CopyDownAsync, stop.Token)
                    .ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            // rsync ended before it started its remote shell: its exit code and message say why.
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            relayFailure = e;
            // The relay is gone, so the local rsync sees its connection end; it is stopped if it does not.
            stop.CancelAfter(RelayGrace);
        }
        ExternalCommandResult result;
        try
        {
            result = await running.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (relayFailure is not null && !cancellationToken.IsCancellationRequested)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(relayFailure);
            throw;
        }
        var vanished = result.ExitCode == VanishedExitCode && (request.AllowVanishedFiles || Options.AllowVanishedFiles);
        if (relayFailure is not null && (relayFailure is not BackendCommandException || result.Succeeded || vanished))
        {
            // Refused, cancelled, or the session was lost: rsync's own exit (a closed connection) is only the consequence.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(relayFailure);
        }
        if (!result.Succeeded && !vanished)
        {
            var failure = RsyncPrograms.Failure(result, $"synchronizing {target} from {source}", isRsync: true);
            throw relayFailure is null
                ? failure
                : new BackendCommandException(failure.CommandLine, failure.ExitCode, failure.StandardError + " The remote side: " + relayFailure.Message, failure.IsTransient, relayFailure);
        }
        if (result.ExitCode == VanishedExitCode)
        {
            Log.FilesVanished(_logger, source, target);
        }
        var stats = ParseStats(result.StandardOutput, localIsReceiver: request.RemoteIsSource) with
        {
            FilesVanished = result.ExitCode == VanishedExitCode,
            ReceivedSnapshot = received,
        };
        Log.Synchronized(_logger, source, target, stats.FilesTransferred, stats.LiteralBytes, stats.BytesSent);
        return stats;
    }

    /// <summary>
    /// Checks what a peer's rsync client asked its remote shell to run (<see cref="RsyncServerArguments"/>: the route's
    /// options only, the tree only, <c>--sender</c> exactly when the tree is only read) and runs it on the tree with
    /// <paramref name="input"/> and <paramref name="output"/> as its standard input and output. Exit 24 (files vanished
    /// from a source) is left to the client to judge.
    /// </summary>
    protected override async Task ServeCoreAsync(TreeServeRequest request, Stream input, Stream output, CancellationToken cancellationToken)
    {
        var arguments = RsyncServerArguments.Check(request.Arguments, request.Directory, request.Writable, request.LinkDirectory, Options.InPlaceBlockSize);
        ExternalCommandResult result;
        try
        {
            (result, _, _) = await _runner.RunDuplexAsync(arguments, input, output, cancellationToken,
                Confinement(request.Writable ? request.Directory : null, request.LinkDirectory, relayDirectory: null, request.Directory)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.ProgramKilled(_logger, _runner.Program);
            throw;
        }
        if (!result.Succeeded && result.ExitCode != VanishedExitCode)
        {
            throw RsyncPrograms.Failure(result, $"serving {request.Directory} to a peer's rsync", isRsync: true);
        }
    }

    /// <summary>
    /// How an rsync that talks to a peer is started (<see cref="RsyncTreeSynchronizerOptions.PeerConfinement"/>): the
    /// server half, and the local half of a remote refresh. Null: unconfined. Otherwise confined by Landlock to changes
    /// beneath <paramref name="writtenTree"/> (none when null: the tree is only read), links from
    /// <paramref name="linkDirectory"/> whose files gain no right in the tree, and writes to the remote shell's
    /// FIFOs in <paramref name="relayDirectory"/>.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">Confinement is required and the kernel has no Landlock.</exception>
    private Func<ProcessStartInfo, Process?>? Confinement(string? writtenTree, string? linkDirectory, string? relayDirectory, string tree)
    {
        if (Options.PeerConfinement == RsyncPeerConfinement.None)
        {
            return null;
        }
        if (!Landlock.IsAvailable)
        {
            if (Options.PeerConfinement == RsyncPeerConfinement.Required)
            {
                throw new PlatformNotSupportedException(
                    $"The rsync route's confinement is required, but this kernel has no Landlock; {tree} is not synchronized with a peer.");
            }
            if (Interlocked.Exchange(ref _warnedUnconfined, 1) == 0)
            {
                Log.PeerRsyncUnconfined(_logger);
            }
            return null;
        }
        var rules = new List<(string Path, ulong Rights)>();
        if (relayDirectory is not null)
        {
            rules.Add((relayDirectory, Landlock.WriteFile));
        }
        if (writtenTree is not null)
        {
            rules.Add((writtenTree, Landlock.AllChanges));
            if (linkDirectory is not null)
            {
                // A file linked from here into the tree must not gain rights there, so it is given the tree's rights
                // on files (write, truncate) and the right to be linked: it still cannot be created in, removed from
                // or renamed within.
                rules.Add((linkDirectory, Landlock.WriteFile | Landlock.Truncate | Landlock.Refer));
            }
        }
        return info => Landlock.Start(info, rules);
    }

    /// <summary>
    /// The server command line without <c>-B</c>: the block size is the receiver's to choose, and a pull's receiver is
    /// the local rsync (a server before the block size was chosen refuses the word; the sender ignores it).
    /// </summary>
    internal static IReadOnlyList<string> WithoutBlockSize(IReadOnlyList<string> serverArguments) =>
        serverArguments.Contains("--sender") ? [.. serverArguments.Where(a => !a.StartsWith("-B", StringComparison.Ordinal))] : serverArguments;

    /// <summary>How long the local rsync may take to notice that its relay ended before it is stopped.</summary>
    private static readonly TimeSpan RelayGrace = TimeSpan.FromSeconds(5);

    private static void Cancel(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The synchronization is over.
        }
    }

    /// <summary>
    /// Reads the numbers of <c>rsync --stats</c>. <paramref name="localIsReceiver"/>: the client here received (a pull),
    /// so what the sending side wrote is its "Total bytes received".
    /// </summary>
    internal static TreeSyncResult ParseStats(string output, bool localIsReceiver = false)
    {
        long files = 0, size = 0, literal = 0, sent = 0, received = 0;
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
                case "Total bytes received":
                    received = value;
                    break;
                default:
                    break;
            }
        }
        return new TreeSyncResult { FilesTransferred = files, TransferredFileBytes = size, LiteralBytes = literal, BytesSent = localIsReceiver ? received : sent };
    }

    private static long Number(string text)
    {
        var digits = new string(text.TrimStart().TakeWhile(c => char.IsAsciiDigit(c) || c == ',').Where(char.IsAsciiDigit).ToArray());
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    private static string WithSlash(string path) => path.EndsWith('/') ? path : path + "/";

    /// <summary>
    /// The byte count of one <c>--info=progress2</c> line (<c>   1,234,567  45%   12.34MB/s    0:00:05 (xfr#3, to-chk=5/10)</c>:
    /// the number before the percentage); null for any other line.
    /// </summary>
    internal static long? ParseProgressLine(ReadOnlySpan<char> line)
    {
        line = line.Trim();
        var space = line.IndexOf(' ');
        if (space <= 0)
        {
            return null;
        }
        var rest = line[space..].TrimStart();
        var percent = rest.IndexOf('%');
        if (percent <= 0 || !int.TryParse(rest[..percent], NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return null;
        }
        Span<char> digits = stackalloc char[space];
        var length = 0;
        foreach (var c in line[..space])
        {
            if (char.IsAsciiDigit(c))
            {
                digits[length++] = c;
            }
            else if (c is not (',' or '.'))
            {
                return null;
            }
        }
        return length > 0 && long.TryParse(digits[..length], NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? bytes : null;
    }

    /// <summary>
    /// rsync's standard output as it comes: progress lines (ended by <c>\r</c>, as rsync redraws them) are reported, and the
    /// last <see cref="RsyncPrograms.StandardOutputTailChars"/> characters are kept, where <c>--stats</c> are.
    /// </summary>
    private sealed class ProgressOutput(IProgress<long> progress) : Stream
    {
        private readonly System.Text.StringBuilder _text = new();
        private int _lineStart;

        public string Text => _text.ToString();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            // rsync prints ASCII here (numbers, and file names only with --verbose, which is not given).
            foreach (var b in buffer)
            {
                var c = (char)b;
                if (c is '\r' or '\n')
                {
                    if (ParseProgressLine(_text.ToString(_lineStart, _text.Length - _lineStart)) is { } done)
                    {
                        progress.Report(done);
                    }
                    _text.Append('\n');
                    _lineStart = _text.Length;
                    continue;
                }
                _text.Append(c);
            }
            if (_text.Length > 2 * RsyncPrograms.StandardOutputTailChars)
            {
                var cut = _text.Length - RsyncPrograms.StandardOutputTailChars;
                cut = Math.Min(cut, _lineStart);
                _text.Remove(0, cut);
                _lineStart -= cut;
            }
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
