namespace DeltaSnap.Lvol;

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
