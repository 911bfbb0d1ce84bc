namespace DeltaSnap.Lvol;

/// <summary>The errno values the lvol store reports, as SPDK's lvol library returns them (negated on the wire).</summary>
public enum LvolErrno
{
    /// <summary>Operation not permitted: a write to a snapshot, a shallow copy from a writable lvol.</summary>
    EPERM = 1,

    /// <summary>No such lvol, snapshot or registered checksum.</summary>
    ENOENT = 2,

    /// <summary>An I/O error; the store's file could not be read or written.</summary>
    EIO = 5,

    /// <summary>The lvol (or the store) is in use: open, held by a running operation, or a snapshot with several clones.</summary>
    EBUSY = 16,

    /// <summary>The name is taken.</summary>
    EEXIST = 17,

    /// <summary>No such device: an unknown bdev or operation id (SPDK's answer for those).</summary>
    ENODEV = 19,

    /// <summary>An argument does not fit: a size, an alignment, a parent of another size, a non-snapshot where a snapshot is needed.</summary>
    EINVAL = 22,

    /// <summary>The store has no free cluster left.</summary>
    ENOSPC = 28,

    /// <summary>The operation was stopped before it finished.</summary>
    ECANCELED = 125,
}

/// <summary>
/// The one errno table of the lvol package: each value's C library message, as SPDK's <c>spdk_strerror</c> gives it
/// (the JSON-RPC server puts it in its error responses).
/// </summary>
internal static class LvolErrnoText
{
    /// <summary>The C library's message for <paramref name="errno"/>.</summary>
    public static string Strerror(this LvolErrno errno) => errno switch
    {
        LvolErrno.EPERM => "Operation not permitted",
        LvolErrno.ENOENT => "No such file or directory",
        LvolErrno.EIO => "Input/output error",
        LvolErrno.EBUSY => "Device or resource busy",
        LvolErrno.EEXIST => "File exists",
        LvolErrno.ENODEV => "No such device",
        LvolErrno.EINVAL => "Invalid argument",
        LvolErrno.ENOSPC => "No space left on device",
        LvolErrno.ECANCELED => "Operation canceled",
        _ => $"Unknown error {(int)errno}",
    };
}
