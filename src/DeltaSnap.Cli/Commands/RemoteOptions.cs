using System.CommandLine;
using DeltaSnap.Remote;
using DeltaSnap.Remote.Transports;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// The options of a command that may reach remote volumes (<c>ssh://…</c>, <c>tls://…</c>): the TLS client certificate
/// and the servers to trust, compression, a bandwidth limit, and how ssh is run. Turned into
/// <see cref="RemoteTransportOptions"/> for the command's own resolver.
/// </summary>
internal sealed class RemoteOptions
{
    public Option<string?> TlsCert { get; } = new("--tls-cert") { Description = "For tls:// volumes: this client's certificate (PEM).", HelpName = "FILE" };

    public Option<string?> TlsKey { get; } = new("--tls-key") { Description = "For tls:// volumes: this client's private key (PEM, unencrypted).", HelpName = "FILE" };

    public Option<string[]> TlsTrust { get; } = new("--tls-trust")
    {
        Description = "For tls:// volumes: the servers to trust, as SHA-256 fingerprints or PEM files (CA certificates trust what they issue for the host named; others are pinned). Repeatable.",
        HelpName = "FILE|SHA256",
        AllowMultipleArgumentsPerToken = true,
    };

    public Option<string?> Compress { get; } = new("--compress") { Description = "Compress remote sessions' data: none, lz4 or zstd (default: what the server prefers of all three).", HelpName = "none|lz4|zstd" };

    public Option<string?> BandwidthLimit { get; } = new("--bwlimit") { Description = "Limit what a remote session sends to RATE bytes per second (K, M, G suffixes: 50M).", HelpName = "RATE" };

    public Option<string?> SshCommand { get; } = new("--ssh-command")
    {
        Description = "For ssh:// volumes: the command run on the remote host (default 'deltasnap serve --stdio'); split at spaces.",
        HelpName = "COMMAND",
    };

    public Option<string[]> SshOptions { get; } = new("--ssh-option")
    {
        Description = "For ssh:// volumes: an ssh option, as after -o (IdentityFile=~/.ssh/backup, StrictHostKeyChecking=yes). Repeatable.",
        HelpName = "NAME=VALUE",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(TlsCert);
        command.Options.Add(TlsKey);
        command.Options.Add(TlsTrust);
        command.Options.Add(Compress);
        command.Options.Add(BandwidthLimit);
        command.Options.Add(SshCommand);
        command.Options.Add(SshOptions);
    }

    /// <summary>
    /// Runs <paramref name="action"/> with the command's own context: its resolver's remote schemes carry this command
    /// line's TLS, ssh and session options, and disposing it afterwards ends the sessions (one per peer, shared by every
    /// volume of the command on that peer).
    /// </summary>
    public async Task<int> RunAsync(CliContext context, ParseResult parseResult, string[] addresses, Func<CliContext, Task<int>> action, Zfs.ZfsDriverOptions? zfs = null)
    {
        var remote = context.WithRemote(ToTransportOptions(parseResult, addresses), zfs);
        await using (remote.ConfigureAwait(false))
        {
            return await action(remote).ConfigureAwait(false);
        }
    }

    /// <summary>The transport options the command line gives; <paramref name="addresses"/> decide which TLS options are required.</summary>
    public RemoteTransportOptions ToTransportOptions(ParseResult parseResult, params string[] addresses)
    {
        var session = new RemoteSessionOptions();
        if (parseResult.GetValue(Compress) is { } compress)
        {
            SessionCompression mode = compress.ToLowerInvariant() switch
            {
                "none" => SessionCompression.None,
                "lz4" => SessionCompression.Lz4,
                "zstd" => SessionCompression.Zstd,
                _ => throw new UsageException($"Unknown compression '{compress}': use none, lz4 or zstd."),
            };
            session = session with { Compression = [mode] };
        }
        if (ParseRate(parseResult.GetValue(BandwidthLimit)) is { } limit)
        {
            session = session with { BandwidthLimit = limit };
        }

        var ssh = new SshTransportOptions { Options = parseResult.GetValue(SshOptions) ?? [] };
        if (parseResult.GetValue(SshCommand) is { } remoteCommand)
        {
            var words = remoteCommand.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0)
            {
                throw new UsageException("--ssh-command is empty.");
            }
            ssh = ssh with { RemoteCommand = words };
        }

        TlsTransportOptions? tls = null;
        var cert = parseResult.GetValue(TlsCert);
        var key = parseResult.GetValue(TlsKey);
        var trust = parseResult.GetValue(TlsTrust) ?? [];
        var needsTls = addresses.Any(a => a.StartsWith("tls:", StringComparison.OrdinalIgnoreCase));
        if (cert is not null || key is not null || trust.Length > 0 || needsTls)
        {
            if (cert is null || key is null || trust.Length == 0)
            {
                throw new UsageException("A tls:// volume needs --tls-cert FILE, --tls-key FILE and --tls-trust FILE|SHA256 (the server's certificate or its CA).");
            }
            var (certificate, chain) = TlsFiles.LoadCertificate(cert, key);
            var (pinned, authorities) = TlsFiles.LoadTrust(trust);
            tls = new TlsTransportOptions
            {
                ClientCertificate = certificate,
                ClientCertificateChain = chain,
                TrustedServerSha256 = pinned,
                TrustedAuthorities = authorities,
            };
        }
        return new RemoteTransportOptions { Session = session, Ssh = ssh, Tls = tls };
    }

    /// <summary>A rate in bytes per second (<c>50M</c>), or null when not given.</summary>
    public static long? ParseRate(string? text)
    {
        if (text is null)
        {
            return null;
        }
        if (!ByteSize.TryParse(text, out var rate) || rate <= 0)
        {
            throw new UsageException($"'{text}' is not a rate: bytes per second, or a number with a binary suffix K, M or G (50M).");
        }
        return rate;
    }
}
