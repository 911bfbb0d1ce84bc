using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// The <c>deltasnap btrfs</c> command group: <c>bench</c> measures DeltaSnap's Btrfs send/receive path against a raw
/// <c>btrfs send -p … | btrfs receive</c> pipeline on the same data. (Refresh between <c>btrfs:</c> addresses is the
/// generic <c>deltasnap refresh</c>, through the Btrfs backend registered with the tool's volume resolver, <c>AddBtrfs()</c>.)
/// </summary>
public static class BtrfsCommands
{
    /// <summary>Creates the <c>btrfs</c> command with its subcommands.</summary>
    public static Command Create()
    {
        var command = new Command("btrfs", "Btrfs tools: a benchmark of the native refresh path.");
        command.Subcommands.Add(CreateBench());
        return command;
    }

    private static Command CreateBench()
    {
        var source = new Option<string>("--source-dir")
        {
            Description = "A directory on the source Btrfs file system (a work directory is made in it and removed after).",
            HelpName = "DIR",
            Required = true,
        };
        var target = new Option<string>("--target-dir") { Description = "A directory on the target Btrfs file system.", HelpName = "DIR", Required = true };
        return NativeRefreshBenchmarkCommand.Create(
            "Compare DeltaSnap's Btrfs send/receive with a raw `btrfs send -p … | btrfs receive` pipeline on the same data (needs root).",
            [source, target],
            (parseResult, settings) => new BtrfsRefreshBenchmark
            {
                SourceDirectory = Path.GetFullPath(parseResult.GetRequiredValue(source)),
                TargetDirectory = Path.GetFullPath(parseResult.GetRequiredValue(target)),
                Size = settings.Size,
                ChangedPercents = settings.ChangedPercents,
                Runs = settings.Runs,
            },
            BtrfsJsonContext.Default.IReadOnlyListBtrfsRefreshBenchmarkResult,
            [
                "seconds: median (fastest), each up to a sync of the target; ratios: DeltaSnap / raw, median of per-run ratios",
                $"{"changed",8} {"stream MiB",11} {"raw",16} {"deltasnap",16} {"ratio",6} {"refresh",16} {"ratio",6}",
            ],
            r => string.Create(CultureInfo.InvariantCulture,
                $"{r.ChangedPercent,7}% {r.StreamBytes / (1024.0 * 1024),11:F1} {r.RawSeconds,7:F3} ({r.RawFastestSeconds,6:F3}) {r.DeltaSnapSeconds,7:F3} ({r.DeltaSnapFastestSeconds,6:F3}) {r.PairedTransferRatio,6:F3} {r.RefreshSeconds,7:F3} ({r.RefreshFastestSeconds,6:F3}) {r.PairedRefreshRatio,6:F3}"));
    }
}

/// <summary>JSON of the Btrfs benchmark's results (source-generated, as the tool's other reports).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<BtrfsRefreshBenchmarkResult>))]
internal sealed partial class BtrfsJsonContext : JsonSerializerContext;
