// Shared source, linked into each package that starts programs (DeltaSnap.Zfs, DeltaSnap.Btrfs, DeltaSnap.Rsync; later
// the benchmarks) with <Compile Include="../Shared/ExternalCommands/*.cs" LinkBase="Shared/ExternalCommands" />,
// as OpenTelemetry-dotnet shares its src/Shared code. Chosen over "internal in the core with InternalsVisibleTo":
// starting programs is no part of the core's job (the core starts none), InternalsVisibleTo would open every internal
// of the core to every driver package and pin the core's internals as a contract between packages shipped apart, and
// a third-party backend could never use it anyway. Each package compiles its own internal copy of one source file:
// one place to fix, no second implementation. The types stay internal; the one public type it throws,
// BackendCommandException, is the core's.
using System.Buffers;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.ExternalCommands;

/// <summary>What a runner reports to its package's log (each package keeps its own event ids).</summary>
internal sealed class ExternalCommandEvents
{
    /// <summary>A command is about to start (the command line).</summary>
    public Action<ILogger, string>? Starting { get; init; }

    /// <summary>A command ended: its result, how long it ran, and the bytes streamed through stdin or stdout.</summary>
    public Action<ILogger, ExternalCommandResult, TimeSpan, long>? Finished { get; init; }
}

/// <summary>
/// Runs one program as child processes: arguments through <see cref="ProcessStartInfo.ArgumentList"/> (never a shell),
/// <c>LC_ALL=C</c> (messages are matched), standard error captured as a bounded tail, cancellation that kills the
/// process, and standard input and output streamed through the relay: a dedicated copying thread per direction with
/// blocking reads and writes, 1 MiB pipe buffers and its own pool of 1 MiB chunks.
/// </summary>
/// <remarks>
/// The relay copies as <c>cat</c> would. The asynchronous API of anonymous pipes on Unix runs each call as a separate
/// thread-pool item, and handing each chunk from thread to thread cost more CPU than zfs-fuse itself on two cores
/// (waking and spinning workers): transfers were up to 1.5× as slow as a shell pipeline. With one thread per
/// direction, blocking calls and large pipes, the gap mostly closed.
/// </remarks>
internal sealed class ExternalCommandRunner
{
    /// <summary>How much of standard error is kept: its last 64 Ki characters (what explains a failure comes last).</summary>
    public const int StandardErrorTailChars = 64 * 1024;

    internal const int CopyBufferSize = 1 << 20;

    /// <summary>
    /// The copy buffers' own pool (one buffer per copying thread): the shared pool keeps few 1 MiB arrays, and a
    /// transfer that rents past them allocates.
    /// </summary>
    internal static readonly ArrayPool<byte> ChunkPool = ArrayPool<byte>.Create(CopyBufferSize, 16);

    private readonly ILogger _logger;
    private readonly ExternalCommandEvents _events;
    private readonly Func<string, bool>? _isTransient;
    private readonly KeyValuePair<string, string>[] _environment;
    private readonly int _standardOutputTailChars;
    private long _started;

    /// <summary>Creates a runner for <paramref name="program"/>.</summary>
    /// <param name="program">The program: a name looked up on the PATH, or a full path.</param>
    /// <param name="logger">Where the events go.</param>
    /// <param name="events">The package's log messages for the runner's events; null logs nothing.</param>
    /// <param name="isTransient">Tells from standard error whether a failure is worth retrying (the backend said busy); null: never.</param>
    /// <param name="environment">Variables set for every command besides <c>LC_ALL=C</c> (Btrfs: <c>TZ=UTC</c>).</param>
    /// <param name="standardOutputTailChars">
    /// When positive, <see cref="TryRunAsync"/> keeps only the last this many characters of standard output (rsync's
    /// <c>--stats</c> come last, and a verbose run may print a line per file); 0 (the default): all of it (the output
    /// is parsed whole, as <c>zfs list</c>'s).
    /// </param>
    public ExternalCommandRunner(string program, ILogger logger, ExternalCommandEvents? events = null, Func<string, bool>? isTransient = null,
        IEnumerable<KeyValuePair<string, string>>? environment = null, int standardOutputTailChars = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(standardOutputTailChars);
        ArgumentException.ThrowIfNullOrEmpty(program);
        ArgumentNullException.ThrowIfNull(logger);
        Program = program;
        _logger = logger;
        _events = events ?? new ExternalCommandEvents();
        _isTransient = isTransient;
        _environment = environment?.ToArray() ?? [];
        _standardOutputTailChars = standardOutputTailChars;
    }

