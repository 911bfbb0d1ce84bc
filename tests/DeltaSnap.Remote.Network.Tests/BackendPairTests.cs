using DeltaSnap.Drivers;
using DeltaSnap.Remote.Network.Tests.Support;
using DeltaSnap.Testing;

namespace DeltaSnap.Remote.Network.Tests;

/// <summary>
/// The other backends across a session. Their pools, file systems and cluster run in the root network namespace (Ceph
/// binds 127.0.0.1; zfs-fuse and the Btrfs mounts are this machine's), so these run over loopback TLS (zfs, rbd) and
/// loopback ssh (btrfs) in the root namespace: the network path is the same code, only the link is loopback.
/// </summary>
[NonParallelizable]
public class BackendPairTests
{
    private string _dir = null!;
    private TestCertificates _certificates = null!;
    private PemCertificate _server = null!;
    private PemCertificate _client = null!;
    private readonly string _id = "dsnet" + Guid.NewGuid().ToString("N")[..8];

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("dsnap-netpair-").FullName;
        _certificates = new TestCertificates(_dir);
        _server = _certificates.Server("server");
        _client = _certificates.Client("backup1");
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task Refresh_zfsToZfsOverLoopbackTls_targetTreeEqualsSource()
    {
        var poolA = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_A", "A ZFS pool");
        var poolB = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_B", "A second ZFS pool");
        var source = $"zfs:{poolA}/{_id}";
        var target = $"zfs:{poolB}/{_id}";
        try
        {
            await CreateTreeAsync(source, "s1", 1);
            await using var server = await ServeAsync($"backup1 write zfs:{poolB}/{_id}");

            var first = await CliProcess.RunAsync(null, ["refresh", source, $"tls://{server.EndPoint}/{target}", .. ClientTls()]);
            await ChangeTreeAsync(source, "s2", 2);
            var second = await CliProcess.RunAsync(null, ["refresh", source, $"tls://{server.EndPoint}/{target}", .. ClientTls()]);

            Assert.That(first.ExitCode, Is.Zero, first + "\n--- server\n" + server.Log);
            Assert.That(second.ExitCode, Is.Zero, second + "\n--- server\n" + server.Log);
            Assert.That(await LocalVolumes.TreeAsync(target), Is.EqualTo(await LocalVolumes.TreeAsync(source)));
            Assert.That(await SnapshotsAsync(target), Is.EqualTo(new[] { "s1", "s2" }));
        }
        finally
        {
            await LocalVolumes.DeleteAsync(source);
            await LocalVolumes.DeleteAsync(target);
        }
    }

    [Test]
    public async Task Refresh_btrfsToBtrfsOverSsh_targetTreeEqualsSource()
    {
        var mountA = BackendRequirement.RequireEnvironment("DELTASNAP_BTRFS_MOUNT_A", "A Btrfs mount");
        var mountB = BackendRequirement.RequireEnvironment("DELTASNAP_BTRFS_MOUNT_B", "A second Btrfs mount");
        var source = $"btrfs:{mountA}/{_id}";
        var target = $"btrfs:{mountB}/{_id}";
        await using var ssh = await SshServer.StartAsync();
        try
        {
            await CreateTreeAsync(source, "s1", 3);
            var first = await CliProcess.RunAsync(null, ["refresh", source, $"ssh://127.0.0.1:{ssh.Port}/{target}", .. ssh.ClientOptions]);
            await ChangeTreeAsync(source, "s2", 4);
            var second = await CliProcess.RunAsync(null, ["refresh", source, $"ssh://127.0.0.1:{ssh.Port}/{target}", .. ssh.ClientOptions]);

            Assert.That(first.ExitCode, Is.Zero, first.ToString());
            Assert.That(second.ExitCode, Is.Zero, second.ToString());
            Assert.That(await LocalVolumes.TreeAsync(target), Is.EqualTo(await LocalVolumes.TreeAsync(source)));
            Assert.That(await SnapshotsAsync(target), Is.EqualTo(new[] { "s1", "s2" }));
        }
        finally
        {
            await LocalVolumes.DeleteAsync(target);
            await LocalVolumes.DeleteAsync(source);
        }
    }

    [Test]
    public async Task Refresh_lvolToRbdAndBackOverLoopbackTls_checksumRouteCopiesEqualTheSource()
    {
        var pool = BackendRequirement.RequireEnvironment("DELTASNAP_CEPH_POOL_A", "A Ceph RBD pool");
        BackendRequirement.RequireEnvironment("CEPH_CONF", "A Ceph cluster");
        var source = $"lvol:{_dir}/a.lvs#vm";
        var rbd = $"rbd:{pool}/{_id}";
        var back = $"lvol:{_dir}/b.lvs#vm";
        const long size = 32 << 20;
        try
        {
            await LocalVolumes.CreateBlockAsync(source, size, LocalVolumes.Scattered(size, 32, 64 << 10, 8), seed: 8, snapshot: "s1");
            await using var server = await ServeAsync($"backup1 write rbd:{pool}/{_id}");

            var push = await CliProcess.RunAsync(null, ["refresh", source, $"tls://{server.EndPoint}/{rbd}", "--json", .. ClientTls()]);
            var pull = await CliProcess.RunAsync(null, ["refresh", $"tls://{server.EndPoint}/{rbd}", back, "--json", .. ClientTls()]);

            Assert.That(push.ExitCode, Is.Zero, push + "\n--- server\n" + server.Log);
            Assert.That(pull.ExitCode, Is.Zero, pull + "\n--- server\n" + server.Log);
            Assert.That(push.Out, Does.Contain("\"route\":\"checksum\""));
            var expected = await LocalVolumes.HashAsync(source);
            Assert.That(await LocalVolumes.HashAsync(rbd), Is.EqualTo(expected));
            Assert.That(await LocalVolumes.HashAsync(back), Is.EqualTo(expected));
        }
        finally
        {
            await LocalVolumes.DeleteAsync(rbd);
        }
    }

    private string[] ClientTls() => ["--tls-cert", _client.CertificateFile, "--tls-key", _client.KeyFile, "--tls-trust", _certificates.CaFile];

    private Task<ServeProcess> ServeAsync(string rule)
    {
        var authorization = Path.Combine(_dir, "authorize");
        File.WriteAllText(authorization, rule + "\n");
        return ServeProcess.StartAsync(null, "127.0.0.1:0", "--cert", _server.CertificateFile, "--key", _server.KeyFile, "--trust", _certificates.CaFile, "--authorize", authorization);
    }

    private static Task CreateTreeAsync(string address, string snapshot, int seed) =>
        LocalVolumes.CreateFilesystemAsync(address, snapshot, root => WriteFilesAsync(root, seed));

    private static Task ChangeTreeAsync(string address, string snapshot, int seed) =>
        LocalVolumes.ChangeFilesystemAsync(address, snapshot, root => WriteFilesAsync(root, seed));

    private static async Task WriteFilesAsync(string root, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < 8; i++)
        {
            var data = new byte[random.Next(1, 256 << 10)];
            random.NextBytes(data);
            await File.WriteAllBytesAsync(Path.Combine(root, $"file{seed}-{i}.bin"), data);
        }
    }

    private static async Task<string[]> SnapshotsAsync(string address) => await LocalVolumes.SnapshotsAsync(address);
}
