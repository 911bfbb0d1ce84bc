namespace DeltaSnap;

/// <summary>
/// A backend's native stream does not fit the volume receiving it: full where an incremental was expected (or the
/// reverse), incremental from a snapshot that is not the target's base, carrying another snapshot than the one
/// asked for, or the target already has the snapshot's name or snapshots newer than its base. Raised by the
/// receive template before a byte reaches the backend (or by a driver's own extra check, such as ZFS's raw and
/// non-raw chains): nothing was written.
/// </summary>
public sealed class NativeStreamMismatchException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public NativeStreamMismatchException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NativeStreamMismatchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public NativeStreamMismatchException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception naming the stream's identities and the target's.</summary>
    /// <param name="message">What does not fit.</param>
    /// <param name="streamFrom">The snapshot the stream is incremental from; null for a full stream.</param>
    /// <param name="streamTo">The snapshot the stream carries; null when not known.</param>
    /// <param name="targetBase">The target's base snapshot (the request's, as the target has it); null when there is none.</param>
    /// <param name="targetLatest">The target's newest snapshot; null when it has none.</param>
    public NativeStreamMismatchException(string message, SnapshotIdentity? streamFrom, SnapshotIdentity? streamTo, SnapshotIdentity? targetBase, SnapshotIdentity? targetLatest)
        : base(message)
    {
        StreamFrom = streamFrom;
        StreamTo = streamTo;
        TargetBase = targetBase;
        TargetLatest = targetLatest;
    }

    /// <summary>The snapshot the stream is incremental from; null for a full stream (or when not known).</summary>
    public SnapshotIdentity? StreamFrom { get; }

    /// <summary>The snapshot the stream carries; null when not known.</summary>
    public SnapshotIdentity? StreamTo { get; }

    /// <summary>The target's base snapshot; null when the target has none (or the request named none).</summary>
    public SnapshotIdentity? TargetBase { get; }

    /// <summary>The target's newest snapshot; null when it has none.</summary>
    public SnapshotIdentity? TargetLatest { get; }
}