    /// <summary>The program this runner starts.</summary>
    public string Program { get; }

    /// <summary>How many processes this runner has started (tests check that bad input starts none).</summary>
    public long StartedCount => Interlocked.Read(ref _started);

    /// <summary>Runs the command and returns its standard output; throws <see cref="BackendCommandException"/> when it fails.</summary>
    public async Task<string> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        (await TryRunAsync(arguments, cancellationToken).ConfigureAwait(false)).ThrowIfFailed().StandardOutput;

    /// <summary>Runs the command and returns its result whatever the exit code (standard output as text).</summary>
    /// <exception cref="BackendCommandException">The program could not be started.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (the process was killed).</exception>
    /// <remarks><paramref name="start"/>: as for <see cref="RunDuplexAsync"/>.</remarks>
    public async Task<ExternalCommandResult> TryRunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, Func<ProcessStartInfo, Process?>? start = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        using var process = Start(arguments, redirectInput: false, out var commandLine, start);
        using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
        var stdout = _standardOutputTailChars > 0
            ? ReadTailAsync(process.StandardOutput, _standardOutputTailChars)
            : process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = ReadTailAsync(process.StandardError);
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        var result = Result(commandLine, process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        cancellationToken.ThrowIfCancellationRequested();
        Finished(result, clock.Elapsed, 0);
        return result;
    }

