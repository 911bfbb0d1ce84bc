using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace DeltaSnap.Btrfs;

/// <summary>
/// Enlarges the kernel buffer of the pipes to and from a streaming <c>btrfs</c> process (Linux <c>F_SETPIPE_SZ</c>)
/// from the default 64 KiB to 1 MiB, so that send and receive move data in fewer, larger reads and writes
/// and wait less on each other. Best effort: where the call is refused nothing changes.
/// </summary>
internal static partial class PipeCapacity
{
    private const int SetPipeSize = 1031; // F_SETPIPE_SZ
    private const int Capacity = 1 << 20;

    public static void TryEnlarge(Stream stream)
    {
        if (!OperatingSystem.IsLinux() || stream is not PipeStream pipe)
        {
            return;
        }
        var handle = pipe.SafePipeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            _ = Fcntl((int)handle.DangerousGetHandle(), SetPipeSize, Capacity);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc or musl: keep the default capacity.
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
