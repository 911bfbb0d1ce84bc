// Shared source: linked into each package that starts programs (see ExternalCommandRunner.cs for why).
namespace DeltaSnap.ExternalCommands;

/// <summary>What a finished command returned: its exit code, its output (when captured) and the tail of its standard error.</summary>
/// <param name="CommandLine">The command as it ran, for reading (not for a shell).</param>
/// <param name="ExitCode">The exit code.</param>
/// <param name="StandardOutput">Standard output as text (empty when it was streamed elsewhere).</param>
/// <param name="StandardError">The end of standard error, at most <see cref="ExternalCommandRunner.StandardErrorTailChars"/> characters.</param>
/// <param name="IsTransient">Whether the runner's policy calls this failure worth retrying (the backend said it was busy).</param>
internal readonly record struct ExternalCommandResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError, bool IsTransient)
{
    /// <summary>Whether the command exited with 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>Whether standard error holds <paramref name="text"/> (the runner keeps the C locale, so messages can be matched).</summary>
    public bool StandardErrorContains(string text) => StandardError.Contains(text, StringComparison.Ordinal);

    /// <summary>The exception for this result (whatever the exit code).</summary>
    public BackendCommandException ToException() => new(CommandLine, ExitCode, StandardError.Trim(), IsTransient);

    /// <summary>The exception for this result with a note added to its standard error.</summary>
    public BackendCommandException ToException(string note) =>
        new(CommandLine, ExitCode, StandardError.Trim() + (StandardError.Trim().Length == 0 ? "" : " ") + note, IsTransient);

    /// <summary>Returns this result when the command succeeded; throws <see cref="BackendCommandException"/> otherwise.</summary>
    public ExternalCommandResult ThrowIfFailed() => Succeeded ? this : throw ToException();
}
