using System.CommandLine;
using System.Globalization;
using DeltaSnap.Cli.Output;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using DeltaSnap.Zfs;

namespace DeltaSnap.Cli.Commands;

/// <summary><c>deltasnap refresh SOURCE TARGET [--json]</c>: bring TARGET up to date with SOURCE, moving only what changed.</summary>
internal static class RefreshCommand
{
    public static Command Create(CliContext outer)
    {
        var source = SnapshotCommands.VolumeArgument(outer, "SOURCE", "The source volume");
        var target = SnapshotCommands.VolumeArgument(outer, "TARGET", "The target volume (created like the source when it does not exist, unless --no-create)");
        var noCreate = new Option<bool>("--no-create") { Description = "Refuse (exit 2) when TARGET does not exist instead of creating it with the source's kind and size." };
        var json = CommonOptions.Json("Print the summary as one JSON object: route, snapshotsSent, bytesRead, bytesSent, bytesWritten, seconds.");
        var planOptions = new RefreshPlanOptionSet();
        var clusterSize = CommonOptions.ClusterSize("The cluster size of the checksum route (default 1M).");
        var algorithm = CommonOptions.Algorithm("The checksum algorithm of the checksum route (default xxh128).");
        var remoteOptions = new RemoteOptions();
        var noNative = new Option<bool>("--no-native") { Description = "Never take the native-stream route: block volumes of one backend take the checksum route." };
        var verifyWhole = new Option<bool>("--verify-whole")
        {
            Description = "Checksum route: after each block transfer compare the whole target with the source, not only the ranges written (a remote side digests its own bytes; only digests cross the wire).",
        };
        var checkpointDir = new Option<string?>("--checkpoint-dir")
        {
            Description = "Keep resume checkpoints in DIR: a refresh that is interrupted leaves its partial copy (checksum route) or its spooled stream (native route, Btrfs), and the next one continues it.",
            HelpName = "DIR",
        };
        var zfsBaseProtection = CommonOptions.ZfsBaseProtection();
        var abortResume = new Option<bool>("--abort-resume") { Description = "Discard TARGET's resume checkpoint in --checkpoint-dir and refresh from its newest complete snapshot." };
        var output = new RefreshOutputOptions();
        var command = new Command("refresh", "Refresh TARGET from SOURCE: send the snapshots it lacks and the live state, incrementally. Either side may be remote (ssh://HOST/ADDRESS, tls://HOST:PORT/ADDRESS).")
        {
            source, target, noCreate, json, planOptions.AllowFullResend, planOptions.SnapshotsOnly, clusterSize, algorithm, noNative, verifyWhole, checkpointDir, abortResume, zfsBaseProtection,
            output.Quiet, output.Progress, output.NoProgress, output.ProgressInterval,
        };
        remoteOptions.AddTo(command);
        CommandRunner.SetHandler(command, async (parseResult, writers, cancellationToken) =>
        {
            var (progressStyle, lineInterval) = output.Decide(parseResult, writers.Error);
            return await remoteOptions.RunAsync(outer, parseResult, [parseResult.GetRequiredValue(source), parseResult.GetRequiredValue(target)], context => WithVolumesAsync(context, parseResult.GetRequiredValue(source), parseResult.GetRequiredValue(target), !parseResult.GetValue(noCreate), async (s, t) =>
            {
                var options = planOptions.ToRefreshOptions(parseResult);
                if (parseResult.GetValue(clusterSize) is { } size)
                {
                    options = options with { Delta = options.Delta with { ClusterSize = size } };
                }
                if (parseResult.GetValue(algorithm) is { } a)
                {
                    options = options with { Delta = options.Delta with { Algorithm = a } };
                }
                if (parseResult.GetValue(abortResume) && parseResult.GetValue(checkpointDir) is null)
                {
                    throw new UsageException("--abort-resume needs --checkpoint-dir: the directory that holds the checkpoint to discard.");
                }
                options = options with
                {
                    DisableNativeStreams = parseResult.GetValue(noNative),
                    VerifyWholeVolume = parseResult.GetValue(verifyWhole),
                    CheckpointDirectory = parseResult.GetValue(checkpointDir) is { } dir ? Path.GetFullPath(dir) : null,
                    AbortResume = parseResult.GetValue(abortResume),
                };
                RefreshResult result;
                using (var progress = RefreshProgressPrinter.Start(writers.Error, progressStyle, lineInterval))
                {
                    result = await context.CreateReplicator().RefreshAsync(s, t, options, progress, cancellationToken).ConfigureAwait(false);
                }
                var report = new RefreshReport(PlanCommand.Camel(result.Route.ToString()), PlanCommand.Camel(result.Kind.ToString()),
                    result.SnapshotsSent.Count, result.SnapshotsSent, result.LiveStateSent, result.BytesRead, result.BytesSent, result.BytesWritten,
                    result.ClustersCompared, result.ClustersCopied, Math.Round(result.Duration.TotalSeconds, 3), result.Resumed);
                if (parseResult.GetValue(json))
                {
                    await JsonOutput.WriteAsync(writers, report, CliJsonContext.Default.RefreshReport, cancellationToken).ConfigureAwait(false);
                }
                else if (!parseResult.GetValue(output.Quiet))
                {
                    var i = CultureInfo.InvariantCulture;
                    await writers.Out.WriteLineAsync($"refreshed {t.Address} from {s.Address}: {report.Kind}, route {report.Route}{(report.Resumed ? ", resumed" : "")}").ConfigureAwait(false);
                    await writers.Out.WriteLineAsync(string.Create(i, $"snapshots sent: {report.SnapshotsSent}{(report.SnapshotsSent > 0 ? " (" + string.Join(' ', report.Snapshots) + ")" : "")}{(report.LiveStateSent ? " + live state" : "")}")).ConfigureAwait(false);
                    await writers.Out.WriteLineAsync(string.Create(i, $"bytes read: {ByteSize.Format(report.BytesRead)}, sent: {ByteSize.Format(report.BytesSent)}, written: {ByteSize.Format(report.BytesWritten)}")).ConfigureAwait(false);
                    if (report.ClustersCompared > 0)
                    {
                        await writers.Out.WriteLineAsync(string.Create(i, $"clusters compared: {report.ClustersCompared}, copied: {report.ClustersCopied}")).ConfigureAwait(false);
                    }
                    await writers.Out.WriteLineAsync(string.Create(i, $"seconds: {report.Seconds:F3}")).ConfigureAwait(false);
                }
                return ExitCodes.Success;
            }, cancellationToken), new ZfsDriverOptions { BaseProtection = parseResult.GetValue(zfsBaseProtection) }).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>
    /// Opens the source and the target at the same time (each may start a backend's program or connect to a cluster),
    /// runs <paramref name="action"/> on both and releases their drivers. A target that does not exist is created like
    /// the source when <paramref name="create"/> is set (<see cref="SnapshotCommands.WithTargetVolumeAsync"/>), otherwise
    /// it is a usage error.
    /// </summary>
    internal static async Task<int> WithVolumesAsync(CliContext context, string source, string target, bool create, Func<Volume, Volume, Task<int>> action, CancellationToken cancellationToken)
    {
        var sourceOpening = OpenAsync(context, source, cancellationToken);
        var targetOpening = OpenAsync(context, target, cancellationToken);
        try
        {
            await Task.WhenAll(sourceOpening, targetOpening).ConfigureAwait(false);
        }
        catch (Exception) when (sourceOpening.IsCompletedSuccessfully && IsMissing(targetOpening))
        {
            // The target does not exist: create it like the source (or refuse), as before.
            var s = sourceOpening.Result;
            try
            {
                return await SnapshotCommands.WithTargetVolumeAsync(context, target, s, create, t => action(s, t), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await s.Driver.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch
        {
            foreach (var opening in (Task<Volume>[])[sourceOpening, targetOpening])
            {
                if (opening.IsCompletedSuccessfully)
                {
                    await opening.Result.Driver.DisposeAsync().ConfigureAwait(false);
                }
            }
            // The source's failure first, as when they were opened one after the other.
            await sourceOpening.ConfigureAwait(false);
            throw;
        }
        var (sourceVolume, targetVolume) = (sourceOpening.Result, targetOpening.Result);
        try
        {
            return await action(sourceVolume, targetVolume).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw UsageException.FromArgument(e);
        }
        finally
        {
            await targetVolume.Driver.DisposeAsync().ConfigureAwait(false);
            await sourceVolume.Driver.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static bool IsMissing(Task<Volume> opening) =>
        opening.IsFaulted && opening.Exception!.InnerException is VolumeNotFoundException or FileNotFoundException or DirectoryNotFoundException;

    private static async Task<Volume> OpenAsync(CliContext context, string address, CancellationToken cancellationToken)
    {
        await Task.Yield(); // both sides start before either's synchronous part runs
        return await SnapshotCommands.OpenVolumeAsync(context, address, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// The options that decide what a refresh plans, made once per command: <c>refresh</c> and its dry run <c>plan</c> both
/// take them and turn them into <see cref="RefreshOptions"/> here, so a plan shows what the same refresh would do.
/// </summary>
internal sealed class RefreshPlanOptionSet
{
    /// <summary><c>--allow-full-resend</c>.</summary>
    public Option<bool> AllowFullResend { get; } = new("--allow-full-resend")
    {
        Description = "When both sides have snapshots but share none, delete the target's snapshots and send everything (refused otherwise).",
    };

    /// <summary><c>--snapshots-only</c>.</summary>
    public Option<bool> SnapshotsOnly { get; } = new("--snapshots-only") { Description = "Send snapshots only, not the live state." };

    /// <summary>The refresh options these command-line options give (the checksum route's settings left at their defaults).</summary>
    public RefreshOptions ToRefreshOptions(ParseResult parseResult) => new()
    {
        Plan = new RefreshPlanOptions { AllowFullResend = parseResult.GetValue(AllowFullResend), SnapshotsOnly = parseResult.GetValue(SnapshotsOnly) },
    };
}

/// <summary>
/// What <c>refresh</c> prints besides its result: <c>--quiet</c>, <c>--progress</c>, <c>--no-progress</c> and
/// <c>--progress-interval</c>, and the choice they make with where standard error goes.
/// </summary>
internal sealed class RefreshOutputOptions
{
    /// <summary><c>--quiet</c> / <c>-q</c>.</summary>
    public Option<bool> Quiet { get; } = new("--quiet", "-q")
    {
        Description = "Print no progress and no summary (errors still go to standard error; --json still prints its object).",
    };

    /// <summary><c>--progress</c>.</summary>
    public Option<bool> Progress { get; } = new("--progress")
    {
        Description = "Show progress also when standard error is not a terminal: a plain line at most once per --progress-interval (on a terminal a bar is shown anyway).",
    };

    /// <summary><c>--no-progress</c>.</summary>
    public Option<bool> NoProgress { get; } = new("--no-progress") { Description = "Show no progress, not even the bar on a terminal." };

    /// <summary><c>--progress-interval</c>.</summary>
    public Option<double?> ProgressInterval { get; } = new("--progress-interval")
    {
        Description = "Seconds between two plain progress lines (default 1).",
        HelpName = "SECONDS",
        CustomParser = ParseSeconds,
    };

    private static double? ParseSeconds(System.CommandLine.Parsing.ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var text = result.Tokens[0].Value;
        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0 || seconds > 86400)
        {
            result.AddError($"--progress-interval '{text}' is not a number of seconds above 0 (0.5, 1, 10).");
            return null;
        }
        return seconds;
    }

    /// <summary>
    /// The progress to show: a bar when standard error is a terminal, plain lines when it is not and <c>--progress</c>
    /// asks for them, nothing with <c>--quiet</c> or <c>--no-progress</c> (contradicting options are a usage error).
    /// </summary>
    public (ProgressStyle Style, TimeSpan LineInterval) Decide(ParseResult parseResult, TextWriter error)
    {
        var (quiet, on, off) = (parseResult.GetValue(Quiet), parseResult.GetValue(Progress), parseResult.GetValue(NoProgress));
        if (on && (quiet || off))
        {
            throw new UsageException($"--progress contradicts {(quiet ? "--quiet" : "--no-progress")}.");
        }
        var interval = parseResult.GetValue(ProgressInterval) is { } seconds ? TimeSpan.FromSeconds(seconds) : RefreshProgressPrinter.DefaultLineInterval;
        var style = quiet || off ? ProgressStyle.None
            : RefreshProgressPrinter.IsTerminal(error) ? ProgressStyle.Bar
            : on ? ProgressStyle.Lines
            : ProgressStyle.None;
        return (style, interval);
    }
}
