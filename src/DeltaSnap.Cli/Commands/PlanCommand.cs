using System.CommandLine;
using DeltaSnap.Cli.Output;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Cli.Commands;

/// <summary><c>deltasnap plan SOURCE TARGET [--json]</c>: what a refresh would do, changing nothing; either side may be remote, as for <c>refresh</c>.</summary>
internal static class PlanCommand
{
    public static Command Create(CliContext context)
    {
        var source = SnapshotCommands.VolumeArgument(context, "SOURCE", "The source volume");
        var target = SnapshotCommands.VolumeArgument(context, "TARGET", "The target volume");
        var json = CommonOptions.Json("Print one JSON object instead of text.");
        var planOptions = new RefreshPlanOptionSet();
        var command = new Command("plan", "Show what a refresh of TARGET from SOURCE would do (a dry run): route, base, snapshots to send, target snapshots to delete, or why it would refuse.")
        {
            source, target, json, planOptions.AllowFullResend, planOptions.SnapshotsOnly,
        };
        var remote = new RemoteOptions();
        remote.AddTo(command);
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) =>
            remote.RunAsync(context, parseResult, [parseResult.GetRequiredValue(source), parseResult.GetRequiredValue(target)], c =>
            SnapshotCommands.WithVolumesAsync(c, parseResult.GetRequiredValue(source), parseResult.GetRequiredValue(target), async (s, t) =>
            {
                var options = planOptions.ToRefreshOptions(parseResult);
                PlanReport report;
                try
                {
                    var (plan, route) = await c.CreateReplicator().PlanAsync(s, t, options, cancellationToken).ConfigureAwait(false);
                    report = new PlanReport(s.Address, t.Address, null, Camel(plan.Kind.ToString()), Camel(route.ToString()), plan.SourceBase?.Name,
                        plan.SnapshotsToSend.Select(x => x.Name).ToList(), plan.TargetSnapshotsToDelete.Select(x => x.Name).ToList(),
                        plan.RollBackTargetToBase, plan.CaptureLiveState, plan.SourceLeftovers.Concat(plan.TargetLeftovers).Select(x => x.Name).ToList());
                }
                catch (Exception e) when (e is NoCommonBaseException or NotSupportedException)
                {
                    report = new PlanReport(s.Address, t.Address, e.Message, null, null, null, [], [], false, false, []);
                }
                if (parseResult.GetValue(json))
                {
                    await JsonOutput.WriteAsync(output, report, CliJsonContext.Default.PlanReport, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await WriteTextAsync(output.Out, report).ConfigureAwait(false);
                }
                return report.Refused is null ? ExitCodes.Success : ExitCodes.Failure;
            }, cancellationToken)));
        return command;
    }

    internal static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    private static async Task WriteTextAsync(TextWriter text, PlanReport report)
    {
        await text.WriteLineAsync($"refresh {report.Target} from {report.Source}").ConfigureAwait(false);
        if (report.Refused is not null)
        {
            await text.WriteLineAsync($"refused: {report.Refused}").ConfigureAwait(false);
            return;
        }
        await text.WriteLineAsync($"kind:     {report.Kind}, by the {report.Route} route").ConfigureAwait(false);
        await text.WriteLineAsync($"base:     {report.Base ?? "(none: full send)"}").ConfigureAwait(false);
        await text.WriteLineAsync($"send:     {(report.Send.Count == 0 ? "(no snapshots)" : string.Join(' ', report.Send))}{(report.LiveState ? " + live state" : "")}").ConfigureAwait(false);
        if (report.DeleteOnTarget.Count > 0)
        {
            await text.WriteLineAsync($"delete on target: {string.Join(' ', report.DeleteOnTarget)}").ConfigureAwait(false);
        }
        if (report.RollBack)
        {
            await text.WriteLineAsync($"roll target back to: {report.Base}").ConfigureAwait(false);
        }
        if (report.Leftovers.Count > 0)
        {
            await text.WriteLineAsync($"remove leftovers: {string.Join(' ', report.Leftovers)}").ConfigureAwait(false);
        }
    }
}
