using System.Diagnostics;
using DeltaSnap.Lineage;
using DeltaSnap.Remote.Network.Tests.Support;

namespace DeltaSnap.Remote.Network.Tests;

/// <summary>Peers that must be refused, and connections that break: the client fails with one clear line and the target keeps what it had.</summary>
[NonParallelizable]
public class BadPeerTests
{
    private const int PeerRefused = 7;

    private TwoHosts _hosts = null!;
    private string _source = null!;
    private string _target = null!;

    [SetUp]
    public async Task SetUp()
    {
        _hosts = TwoHosts.Create();
        _source = $"lvol:{_hosts.File("client.lvs")}#vm";
        _target = $"lvol:{_hosts.File("server.lvs")}#vm";
        await LocalVolumes.CreateBlockAsync(_source, 8 << 20, [(0, 1 << 20)], seed: 1, snapshot: "s1");
    }

    [TearDown]
    public async Task TearDown() => await _hosts.DisposeAsync();

    [Test]
    public async Task Serve_clientWithoutCertificate_isRefusedBeforeTheSessionAndLogged()
    {
        var server = await _hosts.ServeAsync(_hosts.Authorization($"* write lvol:{_hosts.Dir}/"));

        var (output, _) = await OpenSslClientAsync(server.EndPoint, certificate: null, input: "hello\n"u8.ToArray());

        Assert.That(await server.WaitForLogAsync("Refused the client"), Is.True, server.Log);
        Assert.That(server.Log, Does.Contain("presented no client certificate"));
        Assert.That(output, Does.Not.Contain("DELTASNAP"), "no session banner before the certificate was checked");
    }

    [Test]
    public async Task Refresh_untrustedClientCertificate_exitsPeerRefusedAndServerLogsTheFingerprint()
    {
        var server = await _hosts.ServeAsync(_hosts.Authorization($"* write lvol:{_hosts.Dir}/"));
        var stranger = _hosts.Certificates.SelfSigned("stranger");

        var result = await _hosts.ClientAsync(["refresh", _source, $"tls://{server.EndPoint}/{_target}", .. _hosts.ClientTls(stranger)]);

        Assert.That(result.ExitCode, Is.EqualTo(PeerRefused), result.ToString());
        Assert.That(result.Error, Does.Match(@"^deltasnap: [^\n]*certificate[^\n]*\n$"));
        Assert.That(result.Error, Does.Not.Contain("closed the session").And.Not.Contain("connection lost"), "the refusal, not a lost connection");
        Assert.That(await server.WaitForLogAsync(stranger.Sha256), Is.True, server.Log);
    }

    [Test]
    public async Task VolumeList_untrustedClientCertificate_exitsPeerRefusedNotALostConnection()
    {
        var server = await _hosts.ServeAsync(_hosts.Authorization($"* write lvol:{_hosts.Dir}/"));
        var stranger = _hosts.Certificates.SelfSigned("stranger");

        var result = await _hosts.ClientAsync(["volume", "list", $"tls://{server.EndPoint}/lvol:{_hosts.File("server.lvs")}", .. _hosts.ClientTls(stranger)]);

        Assert.That(result.ExitCode, Is.EqualTo(PeerRefused), result.ToString());
        Assert.That(result.Error, Does.Match(@"^deltasnap: [^\n]*certificate[^\n]*\n$"));
        Assert.That(result.Error, Does.Not.Contain("closed the session").And.Not.Contain("connection lost"), "the refusal, not a lost connection");
        Assert.That(result.Out, Is.Empty);
        Assert.That(await server.WaitForLogAsync(stranger.Sha256), Is.True, server.Log);
    }

    [Test]
    public async Task Refresh_serverNotTheOnePinned_exitsPeerRefused()
    {
        var server = await _hosts.ServeAsync(_hosts.Authorization($"* write lvol:{_hosts.Dir}/"));
        var other = _hosts.Certificates.SelfSigned("other-server");

        var result = await _hosts.ClientAsync("refresh", _source, $"tls://{server.EndPoint}/{_target}",
            "--tls-cert", _hosts.Client.CertificateFile, "--tls-key", _hosts.Client.KeyFile, "--tls-trust", other.Sha256);

        Assert.That(result.ExitCode, Is.EqualTo(PeerRefused), result.ToString());
        Assert.That(result.Error, Does.Match(@"^deltasnap: Refused the server [^\n]*not trusted[^\n]*\n$"));
    }

    [Test]
    public async Task Refresh_trustedButNotAuthorisedForTheVolume_exitsPeerRefusedAndCreatesNothing()
    {
        var server = await _hosts.ServeAsync(_hosts.Authorization("backup1 write lvol:/elsewhere/", $"backup1 read lvol:{_hosts.Dir}/"));

        var result = await _hosts.ClientAsync(["refresh", _source, $"tls://{server.EndPoint}/{_target}", .. _hosts.ClientTls()]);

        Assert.That(result.ExitCode, Is.EqualTo(PeerRefused), result.ToString());
        Assert.That(result.Error, Does.Match(@"^deltasnap: [^\n]+\n$"));
        Assert.That(File.Exists(_hosts.File("server.lvs")), Is.False, "nothing was created on the server");
    }

    [Test]
    public async Task Refresh_noAuthorisationFile_defaultDenyExitsPeerRefused()
    {
        var server = await _hosts.ServeAsync(authorization: null);

        var result = await _hosts.ClientAsync(["refresh", _source, $"tls://{server.EndPoint}/{_target}", .. _hosts.ClientTls()]);

        Assert.That(result.ExitCode, Is.EqualTo(PeerRefused), result.ToString());
    }

