using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DeltaSnap.Testing;

namespace DeltaSnap.Remote.Network.Tests.Support;

/// <summary>
/// An <c>sshd</c> in the foreground on a loopback port, with a throw-away host key and an <c>authorized_keys</c> holding
/// a throw-away client key; a wrapper script runs the built tool (<c>deltasnap</c> on the far side).
/// </summary>
internal sealed class SshServer : IAsyncDisposable
{
    private readonly Process _process;

    private SshServer(Process process, string dir, int port)
    {
        _process = process;
        Dir = dir;
        Port = port;
    }

    public string Dir { get; }

    public int Port { get; }

    /// <summary>The client's private key.</summary>
    public string ClientKey => Path.Combine(Dir, "client_key");

    /// <summary>The wrapper that runs the built tool: the remote command is <c>WRAPPER serve --stdio</c>.</summary>
    public string Wrapper => Path.Combine(Dir, "deltasnap");

    /// <summary>The tool's options for ssh:// volumes on this server.</summary>
    public string[] ClientOptions =>
    [
        "--ssh-option", "StrictHostKeyChecking=no", "--ssh-option", "UserKnownHostsFile=/dev/null", "--ssh-option", "LogLevel=ERROR",
        "--ssh-option", $"IdentityFile={ClientKey}", "--ssh-option", "IdentitiesOnly=yes",
        "--ssh-command", $"{Wrapper} serve --stdio",
    ];

    public static async Task<SshServer> StartAsync()
    {
        var sshd = BackendRequirement.FindProgram("sshd");
        BackendRequirement.Require(sshd is not null && BackendRequirement.FindProgram("ssh") is not null, "The programs `sshd` and `ssh` (Debian packages openssh-server, openssh-client)");
        BackendRequirement.Require(Mount.IsRoot(), "Root (sshd)");
        var dir = Directory.CreateTempSubdirectory("dsnap-ssh-").FullName;
        BackendRequirement.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(dir, "host_key"));
        BackendRequirement.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(dir, "client_key"));
        File.Copy(Path.Combine(dir, "client_key.pub"), Path.Combine(dir, "authorized_keys"));
        await File.WriteAllTextAsync(Path.Combine(dir, "deltasnap"),
            $"#!/bin/sh\nexec '{CliProcess.DotnetHost}' exec '{CliProcess.ToolAssembly}' \"$@\"\n");
        BackendRequirement.Run("chmod", "700", Path.Combine(dir, "deltasnap"));
        Directory.CreateDirectory("/run/sshd");
        var port = FreePort();
        await File.WriteAllTextAsync(Path.Combine(dir, "sshd_config"), $"""
            Port {port}
            ListenAddress 127.0.0.1
            HostKey {dir}/host_key
            AuthorizedKeysFile {dir}/authorized_keys
            PidFile none
            StrictModes no
            UsePAM no
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PrintMotd no
            LogLevel ERROR

            """);
        var info = new ProcessStartInfo(sshd!) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-D", "-e", "-f", Path.Combine(dir, "sshd_config") })
        {
            info.ArgumentList.Add(a);
        }
        var process = Process.Start(info)!;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!CanConnect(port))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                var error = process.HasExited ? await process.StandardError.ReadToEndAsync() : "";
                process.Kill();
                Assert.Fail($"sshd did not start: {error}");
            }
            await Task.Delay(50);
        }
        return new SshServer(process, dir, port);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
        Directory.Delete(Dir, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool CanConnect(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
