using System.IO.Hashing;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Replication;

namespace DeltaSnap.Remote.Tests;

/// <summary>
/// Native resume of a pull across a session (<c>volume.send</c> with a prefix, feature <c>send-after-prefix</c>): the
/// server hashes the prefix where the source is and only the rest crosses the wire; a prefix that differs sends nothing;
/// an older server (without the feature) still resumes correctly, with the whole stream on the wire.
/// </summary>
[NonParallelizable]
public sealed class RemoteResumeTests
{
    private const int MiB = 1 << 20;

    /// <summary>Frame headers, credits and the answers of one request: far below a MiB.</summary>
    private const long Overhead = 64 << 10;

    private static readonly string[] OlderServerFeatures = ["lz4", "zstd", "credit", "digests"];

    [Test]
    public async Task SendAfterPrefix_remoteSource_sendsOnlyTheRestAcrossTheSession()
    {
        using var dir = new TempDirectory();
        await CreateSourceAsync(dir, sizeMiB: 24);
        await using var loop = await Loopback.StartAsync();
        var source = await loop.Session.OpenVolumeAsync($"lvol:{dir.File("a.lvs")}#vm");
        var stream = await SendAsync(source);
        var prefix = stream.Length / 2;

        var (matched, rest, wire) = await SendAfterAsync(loop, source, stream, prefix);

        Assert.That(matched, Is.True);
        Assert.That(rest.ToArray(), Is.EqualTo(stream[prefix..]));
        Assert.That(wire, Is.LessThan(stream.Length - prefix + Overhead), "the prefix stayed on the server");
        await source.Driver.DisposeAsync();
    }

    [Test]
    public async Task SendAfterPrefix_remoteSourceOtherPrefix_returnsFalseHavingSentNothing()
    {
        using var dir = new TempDirectory();
        await CreateSourceAsync(dir, sizeMiB: 8);
        await using var loop = await Loopback.StartAsync();
        var source = await loop.Session.OpenVolumeAsync($"lvol:{dir.File("a.lvs")}#vm");
        var stream = await SendAsync(source);
        var flipped = stream[..(stream.Length / 2)];
        flipped[^1] ^= 1;

        var rest = new MemoryStream();
        var before = loop.Session.WireBytesReceived;
        var matched = await source.SendAfterPrefixAsync(null, "s1", flipped.Length, XxHash128.HashToUInt128(flipped), rest);
        var wire = loop.Session.WireBytesReceived - before;
        var longer = await source.SendAfterPrefixAsync(null, "s1", stream.Length + 1, XxHash128.HashToUInt128(stream), rest);

        Assert.That(matched, Is.False);
        Assert.That(longer, Is.False, "a prefix longer than the stream");
        Assert.That(rest.Length, Is.Zero);
        Assert.That(wire, Is.LessThan(Overhead));
        // The session goes on.
        Assert.That(await SendAsync(source), Is.EqualTo(stream));
        await source.Driver.DisposeAsync();
    }

    [Test]
    public async Task SendAfterPrefix_olderServerWithoutTheFeature_sendsTheWholeStreamAndTheRestIsRight()
    {
        using var dir = new TempDirectory();
        await CreateSourceAsync(dir, sizeMiB: 8);
        await using var loop = await Loopback.StartAsync(serverOptions: new VolumeServerOptions { AnnouncedFeatures = OlderServerFeatures });
        var source = await loop.Session.OpenVolumeAsync($"lvol:{dir.File("a.lvs")}#vm");
        var stream = await SendAsync(source);
        var prefix = stream.Length / 2;

        var (matched, rest, wire) = await SendAfterAsync(loop, source, stream, prefix);

        Assert.That(matched, Is.True);
        Assert.That(rest.ToArray(), Is.EqualTo(stream[prefix..]));
        Assert.That(wire, Is.GreaterThanOrEqualTo(stream.Length), "the older server sent everything; the prefix was dropped here");
        await source.Driver.DisposeAsync();
    }

