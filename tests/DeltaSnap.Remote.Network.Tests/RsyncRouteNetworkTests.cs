using System.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Remote.Network.Tests.Support;
using DeltaSnap.Remote.Transports;
using DeltaSnap.Testing;

namespace DeltaSnap.Remote.Network.Tests;

/// <summary>
/// The rsync route between machines with the built tool on both sides: rsync's protocol inside the DeltaSnap session
/// (<c>volume.treeServer</c>, <c>rsync --server</c> on the server), dir: between two network namespaces over TLS (push,
/// pull, the link taken down in the middle of an rsync), unlike real backends over loopback TLS and ssh, and a hostile
/// client over ssh asking the real server for rsync options the route does not use.
/// </summary>
[NonParallelizable]
public class RsyncRouteNetworkTests
{
    private readonly string _id = "dsrs" + Guid.NewGuid().ToString("N")[..8];

    [Test]
    public async Task Refresh_dirPushThenPullBetweenNamespacesOverTls_treesAndSnapshotsFollow()
    {
        await using var hosts = TwoHosts.Create();
        var source = $"dir:{hosts.File("client")}/vol";
        var target = $"dir:{hosts.File("server")}/vol";
        var back = $"dir:{hosts.File("back")}/vol";
        Directory.CreateDirectory(hosts.File("server"));
        await CreateTreeAsync(source, "s1", seed: 1);
        var server = await hosts.ServeAsync(hosts.Authorization($"backup1 write dir:{hosts.Dir}/"));
        var remote = $"tls://{server.EndPoint}/{target}";

        var first = await hosts.ClientAsync(["refresh", source, remote, "--json", .. hosts.ClientTls()]);
        await ChangeTreeAsync(source, "s2", seed: 2);
        var second = await hosts.ClientAsync(["refresh", source, remote, "--json", .. hosts.ClientTls()]);
        var pull = await hosts.ClientAsync(["refresh", remote, back, "--json", .. hosts.ClientTls()]);

        Assert.That(first.ExitCode, Is.Zero, first + "\n--- server\n" + server.Log);
        Assert.That(second.ExitCode, Is.Zero, second + "\n--- server\n" + server.Log);
        Assert.That(pull.ExitCode, Is.Zero, pull + "\n--- server\n" + server.Log);
        Assert.That(first.Out, Does.Contain("\"route\":\"rsync\""));
        Assert.That(await LocalVolumes.TreeAsync(target), Is.EqualTo(await LocalVolumes.TreeAsync(source)));
        Assert.That(await LocalVolumes.TreeAsync(back), Is.EqualTo(await LocalVolumes.TreeAsync(source)));
        Assert.That(await LocalVolumes.SnapshotsAsync(target), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(await LocalVolumes.SnapshotsAsync(back), Is.EqualTo(new[] { "s1", "s2" }));
    }

    [Test]
    public async Task Refresh_linkDownMidRsync_failsTargetKeepsLastCompleteSnapshotNextRefreshSucceeds()
    {
        await using var hosts = TwoHosts.Create();
        var source = $"dir:{hosts.File("client")}/vol";
        var target = $"dir:{hosts.File("server")}/vol";
        Directory.CreateDirectory(hosts.File("server"));
        await CreateTreeAsync(source, "s1", seed: 3);
        var server = await hosts.ServeAsync(hosts.Authorization($"backup1 write dir:{hosts.Dir}/"));
        var remote = $"tls://{server.EndPoint}/{target}";
        var first = await hosts.ClientAsync(["refresh", source, remote, .. hosts.ClientTls()]);
        Assert.That(first.ExitCode, Is.Zero, first + "\n--- server\n" + server.Log);
        // s2 adds 96 MiB of incompressible data: about 8 s at 100 Mbit/s; the link goes down after a few.
        var volume = await LocalVolumes.Resolver().OpenVolumeAsync(source);
        await using (volume.Driver)
        {
            await File.WriteAllBytesAsync(Path.Combine(await volume.GetPathAsync(null), "big.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(96 << 20));
            await volume.CreateSnapshotAsync("s2");
        }
        hosts.Network.LimitRate("100mbit");

        using var client = CliProcess.Start(hosts.Network.ClientNamespace, ["refresh", source, remote, .. hosts.ClientTls()]);
        client.StandardInput.Close();
        var clientResult = CliProcess.WaitAsync(client, TimeSpan.FromMinutes(2));
        // Received aside (a dir: volume without reflinks): in .vol.deltasnap/staging-… beside the live tree.
        await WaitForFileAsync(hosts.File("server"), "*big.bin*", client);
        var cut = Stopwatch.StartNew();
        hosts.Network.SetLink(up: false);
        var failed = await clientResult;
        var failedAfter = cut.Elapsed;
        hosts.Network.SetLink(up: true);
        // Not just "failed": the server's log already holds a failed volume.open from the first refresh (the target did not
        // exist yet), and waiting for that let the checks below run before the server had noticed the lost session.
        Assert.That(await server.WaitForLogAsync("volume.receiveTree from backup1 failed"), Is.True, server.Log);

        Assert.That(failed.ExitCode, Is.Not.Zero, failed.ToString());
        Assert.That(failed.Error, Does.Match(@"^deltasnap: [^\n]+\n$"), failed.ToString());
        Assert.That(failedAfter, Is.LessThan(TimeSpan.FromSeconds(60)));
        TestContext.Out.WriteLine($"client failed {failedAfter.TotalSeconds:F1} s after the cut: {failed.Error.Trim()}");
        Assert.That(await LocalVolumes.SnapshotsAsync(target), Is.EqualTo(new[] { "s1" }), "the target's last complete snapshot, nothing half-made");
        // The request fails only after the staging directory is removed.
        Assert.That(Directory.EnumerateDirectories(Path.Combine(hosts.File("server"), ".vol.deltasnap"), "staging-*"), Is.Empty, "the server removed its staging directory");

        var second = await hosts.ClientAsync(["refresh", source, remote, .. hosts.ClientTls()]);
        Assert.That(second.ExitCode, Is.Zero, second + "\n--- server\n" + server.Log);
        Assert.That(await LocalVolumes.TreeAsync(target), Is.EqualTo(await LocalVolumes.TreeAsync(source)));
        Assert.That(await LocalVolumes.SnapshotsAsync(target), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That((await LocalVolumes.SnapshotsAsync(source)).Where(TemporarySnapshot.IsTemporary), Is.Empty);
    }

    [Test]
    public async Task Refresh_zfsToRemoteBtrfsOverTlsAndBackToDirOverSsh_unlikeBackendsFollowTheSource()
    {
        var pool = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_A", "A ZFS pool");
        var mount = BackendRequirement.RequireEnvironment("DELTASNAP_BTRFS_MOUNT_B", "A Btrfs mount");
        var dir = Directory.CreateTempSubdirectory("dsnap-rsnet-").FullName;
        var source = $"zfs:{pool}/{_id}";
        var middle = $"btrfs:{mount}/{_id}";
        var back = $"dir:{dir}/vol";
        var certificates = new TestCertificates(dir);
        var serverCertificate = certificates.Server("server");
        var clientCertificate = certificates.Client("backup1");
        await using var ssh = await SshServer.StartAsync();
        try
        {
            await CreateTreeAsync(source, "s1", seed: 5);
            File.WriteAllText(Path.Combine(dir, "authorize"), $"backup1 write btrfs:{mount}/{_id}\n");
            await using var server = await ServeProcess.StartAsync(null, "127.0.0.1:0", "--cert", serverCertificate.CertificateFile, "--key", serverCertificate.KeyFile,
                "--trust", certificates.CaFile, "--authorize", Path.Combine(dir, "authorize"));
            string[] tls = ["--tls-cert", clientCertificate.CertificateFile, "--tls-key", clientCertificate.KeyFile, "--tls-trust", certificates.CaFile];

            var push = await CliProcess.RunAsync(null, ["refresh", source, $"tls://{server.EndPoint}/{middle}", "--json", .. tls]);
            await ChangeTreeAsync(source, "s2", seed: 6);
            var again = await CliProcess.RunAsync(null, ["refresh", source, $"tls://{server.EndPoint}/{middle}", "--json", .. tls]);
            var pull = await CliProcess.RunAsync(null, ["refresh", $"ssh://127.0.0.1:{ssh.Port}/{middle}", back, "--json", .. ssh.ClientOptions]);

            Assert.That(push.ExitCode, Is.Zero, push + "\n--- server\n" + server.Log);
            Assert.That(again.ExitCode, Is.Zero, again + "\n--- server\n" + server.Log);
            Assert.That(pull.ExitCode, Is.Zero, pull.ToString());
            Assert.That(push.Out, Does.Contain("\"route\":\"rsync\""));
            Assert.That(pull.Out, Does.Contain("\"route\":\"rsync\""));
            Assert.That(await LocalVolumes.TreeAsync(middle), Is.EqualTo(await LocalVolumes.TreeAsync(source)));
            Assert.That(await LocalVolumes.TreeAsync(back), Is.EqualTo(await LocalVolumes.TreeAsync(source)));
            Assert.That(await LocalVolumes.SnapshotsAsync(middle), Is.EqualTo(new[] { "s1", "s2" }));
            Assert.That(await LocalVolumes.SnapshotsAsync(back), Is.EqualTo(new[] { "s1", "s2" }));
        }
        finally
        {
            await LocalVolumes.DeleteAsync(middle);
            await LocalVolumes.DeleteAsync(source);
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase("--server", "--rsync-path=/bin/sh", "-logDtpre.iLsfxCIvu", ".", "tree/")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", "--files-from=/etc/shadow", ".", "tree/")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", ".", "/etc/")]
    [TestCase("--server", "-slogDtpre.iLsfxCIvu")]
    public async Task TreeServer_hostileClientOverSsh_isRefusedByTheRealServer(params string[] arguments)
    {
        var dir = Directory.CreateTempSubdirectory("dsnap-rshostile-").FullName;
        await using var ssh = await SshServer.StartAsync();
        try
        {
            await CreateTreeAsync($"dir:{dir}/vol", "s1", seed: 7);
            var before = await LocalVolumes.TreeAsync($"dir:{dir}/vol");
            var resolver = new VolumeResolver().AddRemote(new RemoteTransportOptions
            {
                Ssh = new SshTransportOptions
                {
                    IdentityFile = ssh.ClientKey,
                    Options = ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR", "IdentitiesOnly=yes"],
                    RemoteCommand = [ssh.Wrapper, "serve", "--stdio"],
                },
            });
            var volume = await resolver.OpenVolumeAsync($"ssh://127.0.0.1:{ssh.Port}/dir:{dir}/vol");

            var error = Assert.ThrowsAsync<SessionException>(() => volume.RunTreeServerAsync(null, arguments,
                (input, ct) => input.WriteAsync(new byte[16], ct).AsTask(), (output, ct) => output.CopyToAsync(Stream.Null, ct)));

            Assert.That(error!.Reason, Is.EqualTo(SessionErrorReason.Unauthorized));
            Assert.That(error.Message, Does.Contain("refused, nothing ran"));
            Assert.That(await LocalVolumes.TreeAsync($"dir:{dir}/vol"), Is.EqualTo(before));
            await volume.Driver.DisposeAsync();
            foreach (var backend in resolver.Backends.OfType<IAsyncDisposable>())
            {
                await backend.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task WaitForFileAsync(string root, string pattern, Process client)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline && !client.HasExited)
        {
            if (Directory.Exists(root) && Directory.EnumerateFiles(root, pattern, new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = true })
                .Any(f => new FileInfo(f).Length > 4 << 20))
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail(client.HasExited ? "The refresh ended before the link could be cut." : "rsync never began the big file on the server.");
    }

    private static Task CreateTreeAsync(string address, string snapshot, int seed) =>
        LocalVolumes.CreateFilesystemAsync(address, snapshot, root => WriteFilesAsync(root, seed));

    private static Task ChangeTreeAsync(string address, string snapshot, int seed) =>
        LocalVolumes.ChangeFilesystemAsync(address, snapshot, root =>
        {
            File.Delete(Directory.EnumerateFiles(root, "*.bin").Order(StringComparer.Ordinal).First());
            return WriteFilesAsync(root, seed);
        });

    private static async Task WriteFilesAsync(string root, int seed)
    {
        var random = new Random(seed);
        Directory.CreateDirectory(Path.Combine(root, $"d{seed}"));
        for (var i = 0; i < 8; i++)
        {
            var data = new byte[random.Next(1, 256 << 10)];
            random.NextBytes(data);
            await File.WriteAllBytesAsync(Path.Combine(root, i % 2 == 0 ? $"d{seed}" : "", $"file{seed}-{i}.bin"), data);
        }
        File.CreateSymbolicLink(Path.Combine(root, $"link{seed}"), $"d{seed}/file{seed}-0.bin");
    }
}
