using System.CommandLine;
using System.Globalization;
using System.Net;
using DeltaSnap.Cli.Logging;
using DeltaSnap.Remote;
using DeltaSnap.Remote.Transports;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// <c>deltasnap serve</c>: serve this machine's volumes to remote refreshes, over mutual TLS (<c>--listen</c>) or on
/// standard input and output for an ssh login (<c>--stdio</c>). The server's resolver has the local backends only: a
/// client can never make it connect onwards.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var listen = new Option<string?>("--listen") { Description = "Listen for mutual-TLS sessions on ADDRESS:PORT (0.0.0.0:PORT for all IPv4 addresses; port 0 picks a free one).", HelpName = "ADDRESS:PORT" };
        var stdio = new Option<bool>("--stdio") { Description = "Serve one session on standard input and output (the remote command of ssh:// addresses); logs go to standard error." };
        var cert = new Option<string?>("--cert") { Description = "The server's certificate (PEM; certificates after the first are its chain).", HelpName = "FILE" };
        var key = new Option<string?>("--key") { Description = "The server's private key (PEM, unencrypted).", HelpName = "FILE" };
        var trust = new Option<string[]>("--trust")
        {
            Description = "Client certificates to trust: a SHA-256 fingerprint, or a PEM file (its CA certificates trust what they issue, other certificates are pinned). Repeatable.",
            HelpName = "FILE|SHA256",
            AllowMultipleArgumentsPerToken = true,
        };
        var authorize = new Option<string?>("--authorize")
        {
            Description = "The authorisation file: lines 'PEER read|write PREFIX'. Without it, --listen refuses every volume to every peer (default deny) and --stdio allows what the ssh account can reach.",
            HelpName = "FILE",
        };
        var peerName = new Option<string?>("--peer-name") { Description = "With --stdio: the name the peer has in the authorisation file (default 'stdio'; set it per key in authorized_keys).", HelpName = "NAME" };
        var maxSessions = new Option<int>("--max-sessions") { Description = "With --listen: sessions served at once (default 8); further connections are closed at once.", DefaultValueFactory = _ => 8 };
        var bandwidth = new Option<string?>("--bwlimit") { Description = "Limit the data this server sends, in bytes per second (K, M, G suffixes; shared by all sessions).", HelpName = "RATE" };
        var zfsBaseProtection = CommonOptions.ZfsBaseProtection();
        var command = new Command("serve", "Serve this machine's volumes to remote refreshes (tls:// and ssh:// addresses).")
        {
            listen, stdio, cert, key, trust, authorize, peerName, maxSessions, bandwidth, zfsBaseProtection,
        };
        CommandRunner.SetHandler(command, async (parseResult, output, cancellationToken) =>
        {
            var listenAt = parseResult.GetValue(listen);
            var useStdio = parseResult.GetValue(stdio);
            if ((listenAt is null) == !useStdio)
            {
                throw new UsageException("Give exactly one of --listen ADDRESS:PORT and --stdio.");
            }
            var rules = parseResult.GetValue(authorize) is { } file ? PeerAuthorization.Load(file) : null;
            var limit = RemoteOptions.ParseRate(parseResult.GetValue(bandwidth));
            if (parseResult.GetResult(LogLevelOption.Name) is null)
            {
                // A TLS server says who it accepted and refused (standard error). Under ssh, standard error reaches the
                // client, which puts it into its error message when the session fails: warnings and errors only.
                context.Logging.MinimumLevel = useStdio ? LogLevel.Warning : LogLevel.Information;
            }
            var resolver = CliContext.CreateLocalResolver(context.Logging, context.AddBackends,
                new Zfs.ZfsDriverOptions { BaseProtection = parseResult.GetValue(zfsBaseProtection) });
            if (useStdio)
            {
                if (parseResult.GetValue(cert) is not null || parseResult.GetValue(trust) is { Length: > 0 } || parseResult.GetValue(key) is not null)
                {
                    throw new UsageException("--cert, --key and --trust go with --listen; --stdio relies on ssh's authentication.");
                }
                var serverOptions = new VolumeServerOptions
                {
                    Authorize = rules is null ? null : rules.IsAllowed,
                    BandwidthLimit = limit,
                    TreeSynchronizer = new DeltaSnap.Rsync.RsyncTreeSynchronizer(loggerFactory: context.Logging),
                };
                var server = new VolumeServer(resolver, serverOptions, context.Logging);
                var connection = StdioTransport.OpenStandardStreams();
                await using (connection.ConfigureAwait(false))
                {
                    try
                    {
                        await server.ServeAsync(connection, new PeerIdentity(parseResult.GetValue(peerName) ?? "stdio"), cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        return ExitCodes.Success;
                    }
                }
                return ExitCodes.Success;
            }

            if (parseResult.GetValue(cert) is not { } certFile || parseResult.GetValue(key) is not { } keyFile)
            {
                throw new UsageException("--listen needs the server's --cert FILE and --key FILE.");
            }
            if (parseResult.GetValue(trust) is not { Length: > 0 } trusted)
            {
                throw new UsageException("--listen needs --trust: the client certificates (fingerprints) or certificate authorities (PEM files) to accept.");
            }
            var endpoint = ParseEndPoint(listenAt!);
            var (certificate, chain) = TlsFiles.LoadCertificate(certFile, keyFile);
            var (pinned, authorities) = TlsFiles.LoadTrust(trusted);
            if (rules is null)
            {
                await output.Error.WriteLineAsync($"{CommandRunner.ToolName}: warning: no --authorize file: every client is refused every volume (default deny).").ConfigureAwait(false);
            }
            var options = new VolumeServerOptions
            {
                // Default deny: a trusted certificate proves who the peer is, not what it may touch.
                Authorize = rules is null ? static (_, _, _) => false : rules.IsAllowed,
                BandwidthLimit = limit,
                // The rsync route's server half: it runs only the command lines the route itself produces.
                TreeSynchronizer = new DeltaSnap.Rsync.RsyncTreeSynchronizer(loggerFactory: context.Logging),
            };
            var listenerOptions = new TlsVolumeListenerOptions
            {
                ServerCertificate = certificate,
                ServerCertificateChain = chain,
                TrustedClientSha256 = pinned,
                TrustedAuthorities = authorities,
                MaxConcurrentSessions = parseResult.GetValue(maxSessions),
            };
            TlsVolumeListener listener;
            try
            {
                listener = new TlsVolumeListener(endpoint, new VolumeServer(resolver, options, context.Logging), listenerOptions, context.Logging);
            }
            catch (ArgumentException e)
            {
                throw UsageException.FromArgument(e);
            }
            await using (listener.ConfigureAwait(false))
            {
                try
                {
                    listener.Start();
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    throw new IOException($"Cannot listen on {endpoint}: {e.Message}", e);
                }
                await output.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"listening on {listener.LocalEndPoint} (certificate sha256 {CertificateFingerprint.Sha256(certificate)}; {(rules is null ? "no authorisation rules" : rules.Count + " authorisation rules")})")).ConfigureAwait(false);
                await output.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await listener.RunAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                }
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static IPEndPoint ParseEndPoint(string text)
    {
        if (IPEndPoint.TryParse(text, out var endpoint) && text.Contains(':', StringComparison.Ordinal))
        {
            return endpoint;
        }
        throw new UsageException($"'{text}' is not ADDRESS:PORT (an IP address and a port: 0.0.0.0:7480, [::]:7480, 10.0.0.1:7480).");
    }
}
