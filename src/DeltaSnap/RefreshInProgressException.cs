namespace DeltaSnap;

/// <summary>
/// Another refresh of the same target is running (in this process, or another on the machine where the target is): a
/// refresh holds its target's lock from start to end (<see cref="Drivers.Volume.LockForRefreshAsync"/>), so two never
/// write one target at once. Retry when it has ended.
/// </summary>
public sealed class RefreshInProgressException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public RefreshInProgressException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public RefreshInProgressException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure that caused it.</summary>
    public RefreshInProgressException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The address of the target another refresh holds; null when not known.</summary>
    public string? Target { get; init; }

    /// <summary>The lock file the other refresh holds; null when not known.</summary>
    public string? LockFile { get; init; }

    /// <inheritdoc />
    public override bool IsTransient => true;
}
