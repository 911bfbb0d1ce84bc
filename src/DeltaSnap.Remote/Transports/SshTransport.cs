using System.Diagnostics;
using System.Globalization;
using System.Text;
using DeltaSnap.ExternalCommands;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Remote.Transports;

/// <summary>
/// The ssh transport: starts <c>ssh</c> (an argument list, never a shell string on this side) running
/// <c>deltasnap serve --stdio</c> on the remote host, and gives its standard input and output as one duplex stream.
/// </summary>
public static class SshTransport
{
    /// <summary>Starts <c>ssh</c> to <paramref name="host"/>; the caller disposes the connection (which kills ssh if it still runs).</summary>
    /// <param name="host">The host (a name or an IP address; never starting with '-').</param>
    /// <param name="user">The remote user; null for ssh's default.</param>
    /// <param name="port">The port; null for ssh's default (22, or the configuration's).</param>
    /// <param name="options">The ssh options.</param>
    /// <param name="loggerFactory">Where to log; null for no logging.</param>
    /// <exception cref="ArgumentException">The host, user, port or options are not acceptable; nothing was started.</exception>
    /// <exception cref="PeerUnreachableException">ssh could not be started.</exception>
    public static SshStream Start(string host, string? user, int? port, SshTransportOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        PeerNames.ValidateHost(host);
        if (user is not null)
        {
            PeerNames.ValidateUser(user);
        }
        if (port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(port), port, "A port is from 1 to 65535.");
        }
        options.Validate();
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(typeof(SshTransport));
        var arguments = Arguments(host, user, port, options);
        var commandLine = new ExternalCommandRunner(options.Program, logger).Format(arguments);
        Log.SshStarting(logger, commandLine);
        var info = new ProcessStartInfo(options.Program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardErrorEncoding = Encoding.UTF8,
            CreateNoWindow = true,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["LC_ALL"] = "C";
        Process? process;
        try
        {
            process = Process.Start(info);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new PeerUnreachableException($"Cannot start {options.Program}: {e.Message}. Is the ssh client installed?", e);
        }
        if (process is null)
        {
            throw new PeerUnreachableException($"Cannot start {options.Program}.");
        }
        PipeCapacity.TryEnlarge(process.StandardInput.BaseStream);
        PipeCapacity.TryEnlarge(process.StandardOutput.BaseStream);
        var peer = (user is null ? "" : user + "@") + host + (port is { } p ? ":" + p.ToString(CultureInfo.InvariantCulture) : "");
        return new SshStream(process, peer, commandLine, logger);
    }

    /// <summary>The arguments ssh gets (for tests and messages).</summary>
    internal static IReadOnlyList<string> Arguments(string host, string? user, int? port, SshTransportOptions options)
    {
        var i = CultureInfo.InvariantCulture;
        var arguments = new List<string>
        {
            "-o", "BatchMode=yes",
            "-o", string.Create(i, $"ConnectTimeout={(int)options.ConnectTimeout.TotalSeconds}"),
            "-o", string.Create(i, $"ServerAliveInterval={(int)options.ServerAliveInterval.TotalSeconds}"),
            "-o", "ServerAliveCountMax=3",
            "-T", "-e", "none",
        };
        if (port is { } p)
        {
            arguments.AddRange(["-p", p.ToString(i)]);
        }
        if (user is not null)
        {
            arguments.AddRange(["-l", user]);
        }
        if (options.IdentityFile is not null)
        {
            arguments.AddRange(["-i", options.IdentityFile]);
        }
        foreach (var option in options.Options)
        {
            arguments.AddRange(["-o", option]);
        }
        arguments.Add("--");
        arguments.Add(host);
        arguments.AddRange(options.RemoteCommand.Select(QuoteForShell));
        return arguments;
    }

    /// <summary>A word as the remote POSIX shell reads it back unchanged: as it is when it holds only safe characters, else in single quotes.</summary>
    internal static string QuoteForShell(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or ':' or '=' or '@' or '%' or '+' or ',' or '-')
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
