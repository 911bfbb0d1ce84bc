using System.Runtime.InteropServices;

namespace DeltaSnap.Ceph.Interop;

/// <summary>
/// The librados calls DeltaSnap needs (Ceph's <c>include/rados/librados.h</c>). Debian ships only the versioned
/// <c>librados.so.2</c> (no <c>-dev</c> symlink), so that is the name imported.
/// </summary>
internal static partial class LibRados
{
    public const string Library = "librados.so.2";

    [LibraryImport(Library, EntryPoint = "rados_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Create(out RadosClusterHandle cluster, string? id);

    [LibraryImport(Library, EntryPoint = "rados_conf_read_file", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConfReadFile(RadosClusterHandle cluster, string? path);

    [LibraryImport(Library, EntryPoint = "rados_conf_parse_env", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConfParseEnv(RadosClusterHandle cluster, string? variable);

    [LibraryImport(Library, EntryPoint = "rados_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConfSet(RadosClusterHandle cluster, string option, string value);

    [LibraryImport(Library, EntryPoint = "rados_conf_get", StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int ConfGet(RadosClusterHandle cluster, string option, byte* buffer, nuint length);

    [LibraryImport(Library, EntryPoint = "rados_connect")]
    public static partial int Connect(RadosClusterHandle cluster);

    [LibraryImport(Library, EntryPoint = "rados_shutdown")]
    public static partial void Shutdown(IntPtr cluster);

    [LibraryImport(Library, EntryPoint = "rados_pool_list")]
    public static unsafe partial int PoolList(RadosClusterHandle cluster, byte* buffer, nuint length);

    [LibraryImport(Library, EntryPoint = "rados_ioctx_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int IoContextCreate(RadosClusterHandle cluster, string poolName, out RadosIoContextHandle ioContext);

    [LibraryImport(Library, EntryPoint = "rados_ioctx_set_namespace", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void IoContextSetNamespace(RadosIoContextHandle ioContext, string? nameSpace);

    [LibraryImport(Library, EntryPoint = "rados_ioctx_destroy")]
    public static partial void IoContextDestroy(IntPtr ioContext);
}
