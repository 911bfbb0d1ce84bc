using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Btrfs;

/// <summary>
/// Runs the <c>btrfs</c> program: always with an argument list (never a shell string), asynchronously, its
/// standard error captured for the exception, the process killed when the operation is cancelled or its
/// data stream fails. Standard output is either captured as text or streamed to a <see cref="Stream"/>;
/// standard input is either closed or streamed from one.
/// </summary>
internal sealed class BtrfsCommandRunner
{
    private const int MaxStandardErrorChars = 16 * 1024;
    private const int CopyBufferSize = 1024 * 1024;

    private readonly ILogger _logger;
    private long _started;

    public BtrfsCommandRunner(string program, ILogger logger)
    {
        Program = program;
        _logger = logger;
    }

    /// <summary>The program run (<c>btrfs</c> from the PATH by default).</summary>
    public string Program { get; }

    /// <summary>How many processes this runner has started (tests check that bad input starts none).</summary>
    public long StartedCount => Interlocked.Read(ref _started);

    /// <summary>Runs a command and returns its standard output.</summary>
    public async Task<string> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var output = new MemoryStream();
        await RunCoreAsync(arguments, input: null, prefix: default, output, cancellationToken).ConfigureAwait(false);
        return Encoding.UTF8.GetString(output.GetBuffer(), 0, (int)output.Length);
    }

    /// <summary>Runs a command and copies its standard output to <paramref name="destination"/>; returns the bytes copied.</summary>
    public Task<long> RunWithOutputAsync(IReadOnlyList<string> arguments, Stream destination, CancellationToken cancellationToken) =>
        RunCoreAsync(arguments, input: null, prefix: default, destination, cancellationToken);

    /// <summary>Runs a command whose standard input is <paramref name="prefix"/> followed by the rest of <paramref name="source"/>; returns the bytes fed.</summary>
    public Task<long> RunWithInputAsync(IReadOnlyList<string> arguments, ReadOnlyMemory<byte> prefix, Stream source, CancellationToken cancellationToken) =>
        RunCoreAsync(arguments, source, prefix, output: null, cancellationToken);

    /// <summary>The command line for people: arguments with white space or quotes are quoted.</summary>
    public string FormatCommand(IReadOnlyList<string> arguments)
    {
        var text = new StringBuilder(Program);
        foreach (var a in arguments)
        {
            text.Append(' ');
            if (a.Length > 0 && !a.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '\\' || char.IsControl(c)))
            {
                text.Append(a);
            }
            else
            {
                text.Append('\'').Append(a.Replace("'", "'\\''", StringComparison.Ordinal)).Append('\'');
            }
        }
        return text.ToString();
    }

    private async Task<long> RunCoreAsync(IReadOnlyList<string> arguments, Stream? input, ReadOnlyMemory<byte> prefix, Stream? output, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var command = FormatCommand(arguments);
        var info = new ProcessStartInfo(Program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        // Stable, parseable output: C locale messages, times in UTC.
        info.Environment["LC_ALL"] = "C";
        info.Environment["TZ"] = "UTC";

        Log.CommandStarting(_logger, command);
        var stopwatch = Stopwatch.StartNew();
        var process = new Process { StartInfo = info };
        try
        {
            Interlocked.Increment(ref _started);
            process.Start();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            process.Dispose();
            throw new BtrfsCommandException(command, -1, e.Message, e);
        }

        using (process)
        {
            var killed = 0;
            void Kill()
            {
                if (Interlocked.Exchange(ref killed, 1) == 0)
                {
                    try
                    {
                        process.Kill(entireProcessTree: true);
                    }
                    catch (InvalidOperationException)
                    {
                        // Already exited.
                    }
                }
            }

            if (input is not null)
            {
                PipeCapacity.TryEnlarge(process.StandardInput.BaseStream);
            }
            if (output is not null)
            {
                PipeCapacity.TryEnlarge(process.StandardOutput.BaseStream);
            }
            var stderrTask = ReadStandardErrorAsync(process.StandardError);
            var pump = new Pump();
            using (cancellationToken.UnsafeRegister(static state => ((Action)state!)(), (Action)Kill))
            {
                if (input is null)
                {
                    process.StandardInput.Close();
                    if (output is not null)
                    {
                        await pump.CopyAsync(process.StandardOutput.BaseStream, fromIsProcess: true, output, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await pump.CopyAsync(process.StandardOutput.BaseStream, fromIsProcess: true, Stream.Null, cancellationToken).ConfigureAwait(false);
                    }
                }
                else
                {
                    // Nothing is expected on standard output; drain it so the process never blocks on it.
                    var drain = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                    if (!prefix.IsEmpty)
                    {
                        await pump.WriteAsync(process.StandardInput.BaseStream, prefix, toIsProcess: true, cancellationToken).ConfigureAwait(false);
                    }
                    if (pump.Failure is null)
                    {
                        await pump.CopyAsync(input, fromIsProcess: false, process.StandardInput.BaseStream, cancellationToken).ConfigureAwait(false);
                    }
                    try
                    {
                        process.StandardInput.Close();
                    }
                    catch (IOException)
                    {
                        // The process is gone; its exit status says why.
                    }
                    if (pump.CallerStreamFailed)
                    {
                        Kill();
                    }
                    try
                    {
                        await drain.ConfigureAwait(false);
                    }
                    catch (IOException)
                    {
                        // Killed while draining.
                    }
                }
                if (pump.CallerStreamFailed)
                {
                    // The caller's stream failed (the source threw, the destination refused): stop the command.
                    Kill();
                }

                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            var stderr = await stderrTask.ConfigureAwait(false);
            var exitCode = process.ExitCode;
            Log.CommandFinished(_logger, command, exitCode, stopwatch.Elapsed.TotalMilliseconds, pump.Transferred);

            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"`{command}` was cancelled (process killed).", pump.Failure, cancellationToken);
            }
            if (pump.CallerStreamFailed)
            {
                // The cause is the caller's stream: let its exception through unchanged.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(pump.Failure!);
            }
            if (exitCode != 0)
            {
                throw new BtrfsCommandException(command, exitCode, stderr, pump.Failure);
            }
            if (pump.Failure is not null)
            {
                throw new BtrfsCommandException(command, exitCode, $"the pipe to the command failed: {pump.Failure.Message}", pump.Failure);
            }
            return pump.Transferred;
        }
    }

    /// <summary>Copies between the process's pipes and the caller's stream, remembering which side failed first.</summary>
    private sealed class Pump
    {
        public long Transferred { get; private set; }

        public Exception? Failure { get; private set; }

        /// <summary>Whether the failure came from the caller's stream rather than the pipe to the process.</summary>
        public bool CallerStreamFailed { get; private set; }

        public async Task WriteAsync(Stream to, ReadOnlyMemory<byte> data, bool toIsProcess, CancellationToken cancellationToken)
        {
            try
            {
                await to.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                Transferred += data.Length;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Fail(e, callerSide: !toIsProcess);
            }
        }

        public async Task CopyAsync(Stream from, bool fromIsProcess, Stream to, CancellationToken cancellationToken)
        {
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(CopyBufferSize);
            try
            {
                while (true)
                {
                    int n;
                    try
                    {
                        n = await from.ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        Fail(e, callerSide: !fromIsProcess);
                        return;
                    }
                    if (n == 0)
                    {
                        break;
                    }
                    try
                    {
                        await to.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        Fail(e, callerSide: fromIsProcess);
                        return;
                    }
                    Transferred += n;
                }
                try
                {
                    await to.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Fail(e, callerSide: fromIsProcess);
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        private void Fail(Exception e, bool callerSide)
        {
            if (Failure is null)
            {
                Failure = e;
                CallerStreamFailed = callerSide && e is not OperationCanceledException;
            }
        }
    }

    private static async Task<string> ReadStandardErrorAsync(StreamReader reader)
    {
        var text = new StringBuilder();
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false)) > 0)
        {
            if (text.Length < MaxStandardErrorChars)
            {
                text.Append(buffer, 0, Math.Min(n, MaxStandardErrorChars - text.Length));
            }
        }
        return text.ToString().Trim();
    }
}
