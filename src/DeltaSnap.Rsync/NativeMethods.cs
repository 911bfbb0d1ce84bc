using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Rsync;

/// <summary>The Linux calls the BCL does not expose: FICLONE (reflink a whole file), mkfifo.</summary>
internal static partial class NativeMethods
{
    /// <summary><c>_IOW(0x94, 9, int)</c>.</summary>
    public const nuint FiClone = 0x40049409;

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int IoctlClone(SafeFileHandle destination, nuint request, SafeFileHandle source);

    /// <summary><c>mkfifo(path, mode)</c>: 0 or -1 with errno.</summary>
    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MakeFifo(string path, uint mode);
}
