using System.Diagnostics;
using System.Globalization;
using DeltaSnap.Benchmarking;
using DeltaSnap.ExternalCommands;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Bench;

/// <summary>One timed run of a contender.</summary>
/// <param name="Round">The round (from 1).</param>
/// <param name="Position">Where in the round's rotated order it ran (from 1).</param>
/// <param name="WallSeconds">Wall time.</param>
/// <param name="CpuSeconds">User + system CPU time of what ran (see <see cref="Meter"/>).</param>
/// <param name="PeakRssBytes">Peak resident set (see <see cref="Meter"/>).</param>
/// <param name="WireBytes">Bytes on the wire (DeltaSnap: RefreshResult.BytesSent; pipes and their tools: the stream's size; rsync: its bytes sent).</param>
internal sealed record RunSample(int Round, int Position, double WallSeconds, double CpuSeconds, long PeakRssBytes, long WireBytes);

/// <summary>What one measured piece of work cost.</summary>
/// <param name="WallSeconds">Wall time.</param>
/// <param name="CpuSeconds">User + system CPU time.</param>
/// <param name="PeakRssBytes">Peak resident set.</param>
internal readonly record struct Cost(double WallSeconds, double CpuSeconds, long PeakRssBytes);

/// <summary>
/// Measures work. A program runs under GNU <c>time</c> (<c>/usr/bin/time</c>), which reports the wait4 rusage of the
/// whole process tree it started: CPU is user + system of every process of it (a shell pipeline's both sides),
/// peak RSS the largest of any one of them. Work in this process is measured by getrusage: CPU of this process and of
/// the children it waited for (the backends' commands the drivers start) in between, and the peak RSS is this
/// process's high-water mark (VmHWM, reset before the run through <c>/proc/self/clear_refs</c>), the runtime and
/// harness included. Neither sees CPU spent in daemons (zfs-fuse, the Ceph OSD).
/// </summary>
internal static class Meter
{
    private const string TimeProgram = "/usr/bin/time";

    /// <summary>Whether GNU time is there (without it, programs are timed by wall clock only).</summary>
    public static bool HasTime { get; } = File.Exists(TimeProgram);

    /// <summary>Runs <paramref name="program"/> and measures it; returns its cost and standard output. Throws when it fails.</summary>
    public static async Task<(Cost Cost, string Output)> RunProgramAsync(string program, IReadOnlyList<string> arguments,
        IEnumerable<KeyValuePair<string, string>>? environment, CancellationToken cancellationToken)
    {
        var report = Path.Combine(Path.GetTempPath(), $"dsbench-time-{Guid.NewGuid():N}.txt");
        try
        {
            var runner = HasTime
                ? new ExternalCommandRunner(TimeProgram, NullLogger.Instance, environment: environment)
                : new ExternalCommandRunner(program, NullLogger.Instance, environment: environment);
            IReadOnlyList<string> line = HasTime ? ["-f", "%U %S %M", "-o", report, "--", program, .. arguments] : arguments;
            var clock = Stopwatch.StartNew();
            var output = await runner.RunAsync(line, cancellationToken).ConfigureAwait(false);
            var wall = clock.Elapsed.TotalSeconds;
            if (!HasTime)
            {
                return (new Cost(wall, 0, 0), output);
            }
            // GNU time writes "Command exited with non-zero status N" first when it does; the numbers are the last line.
            var fields = (await File.ReadAllLinesAsync(report, cancellationToken).ConfigureAwait(false)).Last(l => l.Length > 0).Split(' ');
            var cpu = double.Parse(fields[0], CultureInfo.InvariantCulture) + double.Parse(fields[1], CultureInfo.InvariantCulture);
            return (new Cost(wall, cpu, long.Parse(fields[2], CultureInfo.InvariantCulture) * 1024), output);
        }
        finally
        {
            File.Delete(report);
        }
    }

    /// <summary>Runs <paramref name="work"/> in this process and measures it.</summary>
    public static async Task<(Cost Cost, T Result)> RunInProcessAsync<T>(Func<Task<T>> work)
    {
        ResourceUsage.ResetPeakResidentSet();
        var before = ResourceUsage.CpuSeconds();
        var clock = Stopwatch.StartNew();
        var result = await work().ConfigureAwait(false);
        var wall = clock.Elapsed.TotalSeconds;
        return (new Cost(wall, ResourceUsage.CpuSeconds() - before, ResourceUsage.PeakResidentSetBytes()), result);
    }
}
