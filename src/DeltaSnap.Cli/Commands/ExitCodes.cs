namespace DeltaSnap.Cli.Commands;

/// <summary>The process exit codes of <c>deltasnap</c> (documented in the README; scripts depend on them).</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>An operational failure: a file is missing or unreadable, a map is corrupt, inputs cannot be compared.</summary>
    public const int Failure = 1;

    /// <summary>A usage error: unknown command or option, missing or malformed argument.</summary>
    public const int Usage = 2;

    /// <summary>The command was cancelled (Ctrl+C, SIGTERM): 128 + SIGINT, as shells report it.</summary>
    public const int Cancelled = 130;
}
