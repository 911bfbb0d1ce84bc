using System.Buffers;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Zfs;

/// <summary>What a finished command returned.</summary>
internal readonly record struct ZfsCommandResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    public bool SaysBusy => StandardError.Contains("dataset is busy", StringComparison.Ordinal);

    public bool SaysNotFound => StandardError.Contains("does not exist", StringComparison.Ordinal);

    public ZfsCommandResult ThrowIfFailed() => Succeeded ? this : throw new ZfsCommandException(CommandLine, ExitCode, StandardError);
}

/// <summary>
/// Runs <c>zfs</c>/<c>zpool</c> as child processes: arguments through <see cref="ProcessStartInfo.ArgumentList"/>
/// (never a shell), standard output and error read asynchronously, stdin/stdout streamed through pooled
/// buffers, and cancellation that kills the process.
/// </summary>
internal sealed class ZfsCommandRunner
{
    private const int CopyBufferSize = 1 << 20;
    private const int PipeSize = 1 << 20;

    /// <summary>
    /// The copy buffers' own pool (one buffer per copying thread): the shared pool keeps few 1 MiB arrays, and a
    /// transfer that rents past them allocates.
    /// </summary>
    private static readonly ArrayPool<byte> ChunkPool = ArrayPool<byte>.Create(CopyBufferSize, 16);
    private static readonly TimeSpan BusyRetryTime = TimeSpan.FromSeconds(5);

    private readonly ILogger _logger;

    public ZfsCommandRunner(string program, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        Program = program;
        _logger = logger;
    }

    /// <summary>The program this runner starts (<c>zfs</c>, <c>zpool</c> or a full path).</summary>
    public string Program { get; }

    /// <summary>Runs the command and returns its output; throws <see cref="ZfsCommandException"/> when it fails.</summary>
    public async Task<string> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        (await TryRunAsync(arguments, cancellationToken).ConfigureAwait(false)).ThrowIfFailed().StandardOutput;

