using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Devices;

/// <summary>The Linux calls the BCL does not expose: hole seeking, hole punching, block-device size.</summary>
internal static partial class NativeMethods
{
    public const int SeekEnd = 2;
    public const int SeekData = 3;
    public const int SeekHole = 4;
    public const int FallocKeepSize = 0x01;
    public const int FallocPunchHole = 0x02;
    public const int Enxio = 6;
    public const int Eopnotsupp = 95;
    public const int Einval = 22;

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    public static partial long LSeek(SafeFileHandle fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    public static partial int FAllocate(SafeFileHandle fd, int mode, long offset, long length);
}
