namespace DeltaSnap.Remote.Transports;

/// <summary>
/// How <see cref="SshTransport"/> starts <c>ssh</c>: always <c>-o BatchMode=yes</c> (no password prompt: a login
/// that needs one fails at once), <c>-T</c> and <c>-e none</c> (a clean 8-bit channel), a connect timeout and
/// keep-alives, then what is set here.
/// </summary>
public sealed record SshTransportOptions
{
    /// <summary>The remote command the default <see cref="RemoteCommand"/> runs: <c>deltasnap serve --stdio</c>.</summary>
    public static IReadOnlyList<string> DefaultRemoteCommand { get; } = ["deltasnap", "serve", "--stdio"];

    /// <summary>The ssh program: a name on the PATH or a full path (default <c>ssh</c>).</summary>
    public string Program { get; init; } = "ssh";

    /// <summary>The identity (private key) file (<c>-i</c>); null for ssh's own choice.</summary>
    public string? IdentityFile { get; init; }

    /// <summary>Further <c>-o</c> options, each <c>Name=Value</c> (<c>StrictHostKeyChecking=yes</c>, <c>UserKnownHostsFile=/etc/deltasnap/known_hosts</c>).</summary>
    public IReadOnlyList<string> Options { get; init; } = [];

    /// <summary>
    /// The command run on the remote host, as words (each quoted for the remote shell, which ssh always runs it with);
    /// default <see cref="DefaultRemoteCommand"/>.
    /// </summary>
    public IReadOnlyList<string> RemoteCommand { get; init; } = DefaultRemoteCommand;

    /// <summary>How long connecting may take (<c>-o ConnectTimeout</c>, whole seconds; default 10 s).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often ssh checks that the server is alive (<c>-o ServerAliveInterval</c>, whole seconds; default 5 s, dead after 3 unanswered).</summary>
    public TimeSpan ServerAliveInterval { get; init; } = TimeSpan.FromSeconds(5);

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(Program);
        if (Program.Any(char.IsControl) || Program[0] == '-')
        {
            throw new ArgumentException($"'{Program}' is not a program.", nameof(Program));
        }
        if (IdentityFile is not null && (IdentityFile.Length == 0 || IdentityFile.Any(char.IsControl)))
        {
            throw new ArgumentException("The identity file name is empty or holds control characters.", nameof(IdentityFile));
        }
        foreach (var option in Options)
        {
            var equals = option?.IndexOf('=', StringComparison.Ordinal) ?? -1;
            if (option is null || equals <= 0 || option[0] == '-' || !option.AsSpan(0, equals).ToString().All(char.IsAsciiLetterOrDigit) || option.Any(char.IsControl))
            {
                throw new ArgumentException($"'{option}' is not an ssh option: expected Name=Value (as after -o).", nameof(Options));
            }
        }
        if (RemoteCommand.Count == 0 || RemoteCommand.Any(w => string.IsNullOrEmpty(w) || w.Any(char.IsControl)))
        {
            throw new ArgumentException("The remote command is empty, or a word of it is empty or holds control characters.", nameof(RemoteCommand));
        }
        if (ConnectTimeout < TimeSpan.FromSeconds(1) || ServerAliveInterval < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException("The connect timeout and the keep-alive interval are whole seconds, at least 1.", nameof(ConnectTimeout));
        }
    }
}
