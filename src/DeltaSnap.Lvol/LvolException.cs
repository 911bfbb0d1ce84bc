namespace DeltaSnap.Lvol;

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
