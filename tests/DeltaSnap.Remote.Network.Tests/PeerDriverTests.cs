using DeltaSnap.Cli.Commands;
using DeltaSnap.Drivers;
using DeltaSnap.Remote.Network.Tests.Support;
using DeltaSnap.Remote.Transports;

namespace DeltaSnap.Remote.Network.Tests;

/// <summary>
/// The Remote package as a library, against the built tool's <c>deltasnap serve --listen</c> on loopback with mutual TLS
/// (and a real sshd for ssh://): the resolver opens the server's driver at <c>PEER/SCHEME:LOCATION</c>, the server
/// authorises each request, and a refused client certificate or ssh login is reported as
/// <see cref="PeerRefusedException"/> by the session itself — not as a lost connection.
/// </summary>
[NonParallelizable]
public class PeerDriverTests
{
    private string _dir = null!;
    private TestCertificates _certificates = null!;
    private ServeProcess? _server;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("dsnap-peerdriver-").FullName;
        _certificates = new TestCertificates(_dir);
    }

    [TearDown]
    public async Task TearDown()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task OpenDriver_peerAndServerLocation_listsCreatesAndDeletesOnTheServer()
    {
        var peer = await ServeAsync($"writer write lvol:{_dir}/");
        var store = Path.Combine(_dir, "a.lvs");
        var resolver = Resolver(_certificates.Client("writer"));
        try
        {
            // The peer's own driver (location PEER) takes volumes by their address on the server: creating one makes the store.
            await using var byAddress = await resolver.OpenDriverAsync("tls", peer);
            await (await byAddress.CreateVolumeAsync($"lvol:{store}#vm1", new VolumeCreateOptions { Size = 4 << 20 })).Driver.DisposeAsync();

            await using (var driver = await resolver.OpenDriverAsync("tls", $"{peer}/lvol:{store}"))
            {
                Assert.That(driver, Is.TypeOf<RemoteVolumeDriver>());
                Assert.That(driver.Scheme, Is.EqualTo("lvol"), "the server's driver");
                var vm2 = await driver.CreateVolumeAsync("vm2", new VolumeCreateOptions { Size = 4 << 20 });
                Assert.That(vm2.Driver, Is.SameAs(driver), "a volume of the driver's: disposing the driver releases it");

                Assert.That(await driver.ListVolumesAsync(), Is.EquivalentTo(new[] { "vm1", "vm2" }));
                await driver.DeleteVolumeAsync("vm2");
                Assert.That(await driver.ListVolumesAsync(), Is.EqualTo(new[] { "vm1" }));
            }

            await byAddress.DeleteVolumeAsync($"lvol:{store}#vm1");
        }
        finally
        {
            await DisposeAsync(resolver);
        }
        await using var local = await LocalVolumes.Resolver().OpenDriverAsync("lvol", store);
        Assert.That(await local.ListVolumesAsync(), Is.Empty, "created and deleted on the server");
    }

    [Test]
    public async Task OpenDriver_readOnlyPeer_listsButTheServerRefusesChanges()
    {
        var store = Path.Combine(_dir, "ro.lvs");
        await LocalVolumes.CreateBlockAsync($"lvol:{store}#vm", 4 << 20, [(0, 4096)], seed: 1, snapshot: null);
        var peer = await ServeAsync($"reader read lvol:{_dir}/");
        var resolver = Resolver(_certificates.Client("reader"));
        try
        {
            await using var driver = await resolver.OpenDriverAsync("tls", $"{peer}/lvol:{store}");

            Assert.That(await driver.ListVolumesAsync(), Is.EqualTo(new[] { "vm" }));
            Assert.That(async () => await driver.DeleteVolumeAsync("vm"),
                Throws.TypeOf<SessionException>().With.Property(nameof(SessionException.Reason)).EqualTo(SessionErrorReason.Unauthorized));
            Assert.That(async () => await driver.CreateVolumeAsync("new", new VolumeCreateOptions { Size = 4 << 20 }),
                Throws.TypeOf<SessionException>().With.Property(nameof(SessionException.Reason)).EqualTo(SessionErrorReason.Unauthorized));
            Assert.That(async () => await resolver.OpenDriverAsync("tls", $"{peer}/lvol:/var/tmp/not-shared.lvs"),
                Throws.TypeOf<SessionException>().With.Property(nameof(SessionException.Reason)).EqualTo(SessionErrorReason.Unauthorized));
        }
        finally
        {
            await DisposeAsync(resolver);
        }
        await using var local = await LocalVolumes.Resolver().OpenDriverAsync("lvol", store);
        Assert.That(await local.ListVolumesAsync(), Is.EqualTo(new[] { "vm" }), "nothing deleted or created");
    }

    [TestCase("127.0.0.1/lvol:/srv/a.lvs", "names no port")]
    [TestCase("127.0.0.1:7480/lvol", "SCHEME:LOCATION")]
    [TestCase("127.0.0.1:7480/lvol:", "SCHEME:LOCATION")]
    [TestCase("backup@127.0.0.1:7480/lvol:/srv/a.lvs", "not a user")]
    public void OpenDriver_malformedTlsLocation_isAnArgumentExceptionBeforeConnecting(string location, string expected) =>
        Assert.That(async () => await new VolumeResolver().AddRemote().OpenDriverAsync("tls", location),
            Throws.InstanceOf<ArgumentException>().With.Message.Contains(expected));

    [Test]
    public async Task Session_untrustedClientCertificate_handshakeThrowsPeerRefused()
    {
        var peer = await ServeAsync($"* write lvol:{_dir}/");
        var port = int.Parse(peer.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        await using var connection = await TlsTransport.ConnectAsync("127.0.0.1", port, TlsOptions(_certificates.SelfSigned("stranger")));

        Assert.That(async () => await RemoteSession.ConnectAsync(connection, new RemoteSessionOptions { PeerName = "tls://" + peer }),
            Throws.TypeOf<PeerRefusedException>().With.Message.Contains("certificate"));
    }

    [Test]
    public async Task Resolver_untrustedClientCertificate_driverAndVolumeThrowPeerRefused()
    {
        var peer = await ServeAsync($"* write lvol:{_dir}/");
        var resolver = Resolver(_certificates.SelfSigned("stranger"));
        try
        {
            Assert.That(async () => await resolver.OpenDriverAsync("tls", $"{peer}/lvol:{_dir}/a.lvs"),
                Throws.TypeOf<PeerRefusedException>().With.Message.Contains("certificate"));
            Assert.That(async () => await resolver.OpenVolumeAsync($"tls://{peer}/lvol:{_dir}/a.lvs#vm"),
                Throws.TypeOf<PeerRefusedException>().With.Message.Contains("certificate"));
        }
        finally
        {
            await DisposeAsync(resolver);
        }
        Assert.That(await _server!.WaitForLogAsync("Refused the client"), Is.True, _server.Log);
    }

    [Test]
    [Category("Ssh")]
    public async Task OpenDriver_ssh_listsCreatesAndDeletesOnTheServer()
    {
        await using var ssh = await SshServer.StartAsync();
        var store = Path.Combine(_dir, "over-ssh.lvs");
        var resolver = new VolumeResolver().AddRemote(SshOptions(ssh, ssh.ClientKey));
        try
        {
            await (await resolver.CreateVolumeAsync($"ssh://root@127.0.0.1:{ssh.Port}/lvol:{store}#vm1", new VolumeCreateOptions { Size = 4 << 20 })).Driver.DisposeAsync();
            await using var driver = await resolver.OpenDriverAsync("ssh", $"root@127.0.0.1:{ssh.Port}/lvol:{store}");
            var vm2 = await driver.CreateVolumeAsync("vm2", new VolumeCreateOptions { Size = 4 << 20 });
            Assert.That(vm2.Driver, Is.SameAs(driver), "a volume of the driver's: disposing the driver releases it");

            Assert.That(await driver.ListVolumesAsync(), Is.EquivalentTo(new[] { "vm1", "vm2" }));
            await driver.DeleteVolumeAsync("vm2");
            Assert.That(await driver.ListVolumesAsync(), Is.EqualTo(new[] { "vm1" }));
        }
        finally
        {
            await DisposeAsync(resolver);
        }
    }

    [Test]
    [Category("Ssh")]
    public async Task Session_sshLoginRefused_sessionAndResolverThrowPeerRefusedWithWhatSshSaid()
    {
        await using var ssh = await SshServer.StartAsync();
        var otherKey = Path.Combine(_dir, "other_key");
        DeltaSnap.Testing.BackendRequirement.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey);
        var options = SshOptions(ssh, otherKey);

        await using (var connection = SshTransport.Start("127.0.0.1", null, ssh.Port, options.Ssh))
        {
            Assert.That(async () => await RemoteSession.ConnectAsync(connection),
                Throws.TypeOf<PeerRefusedException>().With.Message.Contains("Permission denied"));
        }
        var resolver = new VolumeResolver().AddRemote(options);
        try
        {
            Assert.That(async () => await resolver.OpenDriverAsync("ssh", $"127.0.0.1:{ssh.Port}/lvol:{_dir}/a.lvs"),
                Throws.TypeOf<PeerRefusedException>().With.Message.Contains("Permission denied"));
        }
        finally
        {
            await DisposeAsync(resolver);
        }
    }

    /// <summary>Starts <c>deltasnap serve --listen 127.0.0.1:0</c> trusting the CA with these rules; its <c>host:port</c>.</summary>
    private async Task<string> ServeAsync(params string[] rules)
    {
        var server = _certificates.Server("server");
        var authorization = Path.Combine(_dir, "authorize");
        await File.WriteAllLinesAsync(authorization, rules);
        _server = await ServeProcess.StartAsync(null, "127.0.0.1:0",
            "--cert", server.CertificateFile, "--key", server.KeyFile, "--trust", _certificates.CaFile, "--authorize", authorization);
        return _server.EndPoint;
    }

    private VolumeResolver Resolver(PemCertificate client) =>
        new VolumeResolver().AddRemote(new RemoteTransportOptions { Tls = TlsOptions(client) });

    /// <summary>The client's TLS options as the tool makes them from PEM files: its certificate, the servers the CA issued trusted.</summary>
    private TlsTransportOptions TlsOptions(PemCertificate client)
    {
        var (certificate, chain) = TlsFiles.LoadCertificate(client.CertificateFile, client.KeyFile);
        var (pinned, authorities) = TlsFiles.LoadTrust([_certificates.CaFile]);
        return new TlsTransportOptions { ClientCertificate = certificate, ClientCertificateChain = chain, TrustedServerSha256 = pinned, TrustedAuthorities = authorities };
    }

    private static RemoteTransportOptions SshOptions(SshServer ssh, string key) => new()
    {
        Ssh = new SshTransportOptions
        {
            IdentityFile = key,
            Options = ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR", "IdentitiesOnly=yes"],
            RemoteCommand = [ssh.Wrapper, "serve", "--stdio"],
        },
    };

    /// <summary>Ends the resolver's sessions (its remote backends are <see cref="IAsyncDisposable"/>).</summary>
    private static async Task DisposeAsync(VolumeResolver resolver)
    {
        foreach (var backend in resolver.Backends.OfType<IAsyncDisposable>().Distinct())
        {
            await backend.DisposeAsync();
        }
    }
}
