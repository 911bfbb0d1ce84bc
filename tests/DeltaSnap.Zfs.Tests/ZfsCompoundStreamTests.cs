using System.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Zfs.Tests;

/// <summary>
/// Compound streams (<c>zfs send -p</c>, <c>-R</c>, <c>-I</c>) carry dataset properties that <c>zfs receive</c> sets,
/// <c>mountpoint</c> among them: a peer pushing one could mount a tree of its own anywhere on the server. Where the
/// receive cannot exclude properties (zfs-fuse has no <c>zfs receive -x</c>) the driver refuses them.
/// </summary>
public sealed class ZfsCompoundStreamTests : ZfsFixture
{
    private readonly List<string> _mounted = [];
    private string? _mountpoint;

    /// <summary>Puts the datasets mounted at the test's path back under their pools and removes the path (before the bed destroys them).</summary>
    [TearDown]
    public void RemoveMountpoint()
    {
        foreach (var dataset in _mounted)
        {
            try
            {
                ZfsTestBed.Zfs("inherit", "mountpoint", dataset);
            }
            catch (InvalidOperationException)
            {
                // Not received, or already gone.
            }
        }
        _mounted.Clear();
        try
        {
            if (_mountpoint is not null && Directory.Exists(_mountpoint) && !Directory.EnumerateFileSystemEntries(_mountpoint).Any())
            {
                Directory.Delete(_mountpoint);
            }
        }
        catch (IOException)
        {
            // zfs-fuse may still be unmounting it: an empty directory left in the temporary directory.
        }
    }

    [Test]
    public async Task ZfsReceiveItself_setsTheMountpointACompoundStreamCarries()
    {
        var (_, stream, mountpoint) = await PropertyStreamAsync();
        var target = Bed.Track(Bed.B, ZfsTestBed.UniqueName("ctl"));
        _mounted.Add($"{Bed.PoolB}/{target}");

        using (var receive = Process.Start(new ProcessStartInfo("zfs", ["receive", "-F", $"{Bed.PoolB}/{target}"]) { RedirectStandardInput = true, RedirectStandardError = true })!)
        {
            await receive.StandardInput.BaseStream.WriteAsync(stream);
            receive.StandardInput.Close();
            await receive.WaitForExitAsync();
        }

        Assert.That(ZfsTestBed.Zfs("get", "-H", "-o", "value,source", "mountpoint", $"{Bed.PoolB}/{target}").Trim(), Is.EqualTo(mountpoint + "\treceived"),
            "the property the stream carried: what the driver's refusal is for");
    }

    [Test]
    public async Task Receive_compoundStreamWhereReceiveCannotExcludeProperties_isRefusedAndReceivesNothing()
    {
        Assume.That(Bed.B.Features.ReceiveExcludeProperty, Is.False, "this zfs receive excludes mountpoint (-x), so compound streams are received");
        var (s1, stream, mountpoint) = await PropertyStreamAsync();
        var target = await Bed.CreateAsync(Bed.B, "tgt");

        var error = Assert.ThrowsAsync<NotSupportedException>(() => target.ReceiveAsync(new MemoryStream(stream), new NativeReceiveRequest { Snapshot = s1 }));

        Assert.That(error!.Message, Does.Contain("compound"));
        Assert.That(await target.GetLineageAsync(), Is.Empty);
        Assert.That(ZfsTestBed.Zfs("get", "-H", "-o", "value", "mountpoint", target.Dataset).Trim(), Is.Not.EqualTo(mountpoint));
        Assert.That(Directory.Exists(mountpoint) && Directory.EnumerateFileSystemEntries(mountpoint).Any(), Is.False, "nothing mounted there");
    }

    /// <summary>A snapshot of a dataset whose mountpoint is a fresh path, and its <c>zfs send -p</c> stream.</summary>
    private async Task<(SnapshotInfo Snapshot, byte[] Stream, string Mountpoint)> PropertyStreamAsync()
    {
        var source = await Bed.CreateAsync(Bed.A, "props");
        var mountpoint = Path.Combine(Path.GetTempPath(), ZfsTestBed.UniqueName("dsmnt"));
        _mountpoint = mountpoint;
        _mounted.Add(source.Dataset);
        ZfsTestBed.Zfs("set", "mountpoint=" + mountpoint, source.Dataset);
        var s1 = await source.CreateSnapshotAsync("s1");
        using var captured = new MemoryStream();
        using (var send = Process.Start(new ProcessStartInfo("zfs", ["send", "-p", $"{source.Dataset}@s1"]) { RedirectStandardOutput = true })!)
        {
            await send.StandardOutput.BaseStream.CopyToAsync(captured);
            await send.WaitForExitAsync();
            Assert.That(send.ExitCode, Is.Zero);
        }
        return (s1, captured.ToArray(), mountpoint);
    }
}
