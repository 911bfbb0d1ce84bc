// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using System.Globalization;
using System.Text.Json;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lineage;
using DeltaSnap.RefreshBenchmarks;
using DeltaSnap.Replication;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Bench;

/// <summary>What a contender is: DeltaSnap, the backend's own pipe, or a tool users run instead.</summary>
internal enum ContenderKind
{
    /// <summary>DeltaSnap (in-process or the CLI).</summary>
    DeltaSnap,

    /// <summary>The backend's raw shell pipeline.</summary>
    Native,

    /// <summary>A tool users run instead (syncoid, btrbk, rsync).</summary>
    Peer,
}

/// <summary>What a timed run of a case gets: the snapshot to move, the case's stream size, and where refresh results go.</summary>
/// <param name="Case">The case.</param>
/// <param name="Snapshot">The source snapshot the case moves (the base is <see cref="BackendPair.BaseSnapshot"/>).</param>
/// <param name="StreamBytes">The size of the backend's native incremental stream for this case (0 where there is none).</param>
/// <param name="Environment">The run's environment.</param>
/// <param name="OnRefresh">Called with each refresh result DeltaSnap returned in-process.</param>
internal sealed record RunContext(CaseKey Case, string Snapshot, long StreamBytes, BenchEnvironment Environment, Action<CaseKey, RefreshResult>? OnRefresh);

/// <summary>One way of bringing the target up to date with the case's snapshot, timed by the case runner.</summary>
internal abstract class Contender(string name, ContenderKind kind, string description)
{
    /// <summary>Every contender name a matrix may select.</summary>
    public static IReadOnlyList<string> Names { get; } = ["deltasnap", "deltasnap-cli", "native-pipe", "syncoid", "btrbk", "rsync"];

    /// <summary>The name (<c>deltasnap</c>, <c>syncoid</c>).</summary>
    public string Name { get; } = name;

    /// <summary>What it is.</summary>
    public ContenderKind Kind { get; } = kind;

    /// <summary>What exactly runs.</summary>
    public string Description { get; } = description;

