using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using DeltaSnap.Cli.Output;
using DeltaSnap.Zfs;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// The <c>deltasnap zfs</c> command group: <c>features</c> prints what the installed <c>zfs</c> can do, <c>bench</c>
/// measures DeltaSnap's ZFS send/receive path against a raw <c>zfs send -i … | zfs receive -F</c> pipeline on the
/// same data. (Refresh between <c>zfs:</c> addresses is the generic <c>deltasnap refresh</c>, through the ZFS backend
/// registered with the tool's volume resolver, <c>AddZfs()</c>.)
/// </summary>
public static class ZfsCommands
{
    /// <summary>Creates the <c>zfs</c> command with its subcommands.</summary>
    public static Command Create()
    {
        var command = new Command("zfs", "ZFS tools: the features DeltaSnap detects, and a benchmark of the native refresh path.");
        command.Subcommands.Add(CreateFeatures());
        command.Subcommands.Add(CreateBench());
        return command;
    }

    private static Command CreateFeatures()
    {
        var json = CommonOptions.Json("Print the features as JSON.");
        var features = new Command("features", "Show what the installed zfs supports (zvols, holds, resumable, compressed and raw streams, …).") { json };
        CommandRunner.SetHandler(features, async (parseResult, output, cancellationToken) =>
        {
            var driver = await ZfsDriver.OpenAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await driver.DisposeAsync().ConfigureAwait(false); // it holds nothing: only its detected features are used
            var f = driver.Features;
            if (parseResult.GetValue(json))
            {
                await JsonOutput.WriteAsync(output, f, ZfsJsonContext.Default.ZfsFeatures, cancellationToken).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            foreach (var (name, value) in new (string, bool)[]
                     {
                         ("zvols", f.Zvols), ("holds", f.Holds), ("bookmarks", f.Bookmarks), ("resumable streams", f.ResumableStreams),
                         ("compressed send", f.CompressedSend), ("raw send", f.RawSend), ("receive -u", f.ReceiveWithoutMount),
                         ("receive -x", f.ReceiveExcludeProperty),
                     })
            {
                await output.Out.WriteLineAsync($"{name,-18} {(value ? "yes" : "no")}").ConfigureAwait(false);
            }
            return ExitCodes.Success;
        });
        return features;
    }

    private static Command CreateBench()
    {
        var source = new Option<string>("--source-parent")
        {
            Description = "The dataset under which the source dataset is made and destroyed after (e.g. a pool).",
            HelpName = "DATASET",
            Required = true,
        };
        var target = new Option<string>("--target-parent")
        {
            Description = "The dataset under which the target dataset is made (another pool, typically).",
            HelpName = "DATASET",
            Required = true,
        };
        return NativeRefreshBenchmarkCommand.Create(
            "Compare DeltaSnap's ZFS send/receive with a raw `zfs send -i … | zfs receive -F` pipeline on the same data (needs root).",
            [source, target],
            (parseResult, settings) => new ZfsRefreshBenchmark
            {
                SourceParent = parseResult.GetRequiredValue(source),
                TargetParent = parseResult.GetRequiredValue(target),
                Size = settings.Size,
                ChangedPercents = settings.ChangedPercents,
                Runs = settings.Runs,
            },
            ZfsJsonContext.Default.IReadOnlyListZfsRefreshBenchmarkResult,
            [
                "seconds: median (fastest); ratios: DeltaSnap / raw, median of per-run ratios",
                $"{"changed",8} {"stream MiB",11} {"raw",16} {"deltasnap",16} {"ratio",6} {"no holds",8} {"ratio",6} {"refresh",8} {"ratio",6}",
            ],
            r => string.Create(CultureInfo.InvariantCulture,
                $"{r.ChangedPercent,7}% {r.StreamBytes / (1024.0 * 1024),11:F1} {r.RawSeconds,7:F3} ({r.RawFastestSeconds,6:F3}) {r.DeltaSnapSeconds,7:F3} ({r.DeltaSnapFastestSeconds,6:F3}) {r.PairedTransferRatio,6:F3} {r.UnprotectedSeconds,8:F3} {r.PairedUnprotectedRatio,6:F3} {r.RefreshSeconds,8:F3} {r.PairedRefreshRatio,6:F3}"));
    }
}

/// <summary>JSON of the ZFS commands' reports (source-generated, as the tool's other reports).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(ZfsFeatures))]
[JsonSerializable(typeof(IReadOnlyList<ZfsRefreshBenchmarkResult>))]
internal sealed partial class ZfsJsonContext : JsonSerializerContext;
