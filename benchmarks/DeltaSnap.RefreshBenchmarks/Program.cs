using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using DeltaSnap.Drivers;

namespace DeltaSnap.RefreshBenchmarks;

/// <summary>
/// The paired native refresh benchmarks: DeltaSnap's send → pipe → checked receive and a whole refresh against the
/// backend's own shell pipeline on the same data, one command per backend (<c>zfs</c>, <c>btrfs</c>, <c>rbd</c>).
/// Run with <c>dotnet run -c Release --project benchmarks/DeltaSnap.RefreshBenchmarks -- zfs --runs 7 …</c>.
/// </summary>
public static class Program
{
    /// <summary>Runs the command line against the console.</summary>
    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out, Console.Error, handleTermination: true);

    /// <summary>Runs a command line with the given writers; the in-process entry point the tests use.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error,
        bool handleTermination = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var root = new RootCommand("Paired native refresh benchmarks: DeltaSnap against the backend's own pipeline on the same data.")
        {
            CreateZfs(),
            CreateBtrfs(),
            CreateRbd(),
        };
        var parseResult = root.Parse(args);
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        if (handleTermination)
        {
            configuration.ProcessTerminationTimeout = TimeSpan.FromSeconds(5);
        }
        if (parseResult.Errors.Count > 0)
        {
            var messages = string.Join(" ", parseResult.Errors.Select(e => e.Message.ReplaceLineEndings(" ").Trim()).Distinct());
            await error.WriteLineAsync($"{RefreshBenchmarkCommand.ToolName}: {messages}").ConfigureAwait(false);
            return RefreshBenchmarkCommand.Usage;
        }
        return await parseResult.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    private static Command CreateZfs()
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
        return RefreshBenchmarkCommand.Create(
            "zfs",
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
            RefreshBenchmarkJsonContext.Default.IReadOnlyListZfsRefreshBenchmarkResult,
            [
                "seconds: median (fastest); ratios: DeltaSnap / raw, median of per-run ratios; held: the raw pipe with the same holds, and DeltaSnap (holds) / it",
                $"{"changed",8} {"stream MiB",11} {"raw",16} {"deltasnap",16} {"ratio",6} {"no holds",8} {"ratio",6} {"raw held",8} {"ratio",6} {"refresh",8} {"ratio",6}",
            ],
            r => string.Create(CultureInfo.InvariantCulture,
                $"{r.ChangedPercent,7}% {r.StreamBytes / (1024.0 * 1024),11:F1} {r.RawSeconds,7:F3} ({r.RawFastestSeconds,6:F3}) {r.DeltaSnapSeconds,7:F3} ({r.DeltaSnapFastestSeconds,6:F3}) {r.PairedTransferRatio,6:F3} {r.UnprotectedSeconds,8:F3} {r.PairedUnprotectedRatio,6:F3} {r.RawHeldSeconds,8:F3} {r.PairedHeldRatio,6:F3} {r.RefreshSeconds,8:F3} {r.PairedRefreshRatio,6:F3}"));
    }

    private static Command CreateBtrfs()
    {
        var source = new Option<string>("--source-dir")
        {
            Description = "A directory on the source Btrfs file system (a work directory is made in it and removed after).",
            HelpName = "DIR",
            Required = true,
        };
        var target = new Option<string>("--target-dir") { Description = "A directory on the target Btrfs file system.", HelpName = "DIR", Required = true };
        return RefreshBenchmarkCommand.Create(
            "btrfs",
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
            RefreshBenchmarkJsonContext.Default.IReadOnlyListBtrfsRefreshBenchmarkResult,
            [
                "seconds: median (fastest), each up to a sync of the target; ratios: DeltaSnap / raw, median of per-run ratios",
                $"{"changed",8} {"stream MiB",11} {"raw",16} {"deltasnap",16} {"ratio",6} {"refresh",16} {"ratio",6}",
            ],
            r => string.Create(CultureInfo.InvariantCulture,
                $"{r.ChangedPercent,7}% {r.StreamBytes / (1024.0 * 1024),11:F1} {r.RawSeconds,7:F3} ({r.RawFastestSeconds,6:F3}) {r.DeltaSnapSeconds,7:F3} ({r.DeltaSnapFastestSeconds,6:F3}) {r.PairedTransferRatio,6:F3} {r.RefreshSeconds,7:F3} ({r.RefreshFastestSeconds,6:F3}) {r.PairedRefreshRatio,6:F3}"));
    }

    private static Command CreateRbd()
    {
        var source = new Option<string>("--source-pool") { Description = "The pool the source image is made in (and deleted from after).", HelpName = "POOL", Required = true };
        var target = new Option<string>("--target-pool") { Description = "The pool the target image is made in (another pool, typically).", HelpName = "POOL", Required = true };
        var pattern = new Option<string>("--pattern")
        {
            Description = "How the image changes: blocks (random 64 KiB blocks, the default), scattered-4k (random 4 KiB blocks) or rewrite " +
                "(the whole image written again, the --changed share of its 4 KiB blocks with new content).",
            HelpName = "PATTERN",
        };
        pattern.AcceptOnlyFromAmong("blocks", "scattered-4k", "rewrite");
        var writesRoute = new Option<bool>("--with-writes-route")
        {
            Description = "Also time the native stream without the content comparison (every extent written since the base sent), paired with the others.",
        };
        return RefreshBenchmarkCommand.Create(
            "rbd",
            "Compare DeltaSnap's RBD refresh with a piped `rbd export-diff --from-snap A … - | rbd import-diff - …` on the same data " +
            "(connects with CEPH_CONF, CEPH_KEYRING and CEPH_ARGS, as the rbd command does).",
            [source, target, pattern, writesRoute],
            (parseResult, settings) => new RbdRefreshBenchmark
            {
                Pattern = parseResult.GetValue(pattern) switch
                {
                    "scattered-4k" => RbdChangePattern.Scattered4K,
                    "rewrite" => RbdChangePattern.Rewrite,
                    _ => RbdChangePattern.Blocks,
                },
                WithWritesRoute = parseResult.GetValue(writesRoute),
                // A pool name reaches the rbd command: the driver's rule for pool names (as for RbdDriverOptions.DefaultPool).
                SourcePool = RefreshBenchmarkCommand.CheckName(parseResult.GetRequiredValue(source), "--source-pool", "a pool name", p => NameRules.Snapshot.Validate(p, "pool name")),
                TargetPool = RefreshBenchmarkCommand.CheckName(parseResult.GetRequiredValue(target), "--target-pool", "a pool name", p => NameRules.Snapshot.Validate(p, "pool name")),
                Size = settings.Size,
                ChangedPercents = settings.ChangedPercents,
                Runs = settings.Runs,
            },
            RefreshBenchmarkJsonContext.Default.IReadOnlyListRbdRefreshBenchmarkResult,
            [
                "seconds: median (fastest); ratios: DeltaSnap / rbd pipe, median of per-run ratios; writes: the stream without the content comparison (÷: deltasnap / writes)",
                $"{"changed",8} {"stream MiB",11} {"rbd pipe",16} {"deltasnap",16} {"ratio",6} {"refresh",16} {"ratio",6} {"writes MiB",10} {"writes",8} {"÷",6}",
            ],
            r => string.Create(CultureInfo.InvariantCulture,
                $"{r.ChangedPercent,7}% {r.StreamBytes / (1024.0 * 1024),11:F1} {r.RawSeconds,7:F3} ({r.RawFastestSeconds,6:F3}) {r.DeltaSnapSeconds,7:F3} ({r.DeltaSnapFastestSeconds,6:F3}) {r.PairedTransferRatio,6:F3} {r.RefreshSeconds,7:F3} ({r.RefreshFastestSeconds,6:F3}) {r.PairedRefreshRatio,6:F3}") +
                (r.WritesSeconds is { } writes
                    ? string.Create(CultureInfo.InvariantCulture, $" {r.WritesStreamBytes / (1024.0 * 1024),10:F1} {writes,8:F3} {r.PairedContentRatio,6:F3}")
                    : ""));
    }
}

/// <summary>JSON of the benchmarks' reports (source-generated), as the deltasnap tool wrote them.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<ZfsRefreshBenchmarkResult>))]
[JsonSerializable(typeof(IReadOnlyList<BtrfsRefreshBenchmarkResult>))]
[JsonSerializable(typeof(IReadOnlyList<RbdRefreshBenchmarkResult>))]
internal sealed partial class RefreshBenchmarkJsonContext : JsonSerializerContext;
