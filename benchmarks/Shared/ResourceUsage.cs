// One source file linked into the benchmark projects that measure processes (DeltaSnap.Benchmarks, DeltaSnap.Bench),
// as src/Shared is linked into the packages: one place, no second copy.
using System.Globalization;
using System.Runtime.InteropServices;

namespace DeltaSnap.Benchmarking;

/// <summary>
/// Resource usage of this process and of the children it waited for (getrusage), and its peak resident set
/// (<c>VmHWM</c>, which <see cref="ResetPeakResidentSet"/> resets through <c>/proc/self/clear_refs</c>). Linux.
/// </summary>
internal static partial class ResourceUsage
{
    private const int Self = 0;
    private const int Children = -1;

    /// <summary>User + system CPU seconds of this process and of its waited-for children so far.</summary>
    public static double CpuSeconds() => Cpu(Self) + Cpu(Children);

    /// <summary>The largest resident set of any waited-for child so far, in bytes (-1 when unknown).</summary>
    public static long ChildrenPeakResidentBytes() => GetResourceUsage(Children, out var usage) == 0 ? usage.MaxResidentKilobytes * 1024 : -1;

    /// <summary>Resets this process's peak resident set to its current one (Linux 4.0 and later; does nothing where it cannot).</summary>
    public static void ResetPeakResidentSet()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not resettable here: the peak is then the process's since it started.
        }
    }

    /// <summary>This process's peak resident set since it started or since <see cref="ResetPeakResidentSet"/>, in bytes.</summary>
    public static long PeakResidentSetBytes()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    private static double Cpu(int who) => GetResourceUsage(who, out var usage) != 0 ? 0
        : usage.UserSeconds + (usage.UserMicroseconds / 1e6) + usage.SystemSeconds + (usage.SystemMicroseconds / 1e6);

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetResourceUsage(int who, out Usage usage);

    /// <summary>struct rusage on 64-bit Linux: two timevals, then fourteen longs (the maximum resident set first).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Usage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        public long MaxResidentKilobytes;
        public long Ixrss;
        public long Idrss;
        public long Isrss;
        public long MinorFaults;
        public long MajorFaults;
        public long Swaps;
        public long BlocksIn;
        public long BlocksOut;
        public long MessagesSent;
        public long MessagesReceived;
        public long Signals;
        public long VoluntarySwitches;
        public long InvoluntarySwitches;
    }
}
