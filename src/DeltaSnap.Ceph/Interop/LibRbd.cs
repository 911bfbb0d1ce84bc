using System.Runtime.InteropServices;

namespace DeltaSnap.Ceph.Interop;

/// <summary>
/// The librbd calls DeltaSnap needs (Ceph's <c>include/rbd/librbd.h</c>, Pacific and later). Imported by the
/// versioned name <c>librbd.so.1</c>. Callbacks are <c>[UnmanagedCallersOnly]</c> function pointers.
/// </summary>
internal static unsafe partial class LibRbd
{
    public const string Library = "librbd.so.1";

    /// <summary><c>rbd_snap_info_t</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SnapInfo
    {
        public ulong Id;
        public ulong Size;
        public IntPtr Name;
    }

    /// <summary><c>rbd_image_spec_t</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ImageSpec
    {
        public IntPtr Id;
        public IntPtr Name;
    }

    /// <summary><c>struct timespec</c> on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Library, EntryPoint = "rbd_create2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Create2(RadosIoContextHandle ioContext, string name, ulong size, ulong features, ref int order);

    [LibraryImport(Library, EntryPoint = "rbd_remove", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Remove(RadosIoContextHandle ioContext, string name);

    [LibraryImport(Library, EntryPoint = "rbd_list2")]
    public static partial int List2(RadosIoContextHandle ioContext, ImageSpec* images, ref nuint maxImages);

    [LibraryImport(Library, EntryPoint = "rbd_image_spec_list_cleanup")]
    public static partial void ImageSpecListCleanup(ImageSpec* images, nuint count);

    [LibraryImport(Library, EntryPoint = "rbd_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(RadosIoContextHandle ioContext, string name, out RbdImageHandle image, string? snapName);

    [LibraryImport(Library, EntryPoint = "rbd_open_read_only", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int OpenReadOnly(RadosIoContextHandle ioContext, string name, out RbdImageHandle image, string? snapName);

    [LibraryImport(Library, EntryPoint = "rbd_close")]
    public static partial int Close(IntPtr image);

    [LibraryImport(Library, EntryPoint = "rbd_get_size")]
    public static partial int GetSize(RbdImageHandle image, out ulong size);

    [LibraryImport(Library, EntryPoint = "rbd_get_id")]
    public static partial int GetId(RbdImageHandle image, byte* id, nuint length);

    [LibraryImport(Library, EntryPoint = "rbd_resize")]
    public static partial int Resize(RbdImageHandle image, ulong size);

    [LibraryImport(Library, EntryPoint = "rbd_read2")]
    public static partial nint Read2(RbdImageHandle image, ulong offset, nuint length, byte* buffer, int opFlags);

    [LibraryImport(Library, EntryPoint = "rbd_write2")]
    public static partial nint Write2(RbdImageHandle image, ulong offset, nuint length, byte* buffer, int opFlags);

    [LibraryImport(Library, EntryPoint = "rbd_discard")]
    public static partial int Discard(RbdImageHandle image, ulong offset, ulong length);

    [LibraryImport(Library, EntryPoint = "rbd_flush")]
    public static partial int Flush(RbdImageHandle image);

    [LibraryImport(Library, EntryPoint = "rbd_snap_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SnapCreate(RbdImageHandle image, string name);

    /// <summary><c>RBD_SNAP_CREATE_SKIP_QUIESCE</c>: do not ask the image's users (rbd-nbd quiesce hooks) to quiesce first.</summary>
    public const uint SnapCreateSkipQuiesce = 1;

    [LibraryImport(Library, EntryPoint = "rbd_snap_create2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SnapCreate2(RbdImageHandle image, string name, uint flags, IntPtr progress, IntPtr argument);

    [LibraryImport(Library, EntryPoint = "rbd_snap_remove", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SnapRemove(RbdImageHandle image, string name);

    [LibraryImport(Library, EntryPoint = "rbd_snap_remove_by_id")]
    public static partial int SnapRemoveById(RbdImageHandle image, ulong snapId);

    /// <summary><c>RBD_SNAP_NAMESPACE_TYPE_USER</c>: a snapshot a user (or DeltaSnap) made; the others are group, trash and mirror snapshots.</summary>
    public const int SnapNamespaceUser = 0;

    /// <summary><c>RBD_SNAP_NAMESPACE_TYPE_TRASH</c>: a snapshot being removed (or kept for the clones that still use it).</summary>
    public const int SnapNamespaceTrash = 2;

    [LibraryImport(Library, EntryPoint = "rbd_snap_get_namespace_type")]
    public static partial int SnapGetNamespaceType(RbdImageHandle image, ulong snapId, out int namespaceType);

    [LibraryImport(Library, EntryPoint = "rbd_snap_rollback", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SnapRollback(RbdImageHandle image, string name);

    [LibraryImport(Library, EntryPoint = "rbd_snap_rename", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SnapRename(RbdImageHandle image, string name, string newName);

    [LibraryImport(Library, EntryPoint = "rbd_snap_exists", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SnapExists(RbdImageHandle image, string name, [MarshalAs(UnmanagedType.U1)] out bool exists);

    [LibraryImport(Library, EntryPoint = "rbd_snap_list")]
    public static partial int SnapList(RbdImageHandle image, SnapInfo* snaps, ref int maxSnaps);

    [LibraryImport(Library, EntryPoint = "rbd_snap_list_end")]
    public static partial void SnapListEnd(SnapInfo* snaps);

    [LibraryImport(Library, EntryPoint = "rbd_snap_get_timestamp")]
    public static partial int SnapGetTimestamp(RbdImageHandle image, ulong snapId, out TimeSpec timestamp);

    [LibraryImport(Library, EntryPoint = "rbd_metadata_get", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MetadataGet(RbdImageHandle image, string key, byte* value, ref nuint valueLength);

    [LibraryImport(Library, EntryPoint = "rbd_metadata_set", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MetadataSet(RbdImageHandle image, string key, string value);

    [LibraryImport(Library, EntryPoint = "rbd_metadata_remove", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MetadataRemove(RbdImageHandle image, string key);

    [LibraryImport(Library, EntryPoint = "rbd_metadata_list", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MetadataList(RbdImageHandle image, string start, ulong max, byte* keys, ref nuint keysLength, byte* values, ref nuint valuesLength);

    [LibraryImport(Library, EntryPoint = "rbd_diff_iterate2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int DiffIterate2(
        RbdImageHandle image, string? fromSnapName, ulong offset, ulong length, byte includeParent, byte wholeObject,
        delegate* unmanaged<ulong, nuint, int, IntPtr, int> callback, IntPtr argument);

    [LibraryImport(Library, EntryPoint = "rbd_aio_create_completion")]
    public static partial int AioCreateCompletion(IntPtr argument, delegate* unmanaged<IntPtr, IntPtr, void> callback, out IntPtr completion);

    [LibraryImport(Library, EntryPoint = "rbd_aio_get_return_value")]
    public static partial nint AioGetReturnValue(IntPtr completion);

    [LibraryImport(Library, EntryPoint = "rbd_aio_release")]
    public static partial void AioRelease(IntPtr completion);

    [LibraryImport(Library, EntryPoint = "rbd_aio_read2")]
    public static partial int AioRead2(RbdImageHandle image, ulong offset, nuint length, byte* buffer, IntPtr completion, int opFlags);

    [LibraryImport(Library, EntryPoint = "rbd_aio_write2")]
    public static partial int AioWrite2(RbdImageHandle image, ulong offset, nuint length, byte* buffer, IntPtr completion, int opFlags);

    [LibraryImport(Library, EntryPoint = "rbd_aio_discard")]
    public static partial int AioDiscard(RbdImageHandle image, ulong offset, ulong length, IntPtr completion);

    [LibraryImport(Library, EntryPoint = "rbd_aio_write_zeroes")]
    public static partial int AioWriteZeroes(RbdImageHandle image, ulong offset, nuint length, IntPtr completion, int zeroFlags, int opFlags);

    [LibraryImport(Library, EntryPoint = "rbd_aio_flush")]
    public static partial int AioFlush(RbdImageHandle image, IntPtr completion);
}
