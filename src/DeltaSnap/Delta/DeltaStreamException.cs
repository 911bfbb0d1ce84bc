namespace DeltaSnap.Delta;

/// <summary>
/// A delta stream is corrupt, truncated, out of order or of an unknown version. The message says what is
/// wrong and where; <see cref="StreamOffset"/> and <see cref="RecordIndex"/> say where for programs.
/// </summary>
public sealed class DeltaStreamException : CorruptDataException
{
    /// <summary>Creates the exception.</summary>
    public DeltaStreamException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public DeltaStreamException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure that caused it.</summary>
    public DeltaStreamException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a message and where in the stream the problem is.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="streamOffset">The byte offset in the stream of the problem.</param>
    /// <param name="recordIndex">The index of the record concerned, if one is.</param>
    /// <param name="innerException">The failure that revealed the problem, if any.</param>
    public DeltaStreamException(string message, long streamOffset, long? recordIndex, Exception? innerException = null)
        : base(message, innerException)
    {
        StreamOffset = streamOffset;
        RecordIndex = recordIndex;
    }

    /// <summary>The byte offset in the stream of the problem, when known.</summary>
    public long? StreamOffset { get; }

    /// <summary>The index of the record concerned, when the problem concerns one.</summary>
    public long? RecordIndex { get; }
}