    [Test]
    public async Task Serve_garbageAfterTheHandshake_endsThatSessionAndServesTheNextClient()
    {
        var server = await _hosts.ServeAsync(_hosts.Authorization($"backup1 write lvol:{_hosts.Dir}/"));
        var garbage = new byte[64 << 10];
        new Random(9).NextBytes(garbage);

        await OpenSslClientAsync(server.EndPoint, _hosts.Client, garbage);
        var result = await _hosts.ClientAsync(["refresh", _source, $"tls://{server.EndPoint}/{_target}", .. _hosts.ClientTls()]);

        Assert.That(await server.WaitForLogAsync("failed"), Is.True, server.Log);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(await LocalVolumes.HashAsync(_target), Is.EqualTo(await LocalVolumes.HashAsync(_source)));
    }

    [TestCase(false, TestName = "Refresh_serverKilledMidTransfer_failsClearlyTargetKeepsSnapshotsNextRefreshSucceeds")]
    [TestCase(true, TestName = "Refresh_linkDownMidTransfer_failsWithinTheTimeoutTargetKeepsSnapshotsNextRefreshSucceeds")]
    public async Task Refresh_connectionCutMidTransfer(bool linkDown)
    {
        const long size = 160 << 20;
        var source = $"lvol:{_hosts.File("big.lvs")}#vm";
        var target = $"lvol:{_hosts.File("server-big.lvs")}#vm";
        await LocalVolumes.CreateBlockAsync(source, size, [(0, 4 << 20)], seed: 2, snapshot: "s1");
        var authorization = _hosts.Authorization($"backup1 write lvol:{_hosts.Dir}/");
        var server = await _hosts.ServeAsync(authorization);
        var remote = $"tls://{server.EndPoint}/{target}";
        var first = await _hosts.ClientAsync(["refresh", source, remote, .. _hosts.ClientTls()]);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        // s2 is 160 MiB of new data: about 13 s at 100 Mbit/s, cut after a few seconds.
        await LocalVolumes.ChangeAsync(source, [(0, (int)(size / 2)), (size / 2, (int)(size / 2))], seed: 3, snapshot: "s2");
        _hosts.Network.LimitRate("100mbit");

        using var client = CliProcess.Start(_hosts.Network.ClientNamespace, ["refresh", source, remote, .. _hosts.ClientTls()]);
        client.StandardInput.Close();
        var clientResult = CliProcess.WaitAsync(client, TimeSpan.FromMinutes(2));
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.That(client.HasExited, Is.False, "the transfer was still running when the connection was cut");
        var cut = Stopwatch.StartNew();
        if (linkDown)
        {
            _hosts.Network.SetLink(up: false);
        }
        else
        {
            server.Kill();
        }
        var failed = await clientResult;
        var failedAfter = cut.Elapsed;

        Assert.That(failed.ExitCode, Is.Not.Zero, failed.ToString());
        Assert.That(failed.Error, Does.Match(@"^deltasnap: [^\n]+\n$"), failed.ToString());
        Assert.That(failedAfter, Is.LessThan(TimeSpan.FromSeconds(60)), "the client noticed within the timeouts");
        TestContext.Out.WriteLine($"client failed {failedAfter.TotalSeconds:F1} s after the cut: {failed.Error.Trim()}");

        if (linkDown)
        {
            _hosts.Network.SetLink(up: true);
            // The server notices the dead session itself (its peer timeout) and cleans up its side. Waited for by that
            // line, not any "failed": a line from before the cut would let the next refresh meet the session still open.
            Assert.That(await server.WaitForLogAsync("has been silent"), Is.True, server.Log);
        }
        else
        {
            server = await _hosts.ServeAsync(authorization);
            remote = $"tls://{server.EndPoint}/{target}";
        }
        Assert.That(await LocalVolumes.SnapshotsAsync(target), Does.Contain("s1"), "the target keeps its previous snapshots");
        var second = await _hosts.ClientAsync(["refresh", source, remote, .. _hosts.ClientTls()]);

        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(await LocalVolumes.HashAsync(target), Is.EqualTo(await LocalVolumes.HashAsync(source)));
        Assert.That(await LocalVolumes.SnapshotsAsync(target), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That((await LocalVolumes.SnapshotsAsync(source)).Where(TemporarySnapshot.IsTemporary), Is.Empty);
    }

    /// <summary>`openssl s_client` in the client's namespace: TLS 1.3, with or without a certificate, writing <paramref name="input"/> then closing.</summary>
    private async Task<(string Output, int ExitCode)> OpenSslClientAsync(string endpoint, PemCertificate? certificate, byte[] input)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", _hosts.Network.ClientNamespace, "openssl", "s_client", "-connect", endpoint, "-tls1_3", "-quiet", "-no_ign_eof" })
        {
            info.ArgumentList.Add(a);
        }
        if (certificate is not null)
        {
            foreach (var a in new[] { "-cert", certificate.CertificateFile, "-key", certificate.KeyFile })
            {
                info.ArgumentList.Add(a);
            }
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await Task.Delay(500);
        try
        {
            await process.StandardInput.BaseStream.WriteAsync(input);
            await process.StandardInput.BaseStream.FlushAsync();
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The server closed the connection first.
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
        }
        return (await stdout + await stderr, process.HasExited ? process.ExitCode : -1);
    }
}
