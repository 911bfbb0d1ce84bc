using DeltaSnap.ExternalCommands;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Rsync;

/// <summary>
/// How this package starts programs: through the shared <see cref="ExternalCommandRunner"/> (one runner per
/// program: <c>rsync</c>, <c>cp</c>), logging with this package's event ids, and failing with the core's
/// <see cref="BackendCommandException"/>.
/// </summary>
internal static class RsyncPrograms
{
    /// <summary>How much of standard output a runner keeps: the tail, where <c>--stats</c> are.</summary>
    public const int StandardOutputTailChars = 64 * 1024;

    /// <summary>rsync's "some files vanished before they could be transferred".</summary>
    public const int VanishedExitCode = 24;

    private static readonly ExternalCommandEvents Events = new()
    {
        Starting = static (logger, commandLine) => Log.ProgramStarting(logger, commandLine),
        Finished = static (logger, result, elapsed, _) => Log.ProgramFinished(logger, result.CommandLine, result.ExitCode, elapsed.TotalMilliseconds),
    };

    /// <summary>A runner for <paramref name="program"/> (a name on the PATH or a full path).</summary>
    public static ExternalCommandRunner CreateRunner(string program, ILogger logger) =>
        new(program, logger, Events, standardOutputTailChars: StandardOutputTailChars);

    /// <summary>
    /// Runs the command and returns its result whatever the exit code; when cancelled, the process tree has been
    /// killed and that is logged.
    /// </summary>
    public static async Task<ExternalCommandResult> RunAsync(ExternalCommandRunner runner, IReadOnlyList<string> arguments, ILogger logger, CancellationToken cancellationToken,
        Func<System.Diagnostics.ProcessStartInfo, System.Diagnostics.Process?>? start = null)
    {
        try
        {
            return await runner.TryRunAsync(arguments, cancellationToken, start).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.ProgramKilled(logger, runner.Program);
            throw;
        }
    }

    /// <summary>
    /// Whether an rsync exit code means that trying again may work: 10 (socket I/O), 12 (protocol data stream),
    /// 30 (timeout sending or receiving data), 35 (timeout waiting for a daemon connection) — the link broke, not the
    /// data. Everything else (23 partial transfer, 24 vanished files, a signal, bad options) is not.
    /// </summary>
    public static bool IsTransientRsyncExit(int exitCode) => exitCode is 10 or 12 or 30 or 35;

    /// <summary>The exception for a failed command: what was being done and what the exit code means are added to its standard error tail.</summary>
    public static BackendCommandException Failure(in ExternalCommandResult result, string what, bool isRsync)
    {
        var error = result.StandardError.Trim();
        var note = $"({what}{Describe(result.ExitCode, isRsync)})";
        return new BackendCommandException(result.CommandLine, result.ExitCode, error.Length == 0 ? note : error + " " + note,
            isTransient: isRsync && IsTransientRsyncExit(result.ExitCode));
    }

    private static string Describe(int exitCode, bool isRsync) => exitCode switch
    {
        23 when isRsync => "; partial transfer: some files or attributes could not be copied",
        VanishedExitCode when isRsync => "; some source files vanished during the transfer: allow vanished files to accept an inconsistent copy",
        10 or 12 or 30 or 35 when isRsync => "; the connection or protocol failed: retrying may succeed",
        > 128 => $"; ended by signal {exitCode - 128}",
        _ => "",
    };
}
