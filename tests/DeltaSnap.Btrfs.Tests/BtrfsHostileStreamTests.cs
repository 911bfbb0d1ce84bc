using System.Buffers.Binary;
using System.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lineage;

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
    private const ushort Mkfile = 3;
    private const ushort Symlink = 8;
    private const ushort Write = 15;
    private const ushort End = 21;
    private const ushort AttributeIno = 3;
    private const ushort AttributePath = 15;
    private const ushort AttributePathLink = 17;
    private const ushort AttributeFileOffset = 18;
    private const ushort AttributeData = 19;

    [Test]
    public async Task BtrfsReceiveItself_followsDotDotInAStreamsPaths()
    {
        var (s1, firstCommand) = await FirstCommandAsync();
        var receiveDirectory = Directory.CreateDirectory(Path.Combine(NewRoot(MountB), "a", "b")).FullName;
        var escaped = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(receiveDirectory)!)!, "escaped");
        var stream = Hostile(firstCommand, WriteFile($"../../../{Path.GetFileName(escaped)}", 257));

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
        var (s1, firstCommand) = await FirstCommandAsync();
        var target = await CreateVolumeAsync(Target, "vm1");
        var escaped = Path.Combine(Path.GetDirectoryName(target.SnapshotDirectory)!, "escaped");

        var error = Assert.ThrowsAsync<BackendCommandException>(() =>
            target.ReceiveAsync(new MemoryStream(Hostile(firstCommand, WriteFile("../../escaped", 257))), new NativeReceiveRequest { Snapshot = s1 }));

        Assert.That(error!.StandardError, Does.Contain("Permission denied"));
        Assert.That(File.Exists(escaped), Is.False);
        Assert.That(Directory.GetFileSystemEntries(target.SnapshotDirectory), Is.Empty, "the half-received subvolume is removed");
    }

    [Test]
    public async Task Receive_streamWritingThroughItsOwnSymbolicLink_failsAndWritesNothingOutside()
    {
        BackendRequirement.Require(Landlock.IsAvailable, "Linux Landlock (kernel 5.13 or later)");
        var (s1, firstCommand) = await FirstCommandAsync();
        var target = await CreateVolumeAsync(Target, "vm1");
        var outside = Directory.CreateDirectory(Path.Combine(NewRoot(MountB), "outside")).FullName;
        var link = Command(Symlink, Attribute(AttributePath, "door"u8.ToArray()), Attribute(AttributeIno, U64(257)),
            Attribute(AttributePathLink, System.Text.Encoding.UTF8.GetBytes(outside)));

        var error = Assert.ThrowsAsync<BackendCommandException>(() =>
            target.ReceiveAsync(new MemoryStream(Hostile(firstCommand, [.. link, .. WriteFile("door/escaped", 258)])), new NativeReceiveRequest { Snapshot = s1 }));

        Assert.That(error!.StandardError, Does.Contain("Permission denied"));
        Assert.That(Directory.GetFileSystemEntries(outside), Is.Empty);
        Assert.That(Directory.GetFileSystemEntries(target.SnapshotDirectory), Is.Empty);
    }

    /// <summary>A real snapshot's full send stream, cut after its first command (SUBVOL: the name and UUID a receive checks).</summary>
    private async Task<(SnapshotInfo Snapshot, byte[] FirstCommand)> FirstCommandAsync()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var s1 = await source.CreateSnapshotAsync("s1");
        using var stream = new MemoryStream();
        await source.SendAsync(null, "s1", stream);
        var bytes = stream.ToArray();
        const int streamHeader = 17;
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(streamHeader));
        return (s1, bytes[..(streamHeader + 10 + length)]);
    }

    private static byte[] Hostile(byte[] firstCommand, byte[] commands) => [.. firstCommand, .. commands, .. Command(End)];

    /// <summary>MKFILE and WRITE of <paramref name="path"/> (relative to the received subvolume, as a stream's paths are).</summary>
    private static byte[] WriteFile(string path, ulong inode)
    {
        var name = System.Text.Encoding.UTF8.GetBytes(path);
        return [.. Command(Mkfile, Attribute(AttributePath, name), Attribute(AttributeIno, U64(inode))),
            .. Command(Write, Attribute(AttributePath, name), Attribute(AttributeFileOffset, U64(0)), Attribute(AttributeData, "hostile\n"u8.ToArray()))];
    }

    /// <summary>A stream command: le32 length of its attributes, le16 command, le32 CRC-32C (btrfs's), the attributes.</summary>
    private static byte[] Command(ushort command, params byte[][] attributes)
    {
        byte[] body = [.. attributes.SelectMany(a => a)];
        var result = new byte[10 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(result, (uint)body.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(4), command);
        body.CopyTo(result, 10);
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(6), BtrfsStreamStart.ComputeCrc(result));
        return result;
    }

    private static byte[] Attribute(ushort type, byte[] value)
    {
        var result = new byte[4 + value.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(result, type);
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(2), (ushort)value.Length);
        value.CopyTo(result, 4);
        return result;
    }

    private static byte[] U64(ulong value)
    {
        var result = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(result, value);
        return result;
    }
}
