namespace DeltaSnap;

/// <summary>The base of every operational failure DeltaSnap reports (as opposed to usage errors).</summary>
public class DeltaSnapException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DeltaSnapException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public DeltaSnapException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure that caused it.</summary>
    public DeltaSnapException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Whether retrying the same operation may succeed (a lost connection, a timeout).</summary>
    public virtual bool IsTransient => false;
}

/// <summary>Stored data (a checksum map, a store, a stream) is corrupt, truncated or of an unknown version.</summary>
public class CorruptDataException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public CorruptDataException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public CorruptDataException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure that caused it.</summary>
    public CorruptDataException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
