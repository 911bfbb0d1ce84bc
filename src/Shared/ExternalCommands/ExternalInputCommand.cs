// Shared source: linked into each package that starts programs (see ExternalCommandRunner.cs for why).
using System.Buffers;
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace DeltaSnap.ExternalCommands;

/// <summary>
/// A started command whose standard input DeltaSnap writes: fed once, or abandoned unfed. A receive started this way
/// while the stream's header is still being checked costs nothing when the check fails (<c>zfs receive</c> and
/// <c>btrfs receive</c> do nothing before they have read their first record). The pipe is written with blocking calls
/// on a dedicated thread, as <see cref="ExternalCommandRunner.RunWithOutputAsync"/> reads.
/// </summary>
internal sealed class ExternalInputCommand : IAsyncDisposable
{
    private readonly ExternalCommandRunner _runner;
    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly CancellationTokenRegistration _registration;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;
    private readonly Task _exited;
    private bool _fed;

    internal ExternalInputCommand(ExternalCommandRunner runner, Process process, string commandLine, Stopwatch clock, CancellationToken cancellationToken)
    {
        _runner = runner;
        _process = process;
        _clock = clock;
        CommandLine = commandLine;
        _registration = cancellationToken.Register(static p => ExternalCommandRunner.Kill((Process)p!), process);
        _stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        _stderr = ExternalCommandRunner.ReadTailAsync(process.StandardError);
        _exited = process.WaitForExitAsync(CancellationToken.None);
    }

    /// <summary>The command line, for messages.</summary>
    public string CommandLine { get; }

    /// <summary>
    /// Feeds <paramref name="prefix"/> and then the rest of <paramref name="source"/> to the command. A failure reading
    /// the source kills the process (so that a partial stream is never committed) and is rethrown. When the process
    /// ends early (it failed, or something killed it) the copy stops at once rather than waiting on the source; when
    /// it ended successfully with bytes of the source left, that is a failure too. Returns the result whatever the
    /// exit code, and the bytes fed.
    /// </summary>
    public async Task<(ExternalCommandResult Result, long BytesFed)> FeedAsync(ReadOnlyMemory<byte> prefix, Stream source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (_fed)
        {
            throw new InvalidOperationException($"`{CommandLine}` was fed already.");
        }
        _fed = true;
        var process = _process;
        using var copying = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // A failed process stops the copy at once. One that ended successfully (zfs receive exits after the END record)
        // does not cancel a read in flight: that would leave a framed source (a delta stream reader) faulted, so the
        // stream's rest could not be drained and checked. The copy then stops at the next write, which fails.
        _ = _exited.ContinueWith(_ =>
        {
            if (process.ExitCode != 0)
            {
                CancelQuietly(copying);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        var input = process.StandardInput.BaseStream;
        var copy = Task.Factory.StartNew(() => CopyIn(process, prefix, source, input, copying, cancellationToken),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var (fed, stoppedEarly, sourceFailure) = await copy.ConfigureAwait(false);
        await _exited.ConfigureAwait(false);
        var result = _runner.Result(CommandLine, process.ExitCode, await _stdout.ConfigureAwait(false), await _stderr.ConfigureAwait(false));
        cancellationToken.ThrowIfCancellationRequested();
        sourceFailure?.Throw();
        _runner.Finished(result, _clock.Elapsed, fed);
        if (stoppedEarly && result.Succeeded)
        {
            // It ended successfully before the source did: only acceptable when nothing was left.
            var left = await DrainAsync(source, cancellationToken).ConfigureAwait(false);
            if (left > 0)
            {
                throw new BackendCommandException(CommandLine, result.ExitCode,
                    $"the command ended after reading {fed} bytes, but {left} more bytes followed in the stream. {result.StandardError.Trim()}");
            }
        }
        return (result, fed);
    }

    /// <summary>Kills the command unless it was fed, closes its input, waits for it to end and lets go of it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_fed)
        {
            // Not a byte was written: kill it first, so that it cannot take the closed input for an empty stream.
            _fed = true;
            ExternalCommandRunner.Kill(_process);
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

    /// <summary>
    /// On a dedicated thread: writes <paramref name="prefix"/> and then <paramref name="source"/> into the input pipe
    /// with blocking calls, reading the source on the same thread (waiting there when a read does not complete at once).
    /// Stops when the source ends, when the process stops reading (<paramref name="copying"/> is cancelled when it
    /// exits), or when the source fails (which kills the process). Closes the input, which is the end of the stream for
    /// the reader. Returns the bytes written, whether the process stopped reading, and the source's failure.
    /// </summary>
    internal static (long Fed, bool StoppedEarly, ExceptionDispatchInfo? SourceFailure) CopyIn(
        Process process, ReadOnlyMemory<byte> prefix, Stream source, Stream input, CancellationTokenSource copying, CancellationToken cancellationToken)
    {
        long fed = 0;
        var stoppedEarly = false;
        ExceptionDispatchInfo? sourceFailure = null;
        var buffer = ExternalCommandRunner.ChunkPool.Rent(ExternalCommandRunner.CopyBufferSize);
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
                        var read = source.ReadAsync(buffer.AsMemory(0, ExternalCommandRunner.CopyBufferSize), copying.Token);
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
                    catch (Exception) when (copying.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                    {
                        // The process ended, or stopped reading, and the read in flight was cancelled for it. A framed source
                        // (a delta stream reader) reports that cancellation as its own failure: the process's exit code and
                        // stderr say what went wrong, not the source.
                        stoppedEarly = true;
                        break;
                    }
                    catch (Exception e)
                    {
                        sourceFailure = ExceptionDispatchInfo.Capture(e);
                        CancelQuietly(copying);
                        ExternalCommandRunner.Kill(process);
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
                ExternalCommandRunner.ChunkPool.Return(buffer);
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

    internal static void CancelQuietly(CancellationTokenSource source)
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
}
