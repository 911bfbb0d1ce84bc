using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Devices;

/// <summary>The Linux calls the BCL does not expose: hole seeking, hole punching, block-device size, read leases and maps.</summary>
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
    public const int FSetOwn = 8;
    public const int FSetSig = 10;
    public const int FSetLease = 1024;
    public const int FGetLease = 1025;
    public const int FRdLck = 0;
    public const int FUnlck = 2;
    public const int SigUrg = 23;
    public const int ProtRead = 1;
    public const int MapShared = 1;
    public const int StatFsSize = 256; // larger than struct statfs on every 64-bit Linux

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int FcntlInt(SafeFileHandle fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "fstatfs", SetLastError = true)]
    public static unsafe partial int FStatFs(SafeFileHandle fd, byte* buffer);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint MMap(nint address, nuint length, int protection, int flags, SafeFileHandle fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int MUnmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    public static partial long LSeek(SafeFileHandle fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    public static partial int FAllocate(SafeFileHandle fd, int mode, long offset, long length);
}