    /// <summary>
    /// Runs the command, retrying for a few seconds while it says "dataset is busy" (zfs-fuse releases files
    /// asynchronously after I/O); throws <see cref="ZfsCommandException"/> when it still fails.
    /// </summary>
    public async Task<string> RunRetryingBusyAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            var result = await TryRunAsync(arguments, cancellationToken).ConfigureAwait(false);
            if (result.Succeeded || !result.SaysBusy || clock.Elapsed > BusyRetryTime)
            {
                return result.ThrowIfFailed().StandardOutput;
            }
            Log.CommandBusy(_logger, result.CommandLine, delay.TotalMilliseconds);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
    }

    /// <summary>Runs the command and returns its result whatever the exit code.</summary>
    public async Task<ZfsCommandResult> TryRunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        using var process = Start(arguments, redirectInput: false, out var commandLine);
        using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        var result = new ZfsCommandResult(commandLine, process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        cancellationToken.ThrowIfCancellationRequested();
        Finished(result);
        return result;
    }

    /// <summary>
    /// Runs the command with its standard output copied into <paramref name="destination"/> as it comes.
    /// A failure writing the destination kills the process and is rethrown; a failing command throws
    /// <see cref="ZfsCommandException"/>. Returns the bytes copied.
    /// </summary>
    /// <remarks>
    /// One dedicated thread copies, as <c>cat</c> would: a blocking read of the pipe, then the destination's write,
    /// waited for on the same thread when it does not complete at once. The asynchronous API of anonymous pipes on
    /// Unix runs each call as a separate thread-pool item, and handing each chunk from thread to thread cost more
    /// CPU than zfs-fuse itself on two cores (waking and spinning workers): both made transfers up to 1.5× as slow
    /// as a shell pipeline.
    /// </remarks>
    public async Task<long> RunWithOutputAsync(IReadOnlyList<string> arguments, Stream destination, CancellationToken cancellationToken)
    {
        using var process = Start(arguments, redirectInput: false, out var commandLine);
        using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var output = process.StandardOutput.BaseStream;
        var copy = Task.Factory.StartNew(() => CopyOut(process, output, destination, cancellationToken),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var (copied, failure) = await copy.ConfigureAwait(false);
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        var result = new ZfsCommandResult(commandLine, process.ExitCode, "", await stderr.ConfigureAwait(false));
        cancellationToken.ThrowIfCancellationRequested();
        failure?.Throw();
        Finished(result);
        result.ThrowIfFailed();
        return copied;
    }

    /// <summary>
    /// On a dedicated thread: copies the process's output pipe into <paramref name="destination"/> until the pipe ends
    /// or something fails (which kills the process), then closes the pipe. Returns the bytes copied and the failure.
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

    /// <summary>
    /// Starts the command with its standard input open but not a byte written: the caller then either feeds it
    /// (<see cref="ZfsInputCommand.FeedAsync"/>) or abandons it (<see cref="ZfsInputCommand.DisposeAsync"/> kills it
    /// and closes its input unread). A receive started this way while the stream's header is still being checked
    /// costs nothing when the check fails: <c>zfs receive</c> does nothing before it has read a BEGIN record.
    /// Cancelling <paramref name="cancellationToken"/> kills the process.
    /// </summary>
    public ZfsInputCommand StartWithInput(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var process = Start(arguments, redirectInput: true, out var commandLine);
        return new ZfsInputCommand(this, process, commandLine, cancellationToken);
    }

    /// <summary>
    /// A started command whose standard input DeltaSnap writes: fed once, or abandoned unfed. The pipe is written with
    /// blocking calls on a dedicated thread, as <see cref="RunWithOutputAsync"/> reads.
    /// </summary>
    internal sealed class ZfsInputCommand : IAsyncDisposable
    {
        private readonly ZfsCommandRunner _runner;
        private readonly Process _process;
        private readonly string _commandLine;
        private readonly CancellationTokenRegistration _registration;
        private readonly Task<string> _stdout;
        private readonly Task<string> _stderr;
        private readonly Task _exited;
        private bool _fed;

        public ZfsInputCommand(ZfsCommandRunner runner, Process process, string commandLine, CancellationToken cancellationToken)
        {
            _runner = runner;
            _process = process;
            _commandLine = commandLine;
            _registration = cancellationToken.Register(static p => Kill((Process)p!), process);
            _stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            _stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            _exited = process.WaitForExitAsync(CancellationToken.None);
        }

        /// <summary>The command line, for messages.</summary>
        public string CommandLine => _commandLine;

        /// <summary>
        /// Feeds <paramref name="prefix"/> and then the rest of <paramref name="source"/> to the command. A failure
        /// reading the source kills the process (so that a partial stream is never committed) and is rethrown. When
        /// the process ends early (it failed, or something killed it) the copy stops at once rather than waiting on
        /// the source. Returns the result whatever the exit code, and the bytes fed.
        /// </summary>
        public async Task<(ZfsCommandResult Result, long BytesFed)> FeedAsync(ReadOnlyMemory<byte> prefix, Stream source, CancellationToken cancellationToken)
        {
            if (_fed)
            {
                throw new InvalidOperationException($"`{_commandLine}` was fed already.");
            }
            _fed = true;
            var process = _process;
            using var copying = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _ = _exited.ContinueWith(static (_, state) => CancelQuietly((CancellationTokenSource)state!), copying,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

            var input = process.StandardInput.BaseStream;
            var copy = Task.Factory.StartNew(() => CopyIn(process, prefix, source, input, copying, cancellationToken),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var (fed, stoppedEarly, sourceFailure) = await copy.ConfigureAwait(false);
            await _exited.ConfigureAwait(false);
            var result = new ZfsCommandResult(_commandLine, process.ExitCode, await _stdout.ConfigureAwait(false), await _stderr.ConfigureAwait(false));
            cancellationToken.ThrowIfCancellationRequested();
            sourceFailure?.Throw();
            _runner.Finished(result);
            if (stoppedEarly && result.Succeeded)
            {
                // It ended successfully before the source did: only acceptable when nothing was left.
                var left = await DrainAsync(source, cancellationToken).ConfigureAwait(false);
                if (left > 0)
                {
                    throw new ZfsCommandException(_commandLine, result.ExitCode,
                        $"the command ended after reading {fed} bytes, but {left} more bytes followed in the stream. {result.StandardError}");
                }
            }
            return (result, fed);
        }

        /// <summary>
        /// On a dedicated thread: writes <paramref name="prefix"/> and then <paramref name="source"/> into the input
        /// pipe with blocking calls, reading the source on the same thread (waiting there when a read does not
        /// complete at once), as <see cref="CopyOut"/> does the other way. Stops when the source ends, when the
        /// process stops reading (<paramref name="copying"/> is cancelled when it exits), or when the source fails
        /// (which kills the process). Closes the input, which is the end of the stream for the reader (for zfs-fuse:
        /// the daemon holding the pipe). Returns the bytes written, whether the process stopped reading, and the
        /// source's failure.
        /// </summary>
        private static (long Fed, bool StoppedEarly, ExceptionDispatchInfo? SourceFailure) CopyIn(
            Process process, ReadOnlyMemory<byte> prefix, Stream source, Stream input, CancellationTokenSource copying, CancellationToken cancellationToken)
        {
            long fed = 0;
            var stoppedEarly = false;
            ExceptionDispatchInfo? sourceFailure = null;
            var buffer = ChunkPool.Rent(CopyBufferSize);
            var lent = false;
            try
            {
                var pending = prefix;
                while (true)
                {
                    if (pending.IsEmpty)
                    {
                        int n;
                        try
                        {
                            var read = source.ReadAsync(buffer.AsMemory(0, CopyBufferSize), copying.Token);
                            if (read.IsCompletedSuccessfully)
                            {
                                n = read.Result;
                            }
                            else
                            {
                                lent = true; // until the read is over, whatever happens to it
                                n = read.AsTask().GetAwaiter().GetResult();
                                lent = false;
                            }
                        }
                        catch (OperationCanceledException) when (copying.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                        {
                            stoppedEarly = true; // the process ended, or stopped reading
                            break;
                        }
                        catch (Exception e)
                        {
                            sourceFailure = ExceptionDispatchInfo.Capture(e);
                            CancelQuietly(copying);
                            Kill(process);
                            break;
                        }
                        if (n == 0)
                        {
                            break;
                        }
                        pending = buffer.AsMemory(0, n);
                    }
                    if (copying.IsCancellationRequested)
                    {
                        stoppedEarly = !cancellationToken.IsCancellationRequested;
                        break;
                    }
                    try
                    {
                        input.Write(pending.Span);
                        fed += pending.Length;
                        pending = ReadOnlyMemory<byte>.Empty;
                    }
                    catch (IOException)
                    {
                        // The reader went away (it failed or was killed): its exit code and stderr say why.
                        stoppedEarly = true;
                        CancelQuietly(copying);
                        break;
                    }
                }
            }
            finally
            {
                if (!lent)
                {
                    ChunkPool.Return(buffer);
                }
                try
                {
                    input.Dispose();
                }
                catch (IOException)
                {
                    stoppedEarly = true;
                }
            }
            return (fed, stoppedEarly, sourceFailure);
        }

        /// <summary>Kills the command unless it was fed, closes its input, waits for it to end and lets go of it.</summary>
        public async ValueTask DisposeAsync()
        {
            if (!_fed)
            {
                // Not a byte was written: kill it first, so that it cannot take the closed input for an empty stream.
                Kill(_process);
                try
                {
                    await _process.StandardInput.BaseStream.DisposeAsync().ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // It is gone already.
                }
                await _exited.ConfigureAwait(false);
                await Task.WhenAll(_stdout, _stderr).ConfigureAwait(false);
            }
            await _registration.DisposeAsync().ConfigureAwait(false);
            _process.Dispose();
        }
    }

    /// <summary>The command line for messages and logs: arguments quoted where they hold spaces or quotes (not for a shell).</summary>
    public string Format(IReadOnlyList<string> arguments)
    {
        var text = new StringBuilder(Program);
        foreach (var a in arguments)
        {
            text.Append(' ');
            if (a.Length > 0 && !a.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' || char.IsControl(c)))
            {
                text.Append(a);
            }
            else
            {
                text.Append('\'').Append(new string(a.Select(c => char.IsControl(c) ? '?' : c).ToArray()).Replace("'", "'\\''", StringComparison.Ordinal)).Append('\'');
            }
        }
        return text.ToString();
    }

    private static async Task<long> DrainAsync(Stream source, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 << 10);
        try
        {
            long total = 0;
            int n;
            while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += n;
            }
            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The copy had finished and let go of it.
        }
    }

    private Process Start(IReadOnlyList<string> arguments, bool redirectInput, out string commandLine)
    {
        commandLine = Format(arguments);
        var info = new ProcessStartInfo(Program)
        {
            UseShellExecute = false,
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        // Messages are matched in a few places ("dataset is busy"): keep them in the C locale.
        info.Environment["LC_ALL"] = "C";
        Log.CommandStarting(_logger, commandLine);
        try
        {
            var process = Process.Start(info) ?? throw new ZfsCommandException($"`{commandLine}` could not be started.");
            if (redirectInput)
            {
                GrowPipe(process.StandardInput.BaseStream);
            }
            GrowPipe(process.StandardOutput.BaseStream);
            return process;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ZfsCommandException($"`{commandLine}` could not be started: {e.Message}. Is ZFS installed ({Program} on the PATH)?", e);
        }
    }

    internal void Finished(in ZfsCommandResult result)
    {
        if (!result.Succeeded)
        {
            Log.CommandFailed(_logger, result.CommandLine, result.ExitCode, result.StandardError.Trim());
        }
    }

    /// <summary>
    /// Grows a pipe to 1 MiB (Linux; best effort): with the default 64 KiB, zfs-fuse's reader and DeltaSnap's
    /// writer wake each other for every 64 KiB, and a receive fed through DeltaSnap took 1.75× as long as a shell
    /// pipeline; with 1 MiB the gap mostly closes.
    /// </summary>
    private static void GrowPipe(Stream stream)
    {
        if (OperatingSystem.IsLinux() && stream is System.IO.Pipes.PipeStream pipe)
        {
            _ = NativeMethods.Fcntl(pipe.SafePipeHandle, NativeMethods.SetPipeSize, PipeSize);
        }
    }

    private static void Kill(Process process)
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
