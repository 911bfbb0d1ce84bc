using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Rsync;

/// <summary>How a program ended.</summary>
/// <param name="CommandLine">The program and its arguments, for messages.</param>
/// <param name="ExitCode">The exit code (128 + signal when a signal ended it).</param>
/// <param name="StandardOutput">The last part of what it wrote to standard output.</param>
/// <param name="StandardError">The last part of what it wrote to standard error.</param>
internal sealed record ProgramResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// The one place this package starts programs (<c>rsync</c>, <c>cp</c>): an argument list, never a shell;
/// <c>LC_ALL=C</c>; standard input closed; the tails of standard output and error kept (bounded); the process
/// tree killed when the token is cancelled. Narrow on purpose, so that it is swapped for the shared command
/// runner of <c>src/Shared</c> at integration.
/// </summary>
internal sealed class ProgramRunner(ILogger logger)
{
    /// <summary>How much of each output stream is kept (the tail).</summary>
    public const int TailLimit = 64 * 1024;

    public async Task<ProgramResult> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var info = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment["LC_ALL"] = "C";
        var commandLine = program + " " + string.Join(' ', arguments.Select(Quote));
        Log.ProgramStarting(logger, commandLine);
        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new RsyncCommandException($"Could not start {program}: {e.Message}", commandLine, -1, "", e);
        }
        process.StandardInput.Close();
        var stdout = ReadTailAsync(process.StandardOutput);
        var stderr = ReadTailAsync(process.StandardError);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It ended meanwhile.
            }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            Log.ProgramKilled(logger, commandLine);
            throw;
        }
        var result = new ProgramResult(commandLine, process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        Log.ProgramFinished(logger, commandLine, result.ExitCode, stopwatch.Elapsed.TotalMilliseconds);
        return result;
    }

    private static async Task<string> ReadTailAsync(StreamReader reader)
    {
        var tail = new StringBuilder();
        var buffer = new char[8192];
        int n;
        while ((n = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            tail.Append(buffer, 0, n);
            if (tail.Length > 2 * TailLimit)
            {
                tail.Remove(0, tail.Length - TailLimit);
            }
        }
        if (tail.Length > TailLimit)
        {
            tail.Remove(0, tail.Length - TailLimit);
        }
        return tail.ToString();
    }

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_=./:,+@%".Contains(c, StringComparison.Ordinal))
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