    /// <summary>Null when it can run here; else why not (a program missing).</summary>
    public virtual Task<string?> ProbeAsync(BenchEnvironment environment, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    /// <summary>Once per pair and size, after the base is on the target and before the first change (untimed).</summary>
    public virtual Task SetupAsync(BackendPair pair, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>One timed run.</summary>
    public abstract Task<(Cost Cost, long WireBytes)> RunAsync(BackendPair pair, RunContext context, CancellationToken cancellationToken);

    /// <summary>The digest of what the run made on the target (untimed, compared with the source snapshot's).</summary>
    public virtual Task<string> TargetDigestAsync(BackendPair pair, RunContext context, CancellationToken cancellationToken) =>
        pair.DigestTargetAsync(context.Snapshot, cancellationToken);

    /// <summary>After each run (untimed): the target back at the base.</summary>
    public virtual Task ResetAsync(BackendPair pair, CancellationToken cancellationToken) => pair.ResetTargetAsync(cancellationToken);

    /// <summary>Once per pair and size, before the volumes are deleted.</summary>
    public virtual Task TeardownAsync(BackendPair pair, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Null when <paramref name="program"/> is on the PATH; else the reason.</summary>
    protected static async Task<string?> MissingProgramAsync(string program, CancellationToken cancellationToken)
    {
        var result = await new ExternalCommandRunner("sh", NullLogger.Instance).TryRunAsync(["-c", "command -v \"$1\"", "sh", program], cancellationToken);
        return result.Succeeded ? null : $"{program} is not installed (apt-get install {(program == "syncoid" ? "sanoid" : program)})";
    }
}

/// <summary>DeltaSnap's refresh in this process, through the library (snapshots only, so every contender moves the same snapshot).</summary>
internal sealed class InProcessContender() : Contender("deltasnap", ContenderKind.DeltaSnap, "Replicator.RefreshAsync in-process (snapshots only)")
{
    public static RefreshOptions Options { get; } = new() { Plan = new RefreshPlanOptions { SnapshotsOnly = true } };

    public override async Task<(Cost Cost, long WireBytes)> RunAsync(BackendPair pair, RunContext context, CancellationToken cancellationToken)
    {
        var (cost, result) = await Meter.RunInProcessAsync(() => pair.CreateReplicator().RefreshAsync(pair.Source, pair.Target, Options, cancellationToken: cancellationToken));
        if (result.SnapshotsSent.Count == 0)
        {
            throw new InvalidOperationException($"{context.Case}: the in-process refresh sent no snapshot ({result.Kind}).");
        }
        context.OnRefresh?.Invoke(context.Case, result);
        return (cost, result.BytesSent);
    }
}

/// <summary>The built <c>deltasnap</c> tool as a whole process: <c>deltasnap refresh SOURCE TARGET --snapshots-only --json</c>.</summary>
internal sealed class CliContender() : Contender("deltasnap-cli", ContenderKind.DeltaSnap, "deltasnap refresh SOURCE TARGET --snapshots-only --json (whole process)")
{
    public override Task<string?> ProbeAsync(BenchEnvironment environment, CancellationToken cancellationToken) =>
        Task.FromResult(environment.CliCommand is null ? "the deltasnap tool is not built (dotnet build src/DeltaSnap.Cli -c Release, or --cli PATH)" : null);

    public override async Task<(Cost Cost, long WireBytes)> RunAsync(BackendPair pair, RunContext context, CancellationToken cancellationToken)
    {
        var (program, prefix) = context.Environment.CliCommand!.Value;
        string[] arguments = [.. prefix, "refresh", pair.Source.Address, pair.Target.Address, "--snapshots-only", "--json"];
        await pair.ReleaseAsync(cancellationToken);
        try
        {
            var (cost, output) = await Meter.RunProgramAsync(program, arguments, null, cancellationToken);
            using var json = JsonDocument.Parse(output);
            return (cost, json.RootElement.GetProperty("bytesSent").GetInt64());
        }
        finally
        {
            await pair.ReopenAsync(cancellationToken);
        }
    }
}

/// <summary>
/// A program the user would run instead: the native pipe (its bytes are the case's stream size, measured once by
/// <c>wc -c</c>), a tool around it (syncoid: the same stream), or rsync (its own <c>--stats</c> bytes sent).
/// </summary>
internal sealed class ProgramContender(string name, ContenderKind kind, string description,
    Func<BackendPair, string, Task<(string Program, IReadOnlyList<string> Arguments)>> command) : Contender(name, kind, description)
{
    public override Task<string?> ProbeAsync(BenchEnvironment environment, CancellationToken cancellationToken) =>
        Name is "syncoid" or "rsync" ? MissingProgramAsync(Name, cancellationToken) : base.ProbeAsync(environment, cancellationToken);

    public override async Task<(Cost Cost, long WireBytes)> RunAsync(BackendPair pair, RunContext context, CancellationToken cancellationToken)
    {
        var (program, arguments) = await command(pair, context.Snapshot);
        var (cost, output) = await Meter.RunProgramAsync(program, arguments, null, cancellationToken);
        return (cost, Name == "rsync" ? RsyncBytesSent(output) : context.StreamBytes);
    }

    /// <summary>The size of the native stream of <paramref name="snapshot"/> from the base: the pipe's send half into <c>wc -c</c> (untimed; only the native pipe can).</summary>
    public async Task<long> MeasureStreamAsync(BackendPair pair, string snapshot, CancellationToken cancellationToken)
    {
        var (program, arguments) = await command(pair, snapshot);
        var output = await new ExternalCommandRunner(program, NullLogger.Instance).RunAsync(NativePipelines.StreamSize(arguments), cancellationToken);
        return long.Parse(output.Trim(), CultureInfo.InvariantCulture);
    }

    private static long RsyncBytesSent(string output)
    {
        const string Label = "Total bytes sent:";
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(Label, StringComparison.Ordinal))
            ?? throw new InvalidOperationException("rsync printed no 'Total bytes sent' (--stats).");
        return long.Parse(line[Label.Length..].Trim().Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// btrbk as users run it: a minimal configuration (volume, snapshot_dir, target send-receive, subvolume, keep
/// everything). Set up with one run at the base (a btrbk snapshot and its full send); each timed <c>btrbk run</c>
/// then snapshots the changed live subvolume and sends it incrementally from that. Its bytes are the case's native
/// stream size (the same <c>btrfs send -p</c> of the same change).
/// </summary>
internal sealed class BtrbkContender() : Contender("btrbk", ContenderKind.Peer, "btrbk run (snapshot of the live subvolume + btrfs send -p | btrfs receive)")
{
    private string? _configuration;
    private string? _snapshots;
    private string? _received;
    private HashSet<string> _baseSubvolumes = [];

    public override Task<string?> ProbeAsync(BenchEnvironment environment, CancellationToken cancellationToken) => MissingProgramAsync("btrbk", cancellationToken);

    public override async Task SetupAsync(BackendPair pair, CancellationToken cancellationToken)
    {
        var btrfs = (BtrfsPair)pair;
        var live = await pair.Source.GetPathAsync(null, cancellationToken);
        _snapshots = Directory.CreateDirectory(Path.Combine(btrfs.SourceRoot, "btrbk-snapshots")).FullName;
        _received = Directory.CreateDirectory(Path.Combine(btrfs.TargetRoot, "btrbk-target")).FullName;
        _configuration = Path.Combine(btrfs.TargetRoot, "btrbk.conf");
        await File.WriteAllTextAsync(_configuration, string.Join('\n',
            "snapshot_preserve_min all",
            "target_preserve_min all",
            $"lockfile {Path.Combine(btrfs.TargetRoot, "btrbk.lock")}",
            $"volume {Path.GetDirectoryName(live)}",
            $"  snapshot_dir {Path.GetRelativePath(Path.GetDirectoryName(live)!, _snapshots)}",
            $"  target send-receive {_received}",
            $"  subvolume {Path.GetFileName(live)}",
            ""), cancellationToken);
        await new ExternalCommandRunner("btrbk", NullLogger.Instance).RunAsync(Arguments, cancellationToken);
        _baseSubvolumes = [.. Subvolumes()];
    }

    public override async Task<(Cost Cost, long WireBytes)> RunAsync(BackendPair pair, RunContext context, CancellationToken cancellationToken)
    {
        var (cost, _) = await Meter.RunProgramAsync("btrbk", Arguments, null, cancellationToken);
        return (cost, context.StreamBytes);
    }

    public override Task<string> TargetDigestAsync(BackendPair pair, RunContext context, CancellationToken cancellationToken) =>
        BackendPair.DigestTreeAsync(Directory.EnumerateDirectories(_received!).Where(d => !_baseSubvolumes.Contains(d)).Single(), cancellationToken);

    public override async Task ResetAsync(BackendPair pair, CancellationToken cancellationToken)
    {
        foreach (var subvolume in Subvolumes().Where(s => !_baseSubvolumes.Contains(s)))
        {
            await new ExternalCommandRunner("btrfs", NullLogger.Instance).RunAsync(["-q", "subvolume", "delete", subvolume], cancellationToken);
        }
    }

    private string[] Arguments => ["-c", _configuration!, "-q", "run"];

    private List<string> Subvolumes() => Directory.EnumerateDirectories(_snapshots!).Concat(Directory.EnumerateDirectories(_received!)).ToList();
}
