using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using DeltaSnap.Cli.Output;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// The <c>deltasnap btrfs</c> command group: <c>bench</c> measures DeltaSnap's Btrfs send/receive path against a raw
/// <c>btrfs send -p … | btrfs receive</c> pipeline on the same data. (Refresh between <c>btrfs:</c> addresses is the
/// generic <c>deltasnap refresh</c>, through <c>BtrfsDriver.OpenAddressAsync</c>.)
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
        var size = new Option<string>("--size") { Description = "The data size (default 1G).", HelpName = "SIZE" };
        var changed = new Option<double[]>("--changed")
        {
            Description = "A changed share of the data in percent; repeat for several cases (default 1 and 10).",
            HelpName = "PERCENT",
            AllowMultipleArgumentsPerToken = true,
        };
        var runs = new Option<int?>("--runs") { Description = "Measured runs per case and route (default 5).", HelpName = "N" };
        var json = CommonOptions.Json("Print the results as JSON.");
        var bench = new Command("bench", "Compare DeltaSnap's Btrfs send/receive with a raw `btrfs send -p … | btrfs receive` pipeline on the same data (needs root).")
        {
            source,
            target,
            size,
            changed,
            runs,
            json,
        };
        CommandRunner.SetHandler(bench, async (parseResult, output, cancellationToken) =>
        {
            var sizeText = parseResult.GetValue(size);
            long bytes = 1L << 30;
            if (sizeText is not null && (!ByteSize.TryParse(sizeText, out bytes) || bytes < (16 << 20)))
            {
                throw new UsageException($"--size {sizeText}: expected a size of at least 16M, such as 256M or 1G.");
            }
            var percents = parseResult.GetValue(changed) is { Length: > 0 } given ? given : [1.0, 10.0];
            if (percents.Any(p => p is <= 0 or > 100))
            {
                throw new UsageException("--changed takes percentages above 0 and at most 100.");
            }
            var runCount = parseResult.GetValue(runs) ?? 5;
            if (runCount < 1)
            {
                throw new UsageException("--runs must be at least 1.");
            }
            var benchmark = new BtrfsRefreshBenchmark
            {
                SourceDirectory = Path.GetFullPath(parseResult.GetRequiredValue(source)),
                TargetDirectory = Path.GetFullPath(parseResult.GetRequiredValue(target)),
                Size = bytes,
                ChangedPercents = percents,
                Runs = runCount,
            };
            var asJson = parseResult.GetValue(json);
            var results = await benchmark.RunAsync(asJson ? output.Error : output.Out, cancellationToken).ConfigureAwait(false);
            if (asJson)
            {
                await JsonOutput.WriteAsync(output, results, BtrfsJsonContext.Default.IReadOnlyListBtrfsRefreshBenchmarkResult, cancellationToken).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            await output.Out.WriteLineAsync("seconds: median (fastest), each up to a sync of the target; ratios: DeltaSnap / raw, median of per-run ratios").ConfigureAwait(false);
            await output.Out.WriteLineAsync($"{"changed",8} {"stream MiB",11} {"raw",16} {"deltasnap",16} {"ratio",6} {"refresh",16} {"ratio",6}").ConfigureAwait(false);
            foreach (var r in results)
            {
                await output.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{r.ChangedPercent,7}% {r.StreamBytes / (1024.0 * 1024),11:F1} {r.RawSeconds,7:F3} ({r.RawFastestSeconds,6:F3}) {r.DeltaSnapSeconds,7:F3} ({r.DeltaSnapFastestSeconds,6:F3}) {r.PairedTransferRatio,6:F3} {r.RefreshSeconds,7:F3} ({r.RefreshFastestSeconds,6:F3}) {r.PairedRefreshRatio,6:F3}")).ConfigureAwait(false);
            }
            return ExitCodes.Success;
        });
        return bench;
    }
}

/// <summary>JSON of the Btrfs benchmark's results (source-generated, as the tool's other reports).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<BtrfsRefreshBenchmarkResult>))]
internal sealed partial class BtrfsJsonContext : JsonSerializerContext;
