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
