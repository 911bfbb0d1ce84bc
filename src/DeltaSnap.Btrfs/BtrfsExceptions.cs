namespace DeltaSnap.Btrfs;

/// <summary>A <c>btrfs</c> command failed: it carries the command line, the exit code and what the command wrote to standard error.</summary>
public sealed class BtrfsCommandException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public BtrfsCommandException()
    {
        Command = "";
        StandardError = "";
    }

    /// <summary>Creates the exception with a message.</summary>
    public BtrfsCommandException(string message)
        : base(message)
    {
        Command = "";
        StandardError = "";
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public BtrfsCommandException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Command = "";
        StandardError = "";
    }

    /// <summary>Creates the exception for a command that exited with <paramref name="exitCode"/>.</summary>
    /// <param name="command">The command line, for people (arguments quoted where needed).</param>
    /// <param name="exitCode">The exit code; -1 when the command could not be started.</param>
    /// <param name="standardError">What the command wrote to standard error (trimmed, possibly shortened).</param>
    /// <param name="innerException">The failure that caused it, if any.</param>
    public BtrfsCommandException(string command, int exitCode, string standardError, Exception? innerException = null)
        : base(FormatMessage(command, exitCode, standardError), innerException)
    {
        Command = command;
        ExitCode = exitCode;
        StandardError = standardError;
    }

    /// <summary>The command line that failed.</summary>
    public string Command { get; }

    /// <summary>The command's exit code; -1 when it could not be started.</summary>
    public int ExitCode { get; }

    /// <summary>What the command wrote to standard error.</summary>
    public string StandardError { get; }

    private static string FormatMessage(string command, int exitCode, string standardError) =>
        exitCode == -1
            ? $"Could not run `{command}`: {standardError}"
            : $"`{command}` failed with exit code {exitCode}: {(standardError.Length == 0 ? "(nothing on standard error)" : standardError)}";
}

/// <summary>
/// A Btrfs send stream does not fit the receiving volume: it is incremental from a parent the target's base is
/// not, it is full where an incremental was expected (or the reverse), or it carries another snapshot than the
/// one the receive was asked for. Nothing was written.
/// </summary>
public sealed class BtrfsStreamMismatchException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public BtrfsStreamMismatchException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public BtrfsStreamMismatchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public BtrfsStreamMismatchException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception naming what the target expected and what the stream carries.</summary>
    /// <param name="message">What does not fit.</param>
    /// <param name="expectedUuid">The UUID the target expected (its base's received UUID or UUID, or the snapshot asked for); null for "none".</param>
    /// <param name="streamUuid">The UUID the stream carries; null for "none".</param>
    public BtrfsStreamMismatchException(string message, string? expectedUuid, string? streamUuid)
        : base(message)
    {
        ExpectedUuid = expectedUuid;
        StreamUuid = streamUuid;
    }

    /// <summary>The UUID the target expected, or null when it expected none (a full stream).</summary>
    public string? ExpectedUuid { get; }

    /// <summary>The UUID the stream carries, or null when it carries none (a full stream).</summary>
    public string? StreamUuid { get; }
}
