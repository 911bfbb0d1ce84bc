using System.Diagnostics;
using DeltaSnap.ExternalCommands;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Zfs;

/// <summary>What ZFS's messages mean, read from a command's result.</summary>
internal static class ZfsCommandResults
{
    /// <summary>zfs-fuse releases files asynchronously after I/O and says so for a moment; a retry may succeed.</summary>
    public const string BusyMessage = "dataset is busy";

    public static bool SaysBusy(this ExternalCommandResult result) => result.StandardErrorContains(BusyMessage);

    public static bool SaysNotFound(this ExternalCommandResult result) => result.StandardErrorContains("does not exist");

    /// <summary>Whether a failed command's exception says the dataset was busy.</summary>
    public static bool SaysBusy(this BackendCommandException e) => e.StandardError.Contains(BusyMessage, StringComparison.Ordinal);

    /// <summary>Whether a failed command's exception says the dataset does not exist.</summary>
    public static bool SaysNotFound(this BackendCommandException e) => e.StandardError.Contains("does not exist", StringComparison.Ordinal);
}

/// <summary>
/// Runs <c>zfs</c>/<c>zpool</c> through the shared <see cref="ExternalCommandRunner"/> (argument lists, C locale,
/// bounded standard error, the streaming relay), with ZFS's own policy on top: a failure that says "dataset is busy"
/// is transient, and <see cref="RunRetryingBusyAsync"/> retries it for a few seconds.
/// </summary>
internal sealed class ZfsCommandRunner
{
    private static readonly TimeSpan BusyRetryTime = TimeSpan.FromSeconds(5);

    private static readonly ExternalCommandEvents Events = new()
    {
        Starting = Log.CommandStarting,
        Finished = static (logger, result, _, _) =>
        {
            if (!result.Succeeded)
            {
                Log.CommandFailed(logger, result.CommandLine, result.ExitCode, result.StandardError.Trim());
            }
        },
    };

    private readonly ILogger _logger;
    private readonly ExternalCommandRunner _runner;

    public ZfsCommandRunner(string program, ILogger logger)
    {
        _logger = logger;
        _runner = new ExternalCommandRunner(program, logger, Events, static stderr => stderr.Contains(ZfsCommandResults.BusyMessage, StringComparison.Ordinal));
    }

    /// <summary>The program this runner starts (<c>zfs</c>, <c>zpool</c> or a full path).</summary>
    public string Program => _runner.Program;

    /// <inheritdoc cref="ExternalCommandRunner.RunAsync"/>
    public Task<string> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken) => _runner.RunAsync(arguments, cancellationToken);

    /// <inheritdoc cref="ExternalCommandRunner.TryRunAsync"/>
    public Task<ExternalCommandResult> TryRunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken) => _runner.TryRunAsync(arguments, cancellationToken);

    /// <inheritdoc cref="ExternalCommandRunner.RunWithOutputAsync"/>
    public Task<long> RunWithOutputAsync(IReadOnlyList<string> arguments, Stream destination, CancellationToken cancellationToken) =>
        _runner.RunWithOutputAsync(arguments, destination, cancellationToken);

    /// <inheritdoc cref="ExternalCommandRunner.StartWithInput"/>
    public ExternalInputCommand StartWithInput(IReadOnlyList<string> arguments, CancellationToken cancellationToken) => _runner.StartWithInput(arguments, cancellationToken);

    /// <summary>
    /// Runs the command, retrying for a few seconds while it says "dataset is busy" (zfs-fuse releases files
    /// asynchronously after I/O); throws <see cref="BackendCommandException"/> when it still fails.
    /// </summary>
    public async Task<string> RunRetryingBusyAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, TimeSpan? retryTime = null) =>
        (await TryRunRetryingBusyAsync(arguments, cancellationToken, retryTime).ConfigureAwait(false)).ThrowIfFailed().StandardOutput;

    /// <summary>Runs the command, retrying for a few seconds (or <paramref name="retryTime"/>) while it says "dataset is busy"; returns the last result, failed or not.</summary>
    public async Task<ExternalCommandResult> TryRunRetryingBusyAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, TimeSpan? retryTime = null)
    {
        var limit = retryTime ?? BusyRetryTime;
        var clock = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            var result = await _runner.TryRunAsync(arguments, cancellationToken).ConfigureAwait(false);
            if (result.Succeeded || !result.SaysBusy() || clock.Elapsed > limit)
            {
                return result;
            }
            Log.CommandBusy(_logger, result.CommandLine, delay.TotalMilliseconds);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
    }
}
