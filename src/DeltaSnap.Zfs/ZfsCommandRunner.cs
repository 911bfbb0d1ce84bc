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
    public async Task<long> RunWithOutputAsync(IReadOnlyList<string> arguments, Stream destination, CancellationToken cancellationToken)
    {
        using var process = Start(arguments, redirectInput: false, out var commandLine);
        using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var output = process.StandardOutput.BaseStream;
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        long copied = 0;
        ExceptionDispatchInfo? failure = null;
        try
        {
            while (true)
            {
                var n = await output.ReadAsync(buffer, CancellationToken.None).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                copied += n;
            }
        }
        catch (Exception e)
        {
            failure = ExceptionDispatchInfo.Capture(e);
            Kill(process);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            // Close our end so that a writer still holding the pipe (the zfs-fuse daemon) sees EPIPE and stops.
            await output.DisposeAsync().ConfigureAwait(false);
        }
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        var result = new ZfsCommandResult(commandLine, process.ExitCode, "", await stderr.ConfigureAwait(false));
        cancellationToken.ThrowIfCancellationRequested();
        failure?.Throw();
        Finished(result);
        result.ThrowIfFailed();
        return copied;
    }

    /// <summary>
    /// Runs the command with <paramref name="prefix"/> and then the rest of <paramref name="source"/> as its
    /// standard input. A failure reading the source kills the process (so that a partial stream is never
    /// committed) and is rethrown. When the process ends early (it failed, or something killed it) the copy
    /// stops at once rather than waiting on the source. Returns the result whatever the exit code, and the
    /// bytes fed.
    /// </summary>
    public async Task<(ZfsCommandResult Result, long BytesFed)> RunWithInputAsync(
        IReadOnlyList<string> arguments, ReadOnlyMemory<byte> prefix, Stream source, CancellationToken cancellationToken)
    {
        using var process = Start(arguments, redirectInput: true, out var commandLine);
        using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var exited = process.WaitForExitAsync(CancellationToken.None);
        using var copying = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _ = exited.ContinueWith(static (_, state) => CancelQuietly((CancellationTokenSource)state!), copying,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        var input = process.StandardInput.BaseStream;
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        long fed = 0;
        ExceptionDispatchInfo? sourceFailure = null;
        var stoppedEarly = false;
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
                        n = await source.ReadAsync(buffer, copying.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (copying.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                    {
                        stoppedEarly = true; // the process ended
                        break;
                    }
                    catch (Exception e)
                    {
                        sourceFailure = ExceptionDispatchInfo.Capture(e);
                        Kill(process);
                        break;
                    }
                    if (n == 0)
                    {
                        break;
                    }
                    pending = buffer.AsMemory(0, n);
                }
                try
                {
                    await input.WriteAsync(pending, copying.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    stoppedEarly = true; // the reader went away: its exit code and stderr say why
                    break;
                }
                fed += pending.Length;
                pending = ReadOnlyMemory<byte>.Empty;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            // Closing stdin is the end of the stream for the reader (for zfs-fuse: the daemon holding the pipe).
            try
            {
                await input.DisposeAsync().ConfigureAwait(false);
            }
            catch (IOException)
            {
                stoppedEarly = true;
            }
        }
        await exited.ConfigureAwait(false);
        var result = new ZfsCommandResult(commandLine, process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        cancellationToken.ThrowIfCancellationRequested();
        sourceFailure?.Throw();
        Finished(result);
        if (stoppedEarly && result.Succeeded)
        {
            // It ended successfully before the source did: only acceptable when nothing was left.
            var left = await DrainAsync(source, cancellationToken).ConfigureAwait(false);
            if (left > 0)
            {
                throw new ZfsCommandException(commandLine, result.ExitCode,
                    $"the command ended after reading {fed} bytes, but {left} more bytes followed in the stream. {result.StandardError}");
            }
        }
        return (result, fed);
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
            return Process.Start(info) ?? throw new ZfsCommandException($"`{commandLine}` could not be started.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ZfsCommandException($"`{commandLine}` could not be started: {e.Message}. Is ZFS installed ({Program} on the PATH)?", e);
        }
    }

    private void Finished(in ZfsCommandResult result)
    {
        if (!result.Succeeded)
        {
            Log.CommandFailed(_logger, result.CommandLine, result.ExitCode, result.StandardError.Trim());
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
