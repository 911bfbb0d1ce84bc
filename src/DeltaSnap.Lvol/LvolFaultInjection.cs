using System.Diagnostics;
using System.Globalization;

namespace DeltaSnap.Lvol;

/// <summary>
/// A test-only switch for crash tests: when the environment variable <c>DELTASNAP_LVOL_FAULT_KILL_AT=N</c> is set
/// (read once, at the first durable boundary), the process kills itself with SIGKILL at the Nth durable boundary
/// of any lvol store it has open — each file sync and each metadata slot write, counted over every store of the
/// process. A test runs a command once per N = 1, 2, … and checks what the kill left; a run that exits normally
/// did not reach N. Unset (the default), a boundary costs one static read.
/// </summary>
internal static class LvolFaultInjection
{
    /// <summary>The environment variable that arms the switch.</summary>
    public const string KillAtVariable = "DELTASNAP_LVOL_FAULT_KILL_AT";

    /// <summary>When set, the boundary number and its name are appended to this file before each kill (for the test's log).</summary>
    public const string TraceVariable = "DELTASNAP_LVOL_FAULT_TRACE";

    private static readonly long KillAt = Read();
    private static readonly string? Trace = KillAt > 0 ? Environment.GetEnvironmentVariable(TraceVariable) : null;
    private static long _count;

    /// <summary>Counts a durable boundary (called right before the durable action) and kills the process when it is the armed one.</summary>
    public static void Boundary(string what)
    {
        if (KillAt <= 0)
        {
            return;
        }
        var n = Interlocked.Increment(ref _count);
        if (n != KillAt)
        {
            return;
        }
        if (Trace is { Length: > 0 } trace)
        {
            try
            {
                File.AppendAllText(trace, string.Create(CultureInfo.InvariantCulture, $"{n} {what}\n"));
            }
            catch (IOException)
            {
                // The trace is a convenience; the kill is what matters.
            }
        }
        using var self = Process.GetCurrentProcess();
        self.Kill();
        Thread.Sleep(Timeout.Infinite);
    }

    private static long Read() =>
        long.TryParse(Environment.GetEnvironmentVariable(KillAtVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
}
