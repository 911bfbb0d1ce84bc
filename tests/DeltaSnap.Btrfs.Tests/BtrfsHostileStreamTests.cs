using System.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lineage;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Btrfs.Tests;

/// <summary>
/// Streams that a hostile peer could push: a valid first command (the snapshot the request names, so every check of
/// the stream's start passes), then commands whose paths leave the received subvolume, by <c>..</c> or through a
/// symbolic link the stream itself made. <c>btrfs receive</c> follows such paths (the first test shows it on the
/// installed btrfs-progs); the driver's receive, confined by Landlock, fails and changes nothing outside its snapshot
/// directory.
/// </summary>
public sealed class BtrfsHostileStreamTests : BtrfsTestBase
{
    [Test]
    public async Task BtrfsReceiveItself_followsDotDotInAStreamsPaths()
    {
        var (s1, genuine) = await GenuineAsync();
        var receiveDirectory = Directory.CreateDirectory(Path.Combine(NewRoot(MountB), "a", "b")).FullName;
        var escaped = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(receiveDirectory)!)!, "escaped");
        var stream = HostileBtrfsStreams.After(genuine, HostileBtrfsStreams.WriteFile($"../../../{Path.GetFileName(escaped)}", 257));

        using (var receive = Process.Start(new ProcessStartInfo("btrfs", ["receive", "-e", receiveDirectory]) { RedirectStandardInput = true, RedirectStandardError = true })!)
        {
            await receive.StandardInput.BaseStream.WriteAsync(stream);
            receive.StandardInput.Close();
            await receive.WaitForExitAsync();
        }

        Assert.That(File.Exists(escaped), Is.True, $"btrfs receive wrote {escaped}, outside {receiveDirectory}: this is what the driver's confinement is for");
        Assert.That(s1.Name, Is.EqualTo("s1"));
    }

    [Test]
    public async Task Receive_streamWritingThroughDotDot_failsAndWritesNothingOutsideTheSnapshotDirectory()
    {
        BackendRequirement.Require(Landlock.IsAvailable, "Linux Landlock (kernel 5.13 or later)");
        var (s1, genuine) = await GenuineAsync();
        var target = await CreateVolumeAsync(Target, "vm1");
        var escaped = Path.Combine(Path.GetDirectoryName(target.SnapshotDirectory)!, "escaped");

        var error = Assert.ThrowsAsync<BackendCommandException>(() =>
            target.ReceiveAsync(new MemoryStream(HostileBtrfsStreams.After(genuine, HostileBtrfsStreams.WriteFile("../../escaped", 257))), new NativeReceiveRequest { Snapshot = s1 }));

        Assert.That(error!.StandardError, Does.Contain("Permission denied"));
        Assert.That(File.Exists(escaped), Is.False);
        Assert.That(Directory.GetFileSystemEntries(target.SnapshotDirectory), Is.Empty, "the half-received subvolume is removed");
    }

    [Test]
    public async Task Receive_streamWritingThroughItsOwnSymbolicLink_failsAndWritesNothingOutside()
    {
        BackendRequirement.Require(Landlock.IsAvailable, "Linux Landlock (kernel 5.13 or later)");
        var (s1, genuine) = await GenuineAsync();
        var target = await CreateVolumeAsync(Target, "vm1");
        var outside = Directory.CreateDirectory(Path.Combine(NewRoot(MountB), "outside")).FullName;
        var stream = HostileBtrfsStreams.After(genuine, HostileBtrfsStreams.SymbolicLink("door", outside, 257), HostileBtrfsStreams.WriteFile("door/escaped", 258));

        var error = Assert.ThrowsAsync<BackendCommandException>(() =>
            target.ReceiveAsync(new MemoryStream(stream), new NativeReceiveRequest { Snapshot = s1 }));

        Assert.That(error!.StandardError, Does.Contain("Permission denied"));
        Assert.That(Directory.GetFileSystemEntries(outside), Is.Empty);
        Assert.That(Directory.GetFileSystemEntries(target.SnapshotDirectory), Is.Empty);
    }

    /// <summary>A real snapshot and its full send stream (whose first command, SUBVOL, names what a receive checks).</summary>
    private async Task<(SnapshotInfo Snapshot, byte[] Stream)> GenuineAsync()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var s1 = await source.CreateSnapshotAsync("s1");
        using var stream = new MemoryStream();
        await source.SendAsync(null, "s1", stream);
        return (s1, stream.ToArray());
    }
}