    /// <summary>
    /// Runs the command with its standard output copied into <paramref name="destination"/> as it comes (on a
    /// dedicated thread, see the remarks of <see cref="ExternalCommandRunner"/>). A failure writing the destination
    /// kills the process and is rethrown unchanged; a failing command throws <see cref="BackendCommandException"/>.
    /// Returns the bytes copied.
    /// </summary>
    public async Task<long> RunWithOutputAsync(IReadOnlyList<string> arguments, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        using var process = Start(arguments, redirectInput: false, out var commandLine);
        using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
        var stderr = ReadTailAsync(process.StandardError);
        var output = process.StandardOutput.BaseStream;
        var copy = Task.Factory.StartNew(() => CopyOut(process, output, destination, cancellationToken),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var (copied, failure) = await copy.ConfigureAwait(false);
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        var result = Result(commandLine, process.ExitCode, "", await stderr.ConfigureAwait(false));
        cancellationToken.ThrowIfCancellationRequested();
        failure?.Throw();
        Finished(result, clock.Elapsed, copied);
        result.ThrowIfFailed();
        return copied;
    }

    /// <summary>
    /// Runs the command with <paramref name="prefix"/> and then the rest of <paramref name="source"/> as its standard
    /// input (<see cref="StartWithInput"/> and <see cref="ExternalInputCommand.FeedAsync"/>). A failure reading the
    /// source kills the process and is rethrown unchanged; a failing command throws <see cref="BackendCommandException"/>.
    /// Returns the bytes fed. <paramref name="start"/>: as for <see cref="RunDuplexAsync"/>.
    /// </summary>
    public async Task<long> RunWithInputAsync(IReadOnlyList<string> arguments, ReadOnlyMemory<byte> prefix, Stream source, CancellationToken cancellationToken,
        Func<ProcessStartInfo, Process?>? start = null)
    {
        var command = StartWithInput(arguments, cancellationToken, start);
        await using (command.ConfigureAwait(false))
        {
            var (result, fed) = await command.FeedAsync(prefix, source, cancellationToken).ConfigureAwait(false);
            result.ThrowIfFailed();
            return fed;
        }
    }

    /// <summary>
    /// Runs the command with its standard input copied from <paramref name="input"/> and its standard output copied
    /// into <paramref name="output"/>, both as they come, each on a dedicated thread (a program that speaks a protocol
    /// on its standard input and output: <c>rsync --server</c>). The end of <paramref name="input"/> closes the
    /// command's input; when the command exits, a read of <paramref name="input"/> still waiting is abandoned. A
    /// failure reading the input or writing the output kills the process and is rethrown unchanged. Returns the
    /// result whatever the exit code (standard output is not kept), with the bytes copied each way.
    /// </summary>
    /// <param name="arguments">The command's arguments.</param>
    /// <param name="input">What the command reads.</param>
    /// <param name="output">Where what it writes goes.</param>
    /// <param name="cancellationToken">Kills the command.</param>
    /// <param name="start">
    /// Starts the process instead of <see cref="Process.Start(ProcessStartInfo)"/> (the rsync route's server and
    /// <c>btrfs receive</c>: on a thread confined by Landlock, so the process is too); null:
    /// <see cref="Process.Start(ProcessStartInfo)"/>.
    /// </param>
    /// <exception cref="BackendCommandException">The program could not be started.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (the process was killed).</exception>
    public async Task<(ExternalCommandResult Result, long BytesIn, long BytesOut)> RunDuplexAsync(IReadOnlyList<string> arguments, Stream input, Stream output,
        CancellationToken cancellationToken, Func<ProcessStartInfo, Process?>? start = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        using var process = Start(arguments, redirectInput: true, out var commandLine, start);
        using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
        using var copying = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stderr = ReadTailAsync(process.StandardError);
        var exited = process.WaitForExitAsync(CancellationToken.None);
        // Once it has exited it reads no more: a read of the input still waiting for the peer is abandoned.
        _ = exited.ContinueWith(_ => ExternalInputCommand.CancelQuietly(copying), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var feeding = Task.Factory.StartNew(
            () => ExternalInputCommand.CopyIn(process, ReadOnlyMemory<byte>.Empty, input, process.StandardInput.BaseStream, copying, cancellationToken),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var draining = Task.Factory.StartNew(() => CopyOut(process, process.StandardOutput.BaseStream, output, cancellationToken),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var (copiedOut, outputFailure) = await draining.ConfigureAwait(false);
        await exited.ConfigureAwait(false);
        var (fed, _, inputFailure) = await feeding.ConfigureAwait(false);
        var result = Result(commandLine, process.ExitCode, "", await stderr.ConfigureAwait(false));
        cancellationToken.ThrowIfCancellationRequested();
        inputFailure?.Throw();
        outputFailure?.Throw();
        Finished(result, clock.Elapsed, fed + copiedOut);
        return (result, fed, copiedOut);
    }

    /// <summary>
    /// Starts the command with its standard input open but not a byte written: the caller then either feeds it
    /// (<see cref="ExternalInputCommand.FeedAsync"/>) or abandons it (<see cref="ExternalInputCommand.DisposeAsync"/>
    /// kills it and closes its input unread). Cancelling <paramref name="cancellationToken"/> kills the process.
    /// <paramref name="start"/>: as for <see cref="RunDuplexAsync"/>.
    /// </summary>
    public ExternalInputCommand StartWithInput(IReadOnlyList<string> arguments, CancellationToken cancellationToken, Func<ProcessStartInfo, Process?>? start = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        var process = Start(arguments, redirectInput: true, out var commandLine, start);
        return new ExternalInputCommand(this, process, commandLine, clock, cancellationToken);
    }

    /// <summary>The command line for messages and logs: arguments quoted where they hold spaces, quotes or control characters (not for a shell).</summary>
    public string Format(IReadOnlyList<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var text = new StringBuilder(Program);
        foreach (var a in arguments)
        {
            text.Append(' ');
            if (a.Length > 0 && !a.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\' || char.IsControl(c)))
            {
                text.Append(a);
            }
            else
            {
                text.Append('\'').Append(new string([.. a.Select(c => char.IsControl(c) ? '?' : c)]).Replace("'", "'\\''", StringComparison.Ordinal)).Append('\'');
            }
        }
        return text.ToString();
    }

    internal ExternalCommandResult Result(string commandLine, int exitCode, string standardOutput, string standardError) =>
        new(commandLine, exitCode, standardOutput, standardError, exitCode != 0 && _isTransient is not null && _isTransient(standardError));

    internal void Finished(in ExternalCommandResult result, TimeSpan elapsed, long bytes) => _events.Finished?.Invoke(_logger, result, elapsed, bytes);

    /// <summary>Reads standard error to its end, keeping the last <see cref="StandardErrorTailChars"/> characters.</summary>
    internal static Task<string> ReadTailAsync(StreamReader reader) => ReadTailAsync(reader, StandardErrorTailChars);

    /// <summary>Reads <paramref name="reader"/> to its end, keeping the last <paramref name="limit"/> characters ("…" marks a cut).</summary>
    internal static async Task<string> ReadTailAsync(StreamReader reader, int limit)
    {
        var text = new StringBuilder();
        var buffer = new char[4096];
        var dropped = false;
        int n;
        while ((n = await reader.ReadAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false)) > 0)
        {
            text.Append(buffer, 0, n);
            if (text.Length > 2 * limit)
            {
                text.Remove(0, text.Length - limit);
                dropped = true;
            }
        }
        if (text.Length > limit)
        {
            text.Remove(0, text.Length - limit);
            dropped = true;
        }
        return dropped ? "…" + text : text.ToString();
    }

    /// <summary>
    /// On a dedicated thread: copies the process's output pipe into <paramref name="destination"/> until the pipe ends
    /// or something fails (which kills the process), flushes the destination, then closes the pipe. Returns the bytes
    /// copied and the failure.
    /// </summary>
    private static (long Copied, ExceptionDispatchInfo? Failure) CopyOut(Process process, Stream output, Stream destination, CancellationToken cancellationToken)
    {
        long copied = 0;
        ExceptionDispatchInfo? failure = null;
        var buffer = ChunkPool.Rent(CopyBufferSize);
        var lent = false;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                int n;
                try
                {
                    n = output.Read(buffer, 0, CopyBufferSize);
                }
                catch (IOException e)
                {
                    failure = ExceptionDispatchInfo.Capture(e);
                    Kill(process);
                    break;
                }
                if (n == 0)
                {
                    break;
                }
                try
                {
                    var write = destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                    if (!write.IsCompletedSuccessfully)
                    {
                        lent = true; // until the write is over, whatever happens to it
                        write.AsTask().GetAwaiter().GetResult();
                        lent = false;
                    }
                    copied += n;
                }
                catch (Exception e)
                {
                    failure = ExceptionDispatchInfo.Capture(e);
                    Kill(process);
                    break;
                }
            }
            if (failure is null && !cancellationToken.IsCancellationRequested)
            {
                try
                {
                    destination.FlushAsync(cancellationToken).GetAwaiter().GetResult();
                }
                catch (Exception e)
                {
                    failure = ExceptionDispatchInfo.Capture(e);
                }
            }
        }
        finally
        {
            if (!lent)
            {
                ChunkPool.Return(buffer);
            }
            // Close our end so that a writer still holding the pipe (the zfs-fuse daemon) sees EPIPE and stops.
            output.Dispose();
        }
        return (copied, failure);
    }

    private Process Start(IReadOnlyList<string> arguments, bool redirectInput, out string commandLine, Func<ProcessStartInfo, Process?>? start = null)
    {
        commandLine = Format(arguments);
        var info = new ProcessStartInfo(Program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            CreateNoWindow = true,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        // Messages are matched ("dataset is busy", "does not exist"): keep them in the C locale.
        info.Environment["LC_ALL"] = "C";
        foreach (var (name, value) in _environment)
        {
            info.Environment[name] = value;
        }
        _events.Starting?.Invoke(_logger, commandLine);
        Process? process;
        try
        {
            Interlocked.Increment(ref _started);
            process = start is null ? Process.Start(info) : start(info);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new BackendCommandException(commandLine, -1, $"{e.Message}. Is {Program} installed (on the PATH)?", innerException: e);
        }
        if (process is null)
        {
            throw new BackendCommandException(commandLine, -1, "the process could not be started.");
        }
        if (redirectInput)
        {
            PipeCapacity.TryEnlarge(process.StandardInput.BaseStream);
        }
        else
        {
            // Nothing to read: the command sees the end of its input at once (rather than the caller's terminal).
            process.StandardInput.Close();
        }
        PipeCapacity.TryEnlarge(process.StandardOutput.BaseStream);
        return process;
    }

    internal static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exiting as we asked; nothing more to do.
        }
    }
}
