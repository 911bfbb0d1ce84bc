namespace DeltaSnap.Zfs;

/// <summary>A <c>zfs</c> or <c>zpool</c> command failed: carries the command line, its exit code and its standard error.</summary>
public class ZfsCommandException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public ZfsCommandException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ZfsCommandException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ZfsCommandException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a command that exited with <paramref name="exitCode"/>.</summary>
    /// <param name="commandLine">The command as it ran, each argument quoted where needed (for reading, not for a shell).</param>
    /// <param name="exitCode">The process's exit code.</param>
    /// <param name="standardError">What the command wrote to standard error.</param>
    public ZfsCommandException(string commandLine, int exitCode, string standardError)
        : base($"`{commandLine}` failed with exit code {exitCode}: {Trim(standardError)}")
    {
        CommandLine = commandLine;
        ExitCode = exitCode;
        StandardError = standardError;
    }

    /// <summary>The command line, for reading (each argument quoted where it holds spaces).</summary>
    public string CommandLine { get; } = "";

    /// <summary>The exit code.</summary>
    public int ExitCode { get; }

    /// <summary>The command's standard error.</summary>
    public string StandardError { get; } = "";

    /// <summary>Whether <c>zfs</c> said the dataset is busy (zfs-fuse reports this briefly after file I/O; a retry may succeed).</summary>
    public override bool IsTransient => StandardError.Contains("dataset is busy", StringComparison.Ordinal);

    /// <summary>Whether <c>zfs</c> said the dataset does not exist.</summary>
    public bool IsNotFound => StandardError.Contains("does not exist", StringComparison.Ordinal);

    private static string Trim(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length == 0 ? "(no message)" : trimmed;
    }
}

/// <summary>
/// A ZFS send stream does not fit the target: its <c>fromguid</c> is not the GUID of the target's base
/// snapshot (or it is incremental where a full stream was expected, or the reverse). Nothing was written.
/// </summary>
public sealed class ZfsStreamMismatchException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public ZfsStreamMismatchException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ZfsStreamMismatchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ZfsStreamMismatchException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception naming both GUIDs.</summary>
    /// <param name="message">What does not fit.</param>
    /// <param name="streamFromGuid">The stream's <c>fromguid</c> (0 for a full stream).</param>
    /// <param name="targetBaseGuid">The GUID of the target's base snapshot (0 when the target has none).</param>
    public ZfsStreamMismatchException(string message, ulong streamFromGuid, ulong targetBaseGuid)
        : base(message)
    {
        StreamFromGuid = streamFromGuid;
        TargetBaseGuid = targetBaseGuid;
    }

    /// <summary>The stream's <c>fromguid</c>: the GUID of the snapshot it is incremental from (0: a full stream).</summary>
    public ulong StreamFromGuid { get; }

    /// <summary>The GUID of the target's base snapshot (0: the target has none).</summary>
    public ulong TargetBaseGuid { get; }
}
