using DeltaSnap.Remote.Network.Tests.Support;

namespace DeltaSnap.Remote.Network.Tests;

/// <summary>Refresh through ssh:// against a real sshd on a loopback port running the built tool's <c>serve --stdio</c>.</summary>
[NonParallelizable]
public class SshRefreshTests
{
    private SshServer _ssh = null!;
    private string _dir = null!;

    [SetUp]
    public async Task SetUp()
    {
        _ssh = await SshServer.StartAsync();
        _dir = Directory.CreateTempSubdirectory("dsnap-sshvol-").FullName;
    }

    [TearDown]
    public async Task TearDown()
    {
        await _ssh.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task Refresh_pushAndPullOverSsh_copiesEqualTheSource()
    {
        var source = $"lvol:{_dir}/a.lvs#vm";
        var pushed = $"lvol:{_dir}/b.lvs#vm";
        var pulled = $"lvol:{_dir}/c.lvs#vm";
        await LocalVolumes.CreateBlockAsync(source, 32 << 20, LocalVolumes.Scattered(32 << 20, 32, 64 << 10, 5), seed: 5, snapshot: "s1");

        var push = await CliProcess.RunAsync(null, ["refresh", source, $"ssh://root@127.0.0.1:{_ssh.Port}/{pushed}", "--compress", "lz4", .. _ssh.ClientOptions]);
        var pull = await CliProcess.RunAsync(null, ["refresh", $"ssh://127.0.0.1:{_ssh.Port}/{source}", pulled, .. _ssh.ClientOptions]);

        Assert.That(push.ExitCode, Is.Zero, push.ToString());
        Assert.That(pull.ExitCode, Is.Zero, pull.ToString());
        var expected = await LocalVolumes.HashAsync(source);
        Assert.That(await LocalVolumes.HashAsync(pushed), Is.EqualTo(expected));
        Assert.That(await LocalVolumes.HashAsync(pulled), Is.EqualTo(expected));
        Assert.That(await LocalVolumes.SnapshotsAsync(pushed), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task Refresh_sshLoginRefused_exitsPeerRefusedWithWhatSshSaid()
    {
        var source = $"lvol:{_dir}/a.lvs#vm";
        await LocalVolumes.CreateBlockAsync(source, 4 << 20, [(0, 4096)], seed: 6, snapshot: "s1");
        var otherKey = Path.Combine(_dir, "other_key");
        DeltaSnap.Testing.BackendRequirement.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey);
        string[] options = [.. _ssh.ClientOptions.Select(o => o.StartsWith("IdentityFile=", StringComparison.Ordinal) ? "IdentityFile=" + otherKey : o)];

        var result = await CliProcess.RunAsync(null, ["refresh", source, $"ssh://127.0.0.1:{_ssh.Port}/lvol:{_dir}/b.lvs#vm", .. options]);

        Assert.That(result.ExitCode, Is.EqualTo(7), result.ToString());
        Assert.That(result.Error, Does.Match(@"^deltasnap: ssh to 127\.0\.0\.1:\d+ ended with exit code 255: [^\n]*Permission denied[^\n]*\n$"));
    }

    [Test]
    public async Task VolumeList_sshLoginRefused_exitsPeerRefusedWithWhatSshSaid()
    {
        var otherKey = Path.Combine(_dir, "other_key");
        DeltaSnap.Testing.BackendRequirement.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey);
        string[] options = [.. _ssh.ClientOptions.Select(o => o.StartsWith("IdentityFile=", StringComparison.Ordinal) ? "IdentityFile=" + otherKey : o)];

        var result = await CliProcess.RunAsync(null, ["volume", "list", $"ssh://127.0.0.1:{_ssh.Port}/lvol:{_dir}/b.lvs", .. options]);

        Assert.That(result.ExitCode, Is.EqualTo(7), result.ToString());
        Assert.That(result.Error, Does.Match(@"^deltasnap: ssh to 127\.0\.0\.1:\d+ ended with exit code 255: [^\n]*Permission denied[^\n]*\n$"));
        Assert.That(result.Out, Is.Empty);
    }

    [TestCase("ssh://-oProxyCommand=touch${IFS}/tmp/pwned/lvol:/x.lvs#vm")]
    [TestCase("ssh://bad host/lvol:/x.lvs#vm")]
    [TestCase("ssh://-l/lvol:/x.lvs#vm")]
    [TestCase("ssh://host\u0007/lvol:/x.lvs#vm")]
    public async Task Refresh_hostileHostName_isAUsageErrorAndStartsNoSsh(string target)
    {
        var source = $"lvol:{_dir}/a.lvs#vm";
        await LocalVolumes.CreateBlockAsync(source, 4 << 20, [(0, 4096)], seed: 7, snapshot: null);

        var result = await CliProcess.RunAsync(null, ["refresh", source, target, "--ssh-command", "/bin/false"]);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Error, Does.StartWith("deltasnap: "));
        Assert.That(File.Exists("/tmp/pwned"), Is.False);
    }
}
