using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Zfs;

/// <summary>The Linux call the BCL does not expose: growing a pipe's kernel buffer.</summary>
internal static partial class NativeMethods
{
    /// <summary><c>F_SETPIPE_SZ</c> of <c>fcntl(2)</c>.</summary>
    public const int SetPipeSize = 1031;

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(SafePipeHandle fd, int command, int argument);
}
