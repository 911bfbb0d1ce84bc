using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Rsync;

/// <summary>The Linux calls the BCL does not expose: FICLONE (reflink a whole file), mkfifo, renameat2, statx.</summary>
internal static partial class NativeMethods
{
    /// <summary><c>_IOW(0x94, 9, int)</c>.</summary>
    public const nuint FiClone = 0x40049409;

    /// <summary><c>AT_FDCWD</c>: paths relative to the working directory (ours are absolute).</summary>
    public const int AtCurrentDirectory = -100;

    /// <summary><c>RENAME_EXCHANGE</c>: swap the two paths atomically.</summary>
    public const uint RenameExchange = 2;

    /// <summary><c>AT_SYMLINK_NOFOLLOW</c>.</summary>
    public const int AtSymlinkNoFollow = 0x100;

    /// <summary><c>STATX_BASIC_STATS</c>.</summary>
    public const uint StatxBasicStats = 0x7ff;

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int IoctlClone(SafeFileHandle destination, nuint request, SafeFileHandle source);

    /// <summary><c>mkfifo(path, mode)</c>: 0 or -1 with errno.</summary>
    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MakeFifo(string path, uint mode);

    /// <summary><c>renameat2(AT_FDCWD, a, AT_FDCWD, b, flags)</c>: 0 or -1 with errno.</summary>
    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int RenameAt2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);

    /// <summary><c>statx(AT_FDCWD, path, flags, mask, buffer)</c>: 0 or -1 with errno.</summary>
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Statx(int directory, string path, int flags, uint mask, out StatxBuffer buffer);

    /// <summary>The kernel's <c>struct statx</c> (the same layout on every architecture), the fields read here named.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct StatxBuffer
    {
        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(24)]
        public uint Gid;

        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(32)]
        public ulong Inode;

        [FieldOffset(96)]
        public long ChangedSeconds;

        [FieldOffset(104)]
        public uint ChangedNanoseconds;

        [FieldOffset(112)]
        public long ModifiedSeconds;

        [FieldOffset(120)]
        public uint ModifiedNanoseconds;

        [FieldOffset(136)]
        public uint DeviceMajor;

        [FieldOffset(140)]
        public uint DeviceMinor;
    }
}
