using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Zfs.Tests;

/// <summary>
/// Hostile names are refused before any process starts: the driver runs a wrapper around the real <c>zfs</c>
/// that logs every invocation, and the log must not grow.
/// </summary>
[TestFixture]
public class ZfsNameTests
{
    private static readonly string[] HostileVolumeNames =
    [
        "-o", "-rf", "a/-x", "../etc", "a/../b", "a/./b", "a;rm -rf /", "a$(id)", "a`id`", "a|b", "a&b", "a\nb", "a\tb", "a\0b", "a\u001bb",
        "a@b", "a#b", "a%recv", "a b", "/abs", "a//b", "a/", "", new string('a', 300),
    ];

    private static readonly string[] HostileSnapshotNames =
    [
        "-F", "--help", "..", ".", "a/b", "a;b", "a\nb", "a\u0007", "a@b", "a#b", "a%b", "a b", "$(id)", "", new string('s', 300),
    ];

    private string _directory = null!;
    private string _log = null!;

    [SetUp]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void SetUp()
    {
        var zfs = Testing.BackendRequirement.RequireProgram("zfs", "zfs-fuse");
        _directory = Directory.CreateTempSubdirectory("deltasnap-zfs-names-").FullName;
        _log = Path.Combine(_directory, "calls.log");
        var wrapper = Path.Combine(_directory, "zfs");
        File.WriteAllText(wrapper, $"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{_log}'\nexec '{zfs}' \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task EveryOperation_hostileNames_throwArgumentExceptionBeforeAnyProcessStarts()
    {
        await using var bed = await ZfsTestBed.OpenAsync();
        var driver = await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = bed.PoolA, ZfsProgram = Path.Combine(_directory, "zfs") });
        var volume = (ZfsVolume)await driver.CreateVolumeAsync(bed.Track(bed.A, ZfsTestBed.UniqueName("names")), new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        await volume.CreateSnapshotAsync("good");
        var good = (await volume.GetLineageAsync()).Single();
        var callsBefore = Calls();
        Assert.That(callsBefore, Is.Not.Empty, "the wrapper logs calls");

        foreach (var name in HostileVolumeNames)
        {
            Assert.CatchAsync<ArgumentException>(() => driver.CreateVolumeAsync(name, new VolumeCreateOptions { Kind = VolumeKind.Filesystem }), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => driver.OpenVolumeAsync(name), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => driver.DeleteVolumeAsync(name), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => driver.VolumeExistsAsync(name), Printable(name));
        }
        foreach (var name in HostileSnapshotNames)
        {
            var info = name.Length == 0 ? good : new SnapshotInfo("x", good.Identity, good.CreatedUtc);
            Assert.CatchAsync<ArgumentException>(() => volume.CreateSnapshotAsync(name), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => volume.DeleteSnapshotAsync(name), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => volume.RollbackAsync(name), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => volume.PromoteAsync(name), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => volume.RenameSnapshotAsync("good", name), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => volume.GetPathAsync(name), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => volume.SendAsync(name, "good", Stream.Null), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => volume.SendAsync(null, name, Stream.Null), Printable(name));
            Assert.CatchAsync<ArgumentException>(() => volume.ProtectBaseAsync(name), Printable(name));
        }
        // A receive request naming a hostile snapshot (SnapshotInfo cannot hold an empty name).
        foreach (var name in HostileSnapshotNames.Where(n => n.Length > 0))
        {
            var request = new NativeReceiveRequest { Snapshot = new SnapshotInfo(name, good.Identity, good.CreatedUtc) };
            Assert.CatchAsync<ArgumentException>(() => volume.ReceiveAsync(new MemoryStream(new byte[512]), request), Printable(name));
        }

        Assert.That(Calls(), Is.EqualTo(callsBefore), "no zfs process started for a hostile name");
    }

    [Test]
    public async Task Options_hostileRootOrHoldTag_refusedBeforeAnyProcessStarts()
    {
        var wrapper = Path.Combine(_directory, "zfs");
        Assert.CatchAsync<ArgumentException>(() => ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = "-pool", ZfsProgram = wrapper }));
        Assert.CatchAsync<ArgumentException>(() => ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = "pool/../x", ZfsProgram = wrapper }));
        Assert.CatchAsync<ArgumentException>(() => ZfsDriver.OpenAsync(new ZfsDriverOptions { HoldTag = "-x", ZfsProgram = wrapper }));
        Assert.That(File.Exists(_log), Is.False);
    }

    [Test]
    public void Options_undefinedBaseProtection_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ZfsDriverOptions { BaseProtection = (ZfsBaseProtection)7 });
        Assert.That(new ZfsDriverOptions().BaseProtection, Is.EqualTo(ZfsBaseProtection.Hold));
    }

    private string[] Calls() => File.Exists(_log) ? File.ReadAllLines(_log) : [];

    private static string Printable(string name) => "name: " + new string(name.Take(40).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
