namespace DeltaSnap;

/// <summary>
/// A program a backend runs (<c>zfs</c>, <c>zpool</c>, <c>btrfs</c>, <c>rsync</c>) failed, or could not be started:
/// carries the command line, its exit code and the tail of its standard error.
/// </summary>
public class BackendCommandException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public BackendCommandException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public BackendCommandException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public BackendCommandException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a command that exited with <paramref name="exitCode"/> (-1: it could not be started).</summary>
    /// <param name="commandLine">The command as it ran, each argument quoted where needed (for reading, not for a shell).</param>
    /// <param name="exitCode">The process's exit code; -1 when it could not be started.</param>
    /// <param name="standardError">The end of what the command wrote to standard error (bounded by the runner).</param>
    /// <param name="isTransient">Whether retrying the same command may succeed (the backend said it was busy).</param>
    /// <param name="innerException">The failure that caused it, if any.</param>
    public BackendCommandException(string commandLine, int exitCode, string standardError, bool isTransient = false, Exception? innerException = null)
        : base(FormatMessage(commandLine, exitCode, standardError), innerException)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(standardError);
        CommandLine = commandLine;
        ExitCode = exitCode;
        StandardError = standardError;
        _isTransient = isTransient;
    }

    private readonly bool _isTransient;

    /// <summary>The command line, for reading (each argument quoted where it holds spaces or quotes); empty when not known.</summary>
    public string CommandLine { get; } = "";

    /// <summary>The exit code; -1 when the command could not be started.</summary>
    public int ExitCode { get; }

    /// <summary>The end of the command's standard error (the runner keeps a bounded tail); empty when not known.</summary>
    public string StandardError { get; } = "";

    /// <summary>Whether retrying the same command may succeed (the backend said the object was busy).</summary>
    public override bool IsTransient => _isTransient;

    private static string FormatMessage(string commandLine, int exitCode, string standardError)
    {
        var text = standardError?.Trim() ?? "";
        if (text.Length == 0)
        {
            text = "(nothing on standard error)";
        }
        return exitCode == -1 ? $"Could not run `{commandLine}`: {text}" : $"`{commandLine}` failed with exit code {exitCode}: {text}";
    }
}
