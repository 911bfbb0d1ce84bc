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
/// An lvol store operation failed. <see cref="Errno"/> says why, as SPDK would; <see cref="SpdkErrorCode"/> is the
/// negative value SPDK's JSON-RPC puts in its error responses.
/// </summary>
public class LvolException : DeltaSnapException
{
    /// <summary>Creates the exception with <see cref="LvolErrno.EIO"/>.</summary>
    public LvolException()
        : this(LvolErrno.EIO, "The lvol store failed.")
    {
    }

    /// <summary>Creates the exception with <see cref="LvolErrno.EIO"/> and a message.</summary>
    public LvolException(string message)
        : this(LvolErrno.EIO, message)
    {
    }

    /// <summary>Creates the exception with <see cref="LvolErrno.EIO"/>, a message and a cause.</summary>
    public LvolException(string message, Exception? innerException)
        : this(LvolErrno.EIO, message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="errno">Why the operation failed.</param>
    /// <param name="message">What failed, naming the lvol.</param>
    /// <param name="innerException">The failure that caused it, if any.</param>
    public LvolException(LvolErrno errno, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Errno = errno;
    }

    /// <summary>Why the operation failed.</summary>
    public LvolErrno Errno { get; }

    /// <summary>The negative errno SPDK returns for this failure (<c>-ENOENT</c> is -2).</summary>
    public int SpdkErrorCode => -(int)Errno;

    internal static LvolException NotFound(string what) => new(LvolErrno.ENOENT, $"{what} does not exist.");
}

/// <summary>
/// A native lvol stream does not fit the target: it is incremental from a snapshot the target's base is not (or
/// full while the target expects an incremental, or the reverse). Nothing was written.
/// </summary>
public sealed class LvolStreamMismatchException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public LvolStreamMismatchException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public LvolStreamMismatchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public LvolStreamMismatchException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception naming both identities.</summary>
    /// <param name="message">What did not fit.</param>
    /// <param name="streamBase">The snapshot the stream is incremental from, or null for a full stream.</param>
    /// <param name="targetBase">The target's base, or null when the target has none.</param>
    public LvolStreamMismatchException(string message, SnapshotIdentity? streamBase, SnapshotIdentity? targetBase)
        : base(message)
    {
        StreamBase = streamBase;
        TargetBase = targetBase;
    }

    /// <summary>The snapshot the stream is incremental from, or null for a full stream.</summary>
    public SnapshotIdentity? StreamBase { get; }

    /// <summary>The target's base, or null when the target has none.</summary>
    public SnapshotIdentity? TargetBase { get; }
}
