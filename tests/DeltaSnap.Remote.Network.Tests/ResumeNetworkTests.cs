using System.Text.Json;
using DeltaSnap.Lineage;
using DeltaSnap.Remote.Network.Tests.Support;

namespace DeltaSnap.Remote.Network.Tests;

/// <summary>
/// Native resume of a pull between two namespaces over TLS: the built tool with <c>--checkpoint-dir</c>, the server
/// killed while the stream crosses a 100 Mbit/s link, then a rerun whose bytes on the wire (the client's veth counter)
/// are what follows the spooled prefix.
/// </summary>
[NonParallelizable]
public class ResumeNetworkTests
{
    private const long Size = 128 << 20;

    private TwoHosts _hosts = null!;

    [SetUp]
    public void SetUp() => _hosts = TwoHosts.Create();

    [TearDown]
    public async Task TearDown() => await _hosts.DisposeAsync();

    [Test]
    public async Task Refresh_pullWithCheckpointsServerKilledMidStream_rerunSendsOnlyTheRestAndConverges()
    {
        var source = $"lvol:{_hosts.File("server.lvs")}#vm";
        var target = $"lvol:{_hosts.File("client.lvs")}#copy";
        var checkpoints = Directory.CreateDirectory(_hosts.File("checkpoints")).FullName;
        // Random data throughout: the stream is about the volume's size and nothing compresses.
        await LocalVolumes.CreateBlockAsync(source, Size, [(0, (int)(Size / 2)), (Size / 2, (int)(Size / 2))], seed: 11, snapshot: "s1");
        // Pulling takes a temporary snapshot of the source's live state: the source needs write access.
        var authorization = _hosts.Authorization($"backup1 write lvol:{_hosts.Dir}/");
        var server = await _hosts.ServeAsync(authorization);
        _hosts.Network.LimitRate("100mbit");
        string[] Refresh(ServeProcess s) =>
            ["refresh", $"tls://{s.EndPoint}/{source}", target, "--checkpoint-dir", checkpoints, "--json", .. _hosts.ClientTls()];

        using (var client = CliProcess.Start(_hosts.Network.ClientNamespace, Refresh(server)))
        {
            client.StandardInput.Close();
            var clientResult = CliProcess.WaitAsync(client, TimeSpan.FromMinutes(2));
            // About 10 s for the whole stream at 100 Mbit/s: cut once a quarter of it is spooled.
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (SpoolLength(checkpoints) < Size / 4 && !client.HasExited && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
            Assert.That(client.HasExited, Is.False, "the stream was still crossing when the server was killed");
            server.Kill();
            var failed = await clientResult;
            Assert.That(failed.ExitCode, Is.Not.Zero, failed.ToString());
            Assert.That(failed.Error, Does.Match(@"^deltasnap: [^\n]+\n$"), failed.ToString());
        }
        var spooled = SpoolLength(checkpoints);
        Assert.That(spooled, Is.GreaterThanOrEqualTo(Size / 4), "the spool is kept for the next refresh");

        // The same endpoint: the checkpoint names the source by its address, tls://HOST:PORT/….
        server = await _hosts.ServeAtAsync(server.EndPoint, authorization);
        var receivedBefore = _hosts.Network.ClientReceivedBytes();
        var rerun = await _hosts.ClientAsync(Refresh(server));
        var onTheWire = _hosts.Network.ClientReceivedBytes() - receivedBefore;

        Assert.That(rerun.ExitCode, Is.Zero, rerun.ToString());
        using var summary = JsonDocument.Parse(rerun.Out);
        var streamBytes = summary.RootElement.GetProperty("bytesWritten").GetInt64();
        TestContext.Out.WriteLine($"spooled {spooled} of a {streamBytes}-byte stream; the rerun received {onTheWire} bytes on the client's veth");
        Assert.That(summary.RootElement.GetProperty("resumed").GetBoolean(), Is.True, rerun.Out);
        Assert.That(onTheWire, Is.LessThan(streamBytes), "less than the stream crossed the wire");
        Assert.That(onTheWire, Is.LessThan(streamBytes - spooled / 2), "the spooled prefix did not cross the wire again");
        Assert.That(await LocalVolumes.HashAsync(target), Is.EqualTo(await LocalVolumes.HashAsync(source)));
        Assert.That(await LocalVolumes.SnapshotsAsync(target), Is.EqualTo(new[] { "s1" }));
        Assert.That(Directory.GetFiles(checkpoints), Is.Empty, "the checkpoint and the spool are gone");
        Assert.That((await LocalVolumes.SnapshotsAsync(source)).Where(TemporarySnapshot.IsTemporary), Is.Empty);
    }

    private static long SpoolLength(string directory) =>
        Directory.GetFiles(directory, "*.spool") is [var spool] ? new FileInfo(spool).Length : 0;
}
