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

    /// <summary>A refresh was refused: both volumes have snapshots but share none (<c>NoCommonBaseException</c>; <c>--allow-full-resend</c> overrides it).</summary>
    public const int NoCommonBase = 3;

    /// <summary>A refresh copied the data but the target's checksums did not match the source's afterwards (<c>VerificationFailedException</c>).</summary>
    public const int VerificationFailed = 4;

    /// <summary>A backend's command failed (<c>zfs</c>, <c>btrfs</c>, <c>rbd</c>, <c>rsync</c>: <c>BackendCommandException</c>).</summary>
    public const int BackendFailed = 5;

    /// <summary>A native stream did not fit the target: its base is not the target's, or the target changed meanwhile (<c>NativeStreamMismatchException</c>).</summary>
    public const int NativeStreamMismatch = 6;

    /// <summary>
    /// A remote peer was refused or refused us (<c>PeerRefusedException</c>: a TLS certificate not trusted, or none; an ssh
    /// login refused), or the server refused the volume (<c>SessionException</c> with reason <c>Unauthorized</c>).
    /// </summary>
    public const int PeerRefused = 7;

    /// <summary>Another refresh of the same target is running (<c>RefreshInProgressException</c>): try again later.</summary>
    public const int Busy = 8;

    /// <summary>The command was cancelled (Ctrl+C, SIGTERM): 128 + SIGINT, as shells report it.</summary>
    public const int Cancelled = 130;
}
