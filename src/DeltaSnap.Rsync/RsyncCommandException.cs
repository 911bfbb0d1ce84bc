namespace DeltaSnap.Rsync;

/// <summary>A program this package ran (<c>rsync</c>, <c>cp</c>) failed: the command line, its exit code and what it wrote to standard error.</summary>
public class RsyncCommandException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public RsyncCommandException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public RsyncCommandException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public RsyncCommandException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a failed command.</summary>
    public RsyncCommandException(string message, string commandLine, int exitCode, string standardError, Exception? innerException = null)
        : base(message, innerException)
    {
        CommandLine = commandLine;
        ExitCode = exitCode;
        StandardError = standardError;
    }

    /// <summary>The command line (quoted for reading, never run through a shell).</summary>
    public string CommandLine { get; } = "";

    /// <summary>The exit code (-1 when the program could not be started; 24 is rsync's "some files vanished").</summary>
    public int ExitCode { get; }

    /// <summary>The last part of the program's standard error.</summary>
    public string StandardError { get; } = "";

    internal static RsyncCommandException From(ProgramResult result, string what) =>
        new($"{what} failed: `{result.CommandLine}` exited with {result.ExitCode}{Describe(result.ExitCode)}: {result.StandardError.Trim()}",
            result.CommandLine, result.ExitCode, result.StandardError);

    private static string Describe(int exitCode) => exitCode switch
    {
        23 => " (partial transfer: some files or attributes could not be copied)",
        24 => " (some source files vanished during the transfer; allow vanished files to accept an inconsistent copy)",
        > 128 => $" (ended by signal {exitCode - 128})",
        _ => "",
    };
}
