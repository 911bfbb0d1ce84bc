using DeltaSnap.Remote.Network.Tests.Support;

namespace DeltaSnap.Remote.Network.Tests;

/// <summary>lvol to lvol between two network namespaces over mutual TLS: the built tool on both sides.</summary>
[NonParallelizable]
public class TlsRefreshTests
{
    private const long Size = 64 << 20;

    private TwoHosts _hosts = null!;

    [SetUp]
    public void SetUp() => _hosts = TwoHosts.Create();

    [TearDown]
    public async Task TearDown() => await _hosts.DisposeAsync();

    [Test]
    public async Task Refresh_pushOverTls_targetEqualsSourceAndSecondRefreshIsIncremental()
    {
        var source = $"lvol:{_hosts.File("client.lvs")}#vm";
        var target = $"lvol:{_hosts.File("server.lvs")}#vm";
        await LocalVolumes.CreateBlockAsync(source, Size, LocalVolumes.Scattered(Size, 64, 64 << 10, 1), seed: 1, snapshot: "s1");
        var server = await _hosts.ServeAsync(_hosts.Authorization($"backup1 write lvol:{_hosts.Dir}/"));
        var remote = $"tls://{server.EndPoint}/{target}";

        var first = await _hosts.ClientAsync(["refresh", source, remote, "--json", .. _hosts.ClientTls()]);
        await LocalVolumes.ChangeAsync(source, LocalVolumes.Scattered(Size, 4, 64 << 10, 2), seed: 2, snapshot: "s2");
        var second = await _hosts.ClientAsync(["refresh", source, remote, "--json", .. _hosts.ClientTls()]);

        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(await LocalVolumes.HashAsync(target), Is.EqualTo(await LocalVolumes.HashAsync(source)));
        Assert.That(await LocalVolumes.SnapshotsAsync(target), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(Json.Long(second.Out, "bytesSent"), Is.LessThan(Json.Long(first.Out, "bytesSent") / 4), "the second refresh sends what changed");
        Assert.That(server.Log, Does.Contain("as backup1"));
    }

    [Test]
    public async Task Refresh_pullOverTls_localTargetEqualsRemoteSource()
    {
        var source = $"lvol:{_hosts.File("server.lvs")}#vm";
        var target = $"lvol:{_hosts.File("client.lvs")}#copy";
        await LocalVolumes.CreateBlockAsync(source, Size, LocalVolumes.Scattered(Size, 64, 64 << 10, 3), seed: 3, snapshot: "s1");
        // Pulling takes a temporary snapshot of the source's live state: the source needs write access.
        var server = await _hosts.ServeAsync(_hosts.Authorization($"backup1 write lvol:{_hosts.Dir}/"));

        var result = await _hosts.ClientAsync(["refresh", $"tls://{server.EndPoint}/{source}", target, .. _hosts.ClientTls()]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(await LocalVolumes.HashAsync(target), Is.EqualTo(await LocalVolumes.HashAsync(source)));
        Assert.That(await LocalVolumes.SnapshotsAsync(target), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task SnapshotAndPlan_remoteVolumeOverTls_actOnTheServersVolume()
    {
        var source = $"lvol:{_hosts.File("client.lvs")}#vm";
        var target = $"lvol:{_hosts.File("server.lvs")}#vm";
        await LocalVolumes.CreateBlockAsync(source, 8 << 20, [(0, 1 << 20)], seed: 5, snapshot: "s1");
        var server = await _hosts.ServeAsync(_hosts.Authorization($"backup1 write lvol:{_hosts.Dir}/"));
        var remote = $"tls://{server.EndPoint}/{target}";
        var refreshed = await _hosts.ClientAsync(["refresh", source, remote, .. _hosts.ClientTls()]);
        Assert.That(refreshed.ExitCode, Is.Zero, refreshed.ToString());

        var created = await _hosts.ClientAsync(["snapshot", "create", remote, "extra", .. _hosts.ClientTls()]);
        var listed = await _hosts.ClientAsync(["snapshot", "list", remote, "--json", .. _hosts.ClientTls()]);
        var deleted = await _hosts.ClientAsync(["snapshot", "delete", remote, "extra", .. _hosts.ClientTls()]);
        await LocalVolumes.ChangeAsync(source, [(1 << 20, 4096)], seed: 6, snapshot: "s2");
        var planned = await _hosts.ClientAsync(["plan", source, remote, "--json", .. _hosts.ClientTls()]);
        var withoutTls = await _hosts.ClientAsync("snapshot", "list", remote);

        Assert.That(created.ExitCode, Is.Zero, created.ToString());
        Assert.That(created.Out, Does.StartWith($"created tls://{server.EndPoint}/{target}@extra"));
        Assert.That(listed.ExitCode, Is.Zero, listed.ToString());
        Assert.That(listed.Out, Does.Contain("\"name\": \"s1\"").Or.Contain("\"name\":\"s1\""), listed.Out);
        Assert.That(listed.Out, Does.Contain("extra"), listed.Out);
        Assert.That(deleted.ExitCode, Is.Zero, deleted.ToString());
        // The plan is a dry run: it reads the remote target's lineage and changes nothing there.
        Assert.That(planned.ExitCode, Is.Zero, planned.ToString());
        Assert.That(planned.Out, Does.Contain("incremental").And.Contain("s2"), planned.Out);
        Assert.That(await LocalVolumes.SnapshotsAsync(target), Is.EqualTo(new[] { "s1" }));
        Assert.That(withoutTls.ExitCode, Is.EqualTo(2), "a tls:// volume without --tls-* options is a usage error");
        Assert.That(withoutTls.Error, Does.Contain("--tls-cert"), withoutTls.ToString());
    }

    [Test]
    public async Task Refresh_pinnedSelfSignedClientAndServer_succeeds()
    {
        var source = $"lvol:{_hosts.File("client.lvs")}#vm";
        var target = $"lvol:{_hosts.File("server.lvs")}#vm";
        await LocalVolumes.CreateBlockAsync(source, 8 << 20, [(0, 1 << 20)], seed: 4, snapshot: "s1");
        var serverCert = _hosts.Certificates.SelfSigned("server-self");
        var clientCert = _hosts.Certificates.SelfSigned("client-self");
        var server = await ServeProcess.StartAsync(_hosts.Network.ServerNamespace, $"{_hosts.Network.ServerAddress}:0",
            "--cert", serverCert.CertificateFile, "--key", serverCert.KeyFile, "--trust", clientCert.Sha256,
            "--authorize", _hosts.Authorization($"{clientCert.Sha256} write lvol:"));
        await using var _ = server;

        var result = await _hosts.ClientAsync("refresh", source, $"tls://{server.EndPoint}/{target}",
            "--tls-cert", clientCert.CertificateFile, "--tls-key", clientCert.KeyFile, "--tls-trust", serverCert.Sha256);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(await LocalVolumes.HashAsync(target), Is.EqualTo(await LocalVolumes.HashAsync(source)));
    }
}
