namespace DeltaSnap.Lvol;

/// <summary>The errno values the lvol store reports, as SPDK's lvol library returns them (negated on the wire).</summary>
public enum LvolErrno
{
    /// <summary>Operation not permitted: a write to a snapshot, a shallow copy from a writable lvol, a checksum of a writable lvol.</summary>
    EPERM = 1,

    /// <summary>No such lvol, snapshot or registered range checksums.</summary>
    ENOENT = 2,

    /// <summary>No such process: no checksum registration runs that could be stopped.</summary>
    ESRCH = 3,

    /// <summary>Interrupted: a checksum registration was stopped.</summary>
    EINTR = 4,

    /// <summary>An I/O error; the store's file could not be read or written.</summary>
    EIO = 5,

    /// <summary>The lvol (or the store) is in use: open, held by a running operation, or a snapshot with several clones.</summary>
    EBUSY = 16,

    /// <summary>The name is taken, or a checksum registration of the snapshot already runs.</summary>
    EEXIST = 17,

    /// <summary>No such device: an unknown bdev or operation id, or a snapshot without a registered checksum (SPDK's answer for those).</summary>
    ENODEV = 19,

    /// <summary>An argument does not fit: a size, an alignment, a parent of another size, a non-snapshot where a snapshot is needed.</summary>
    EINVAL = 22,

    /// <summary>The store has no free cluster left.</summary>
    ENOSPC = 28,

    /// <summary>The operation was stopped before it finished.</summary>
    ECANCELED = 125,
}
