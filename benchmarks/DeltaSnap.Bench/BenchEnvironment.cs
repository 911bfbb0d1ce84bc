// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using System.Globalization;
using System.Reflection;
using DeltaSnap.ExternalCommands;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Bench;

/// <summary>Where a run works and how it starts the <c>deltasnap</c> tool.</summary>
/// <param name="WorkDirectory">Where lvol stores and dir/file volumes are made.</param>
/// <param name="CliCommand">How to start the built tool (program and the arguments before the tool's own); null when it is not built.</param>
internal sealed record BenchEnvironment(string WorkDirectory, (string Program, IReadOnlyList<string> Prefix)? CliCommand)
{
    private static readonly string[] InterestingFlags = ["avx2", "avx512f", "sha_ni", "vpclmulqdq"];

    /// <summary>The tool given by <paramref name="cliPath"/> (a .dll runs through <c>dotnet</c>), else the Release build of src/DeltaSnap.Cli this project was built next to.</summary>
    public static (string Program, IReadOnlyList<string> Prefix)? FindCli(string? cliPath)
    {
        var path = cliPath ?? typeof(BenchEnvironment).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "DeltaSnapCli")?.Value;
        if (path is null || !File.Exists(path))
        {
            return null;
        }
        return path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? ("dotnet", [Path.GetFullPath(path)]) : (Path.GetFullPath(path), []);
    }

    /// <summary>
    /// What the machine is: kernel, CPU, memory and page cache, .NET, the tools' versions, the load average. The
    /// backends' own settings are added per pair (<see cref="BackendPair.DescribeAsync"/>).
    /// </summary>
    public async Task<Dictionary<string, string>> DescribeAsync(CancellationToken cancellationToken)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ') ?? [];
        var info = new Dictionary<string, string>
        {
            ["host"] = System.Environment.MachineName,
            ["kernel"] = (await File.ReadAllTextAsync("/proc/sys/kernel/osrelease", cancellationToken)).Trim(),
            ["os"] = File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"') ?? "?",
            ["cpu"] = $"{cpu}, {System.Environment.ProcessorCount} logical cores; {string.Join(' ', InterestingFlags.Where(flags.Contains))}",
            ["memory"] = MemInfo("MemTotal") + " total, " + MemInfo("MemAvailable") + " available, " + MemInfo("Cached") + " page cache at start",
            [".NET"] = System.Environment.Version.ToString(),
            ["deltasnap"] = typeof(Replication.Replicator).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?",
            ["deltasnap tool"] = CliCommand is { } cli ? string.Join(' ', [cli.Program, .. cli.Prefix]) : "not built",
            ["work directory"] = WorkDirectory,
            ["cache"] = "warm: each case's data is written just before it is measured and the page cache is not dropped (dropping it needs the whole machine, which other work shares)",
            ["measurement"] = "wall: Stopwatch; CPU: user+system of the contender's processes (GNU time / getrusage), without daemons (zfs-fuse, ceph-osd); peak RSS: the largest process (in-process: the harness's VmHWM, runtime included)",
        };
        foreach (var (tool, arguments) in new (string, string[])[]
        {
            ("rsync", ["--version"]), ("btrfs", ["--version"]), ("rbd", ["--version"]), ("syncoid", ["--version"]), ("btrbk", ["--version"]), ("zfs-fuse", ["--version"]),
        })
        {
            info[$"{tool} version"] = await FirstLineAsync(tool, arguments, cancellationToken) ?? "not installed";
        }
        return info;
    }

    /// <summary>The load average (1, 5, 15 minutes) now.</summary>
    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string MemInfo(string key)
    {
        var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith(key + ":", StringComparison.Ordinal));
        return line is null ? "?" : string.Create(CultureInfo.InvariantCulture, $"{long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0 / 1024:F1} GiB");
    }

    private static async Task<string?> FirstLineAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        try
        {
            var result = await new ExternalCommandRunner(program, NullLogger.Instance).TryRunAsync(arguments, cancellationToken);
            var text = (result.StandardOutput + "\n" + result.StandardError).Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);
            return text;
        }
        catch (BackendCommandException)
        {
            return null;
        }
    }
}
