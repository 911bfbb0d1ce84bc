using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace DeltaSnap.Btrfs;

/// <summary>
/// Reads what <c>btrfs subvolume show</c> prints straight from the kernel with <c>BTRFS_IOC_GET_SUBVOL_INFO</c>
/// (Linux 4.18+, the ioctl btrfs-progs itself uses), so that a lineage or a receive check costs a system call per
/// subvolume instead of a process. Where it cannot answer (another architecture, an older kernel, a refusal) the
/// caller falls back to the command.
/// </summary>
internal static partial class SubvolumeInfoIoctl
{
    // struct btrfs_ioctl_get_subvol_info_args (include/uapi/linux/btrfs.h): 504 bytes.
    private const int ArgsSize = 504;
    private const int TreeIdOffset = 0;
    private const int GenerationOffset = 8 + 256 + 8 + 8;
    private const int FlagsOffset = GenerationOffset + 8;
    private const int UuidOffset = FlagsOffset + 8;
    private const int ParentUuidOffset = UuidOffset + 16;
    private const int ReceivedUuidOffset = ParentUuidOffset + 16;
    private const int OTransIdOffset = ReceivedUuidOffset + 16 + 8;
    private const int OTimeOffset = OTransIdOffset + 8 + 8 + 8 + 16; // after ctransid, otransid, stransid, rtransid, ctime
    private const ulong ReadOnlyFlag = 1; // BTRFS_ROOT_SUBVOL_RDONLY

    // _IOR(BTRFS_IOCTL_MAGIC 0x94, 60, 504 bytes)
    private const ulong GetSubvolInfo = (2UL << 30) | ((ulong)ArgsSize << 16) | (0x94UL << 8) | 60;

    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int ELOOP = 40;

    /// <summary>The outcome of one read.</summary>
    public enum Outcome
    {
        /// <summary>The path is a subvolume; the info is filled in.</summary>
        Subvolume,

        /// <summary>The path does not exist, is not a directory, is a symbolic link, or is a directory inside a subvolume rather than one.</summary>
        NotSubvolume,

        /// <summary>The ioctl could not answer: use the command.</summary>
        Unavailable,
    }

    /// <summary>Whether this process can use the ioctl at all (Linux on x64 or Arm64, whose open flags are known).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && OpenFlags != 0;

    private static int OpenFlags => RuntimeInformation.ProcessArchitecture switch
    {
        // O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        Architecture.X64 => 0x10000 | 0x20000 | 0x80000,
        Architecture.Arm64 => 0x4000 | 0x8000 | 0x80000,
        _ => 0,
    };

    /// <summary>Reads the subvolume at <paramref name="path"/>.</summary>
    public static Outcome TryRead(string path, out BtrfsSubvolumeInfo? info)
    {
        info = null;
        if (!IsSupported)
        {
            return Outcome.Unavailable;
        }
        var own = new byte[ArgsSize];
        var status = Query(path, own);
        if (status != 0)
        {
            return status is ENOENT or ENOTDIR or ELOOP ? Outcome.NotSubvolume : Outcome.Unavailable;
        }
        // A directory inside a subvolume reports the subvolume holding it: compare with the parent directory.
        var parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(path));
        if (parent is not null)
        {
            var above = new byte[ArgsSize];
            if (Query(parent, above) == 0 && ReadU64(above, TreeIdOffset) == ReadU64(own, TreeIdOffset))
            {
                return Outcome.NotSubvolume;
            }
        }
        info = new BtrfsSubvolumeInfo
        {
            Uuid = FormatUuid(own.AsSpan(UuidOffset, 16))!,
            ParentUuid = FormatUuid(own.AsSpan(ParentUuidOffset, 16)),
            ReceivedUuid = FormatUuid(own.AsSpan(ReceivedUuidOffset, 16)),
            Generation = ReadU64(own, GenerationOffset),
            GenerationAtCreation = ReadU64(own, OTransIdOffset),
            CreatedUtc = DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(ReadU64(own, OTimeOffset), (ulong)DateTimeOffset.MaxValue.ToUnixTimeSeconds())),
            ReadOnly = (ReadU64(own, FlagsOffset) & ReadOnlyFlag) != 0,
        };
        return info.Uuid is null ? Outcome.Unavailable : Outcome.Subvolume;
    }

    /// <summary>
    /// Writes back the dirty data of the file system holding <paramref name="path"/> (<c>syncfs</c>), so that its
    /// subvolumes' generations count every write made so far; false when it could not be done here.
    /// </summary>
    public static bool TrySyncFileSystem(string path)
    {
        if (!IsSupported)
        {
            return false;
        }
        int fd;
        try
        {
            fd = Open(path, OpenFlags);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
        if (fd < 0)
        {
            return false;
        }
        try
        {
            return SyncFs(fd) == 0;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Opens <paramref name="path"/> as a directory (no symbolic links) and runs the ioctl; 0 or the errno.</summary>
    private static unsafe int Query(string path, byte[] args)
    {
        int fd;
        try
        {
            fd = Open(path, OpenFlags);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }
        try
        {
            fixed (byte* p = args)
            {
                return Ioctl(fd, (nuint)GetSubvolInfo, p) < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static ulong ReadU64(byte[] args, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(args.AsSpan(offset, 8));

    private static string? FormatUuid(ReadOnlySpan<byte> bytes) =>
        bytes.IndexOfAnyExcept((byte)0) < 0 ? null : new Guid(bytes, bigEndian: true).ToString("D");

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static unsafe partial int Ioctl(int fd, nuint request, byte* argument);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