    [TestCase(true, TestName = "Refresh_pullCutHalfWay_rerunResumesWithOnlyTheRestOnTheWire")]
    [TestCase(false, TestName = "Refresh_pullCutHalfWayFromAnOlderServer_rerunResumesWithTheWholeStreamOnTheWire")]
    public async Task Refresh_pullCutHalfWay_rerunResumes(bool serverSkipsPrefix)
    {
        using var dir = new TempDirectory();
        using var checkpoints = new TempDirectory();
        await CreateSourceAsync(dir, sizeMiB: 48);
        await using var targetStore = await LvolDriver.CreateStoreAsync(dir.File("b.lvs"));
        var target = await targetStore.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 48 * MiB });
        var serverOptions = serverSkipsPrefix ? null : new VolumeServerOptions { AnnouncedFeatures = OlderServerFeatures };
        await using var loop = await Loopback.StartAsync(serverOptions: serverOptions);
        var source = await loop.Session.OpenVolumeAsync($"lvol:{dir.File("a.lvs")}#vm");
        var options = new RefreshOptions { CheckpointDirectory = checkpoints.Path, CheckpointInterval = TimeSpan.FromMilliseconds(100) };
        var replicator = new Replicator();

        var spooled = await SpooledCut.RefreshCutAtAsync(replicator, source, target, options, 16 * MiB);

        var before = loop.Session.WireBytesReceived;
        var rerun = await replicator.RefreshAsync(source, target, options);
        var wire = loop.Session.WireBytesReceived - before;

        Assert.That(rerun.Resumed, Is.True);
        Assert.That(rerun.BytesSent, Is.EqualTo(rerun.BytesWritten - spooled));
        if (serverSkipsPrefix)
        {
            Assert.That(wire, Is.LessThan(rerun.BytesWritten - spooled / 2), $"{spooled} of {rerun.BytesWritten} bytes spooled; {wire} on the wire");
        }
        else
        {
            Assert.That(wire, Is.GreaterThan(rerun.BytesWritten - spooled / 2), $"an older server resends the spooled bytes: {spooled} of {rerun.BytesWritten} spooled; {wire} on the wire");
        }
        Assert.That(await RemoteRefreshTests.DigestAsync(target, null), Is.EqualTo(await RemoteRefreshTests.DigestAsync(source, null)));
        Assert.That(Directory.GetFiles(checkpoints.Path), Is.Empty);
        await source.Driver.DisposeAsync();
    }

    /// <summary>A remote-side lvol volume of random data with snapshot s1 (its native stream is about the size of the data).</summary>
    private static async Task CreateSourceAsync(TempDirectory dir, int sizeMiB)
    {
        await using var store = await LvolDriver.CreateStoreAsync(dir.File("a.lvs"));
        var volume = await store.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = (long)sizeMiB * MiB });
        await RemoteRefreshTests.WriteRandomAsync(volume, seed: sizeMiB, blocks: sizeMiB, blockSize: MiB, sequential: true);
        await volume.CreateSnapshotAsync("s1");
    }

    /// <summary>The stream after its first <paramref name="prefix"/> bytes, asked of the server with their digest; and the bytes that came over the session meanwhile.</summary>
    private static async Task<(bool Matched, MemoryStream Remainder, long Wire)> SendAfterAsync(Loopback loop, Volume source, byte[] stream, int prefix)
    {
        var rest = new MemoryStream();
        var before = loop.Session.WireBytesReceived;
        var matched = await source.SendAfterPrefixAsync(null, "s1", prefix, XxHash128.HashToUInt128(stream.AsSpan(0, prefix)), rest);
        return (matched, rest, loop.Session.WireBytesReceived - before);
    }

    private static async Task<byte[]> SendAsync(Volume source)
    {
        var all = new MemoryStream();
        await source.SendAsync(null, "s1", all);
        return all.ToArray();
    }
}
