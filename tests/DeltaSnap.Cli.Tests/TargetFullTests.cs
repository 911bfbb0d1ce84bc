using System.Globalization;
using DeltaSnap.Cli.Tests.Support;
using DeltaSnap.Lvol;
using DeltaSnap.Testing;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// The target's file system fills up mid-transfer: the target lvol store lives on a 3 MiB tmpfs mounted for the test.
/// The refresh fails with one clear line, the target stays at its last complete snapshot (live state included), its
/// store checks clean, and once the file system has room the next refresh succeeds.
/// </summary>
[NonParallelizable]
public sealed class TargetFullTests : LvolPairTests
{
    private const int MiB = 1 << 20;
    private string _mount = null!;
    private string _smallStore = null!;

    [SetUp]
    public async Task SetUp()
    {
        var mount = BackendRequirement.FindProgram("mount");
        BackendRequirement.Require(mount is not null && Environment.UserName == "root", "root and mount(8), to mount a small tmpfs");
        _mount = Dir.File("small");
        Directory.CreateDirectory(_mount);
        BackendRequirement.Run("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", _mount);
        _smallStore = Path.Combine(_mount, "target.lvs");
        await LvolFixture.RunOkAsync("lvol", "create-store", _smallStore, "--cluster-size", "64K");
        await LvolFixture.RunOkAsync("lvol", "create", _smallStore, "copy", "--size", LvolFixture.VolumeSize.ToString(CultureInfo.InvariantCulture), "--thin");
        await Lvol.WriteAsync(SourceStore, "vm1", 0, LvolFixture.RandomBytes(MiB, 1));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
    }

    [TearDown]
    public void Unmount()
    {
        if (_mount is not null && Directory.Exists(_mount))
        {
            BackendRequirement.Run("umount", _mount);
        }
    }

    [TestCase("native")]
    [TestCase("checksum")]
    public async Task Refresh_targetFileSystemFillsUp_clearErrorTargetAtLastCompleteSnapshotAndTheNextRefreshSucceeds(string route)
    {
        string[] arguments = route == "native" ? [] : ["--no-native", "--cluster-size", "64K"];
        var target = LvolFixture.Address(_smallStore, "copy");
        await LvolFixture.RunOkAsync(["refresh", Source, target, "--snapshots-only", .. arguments]);
        var complete = await Lvol.ReadAsync(_smallStore, "copy@s1");
        // Three more MiB of data and a new snapshot: more than the 3 MiB file system holds beside the first MiB.
        await Lvol.WriteAsync(SourceStore, "vm1", MiB, LvolFixture.RandomBytes(3 * MiB, 2));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s2");

        var full = await DeltaSnapTool.RunAsync(["refresh", Source, target, .. arguments]);

        Assert.That(full.ExitCode, Is.Not.Zero, full.ToString());
        SnapshotCommandTests.AssertOneErrorLine(full);
        Assert.That(full.Error, Does.Contain("no space left").IgnoreCase, full.ToString());
        Assert.That((await LvolFixture.SnapshotsAsync(target)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "s1" }));
        Assert.That(await Lvol.ReadAsync(_smallStore, "copy@s1"), Bytes.EqualTo(complete), "the complete snapshot is intact");
        Assert.That(await Lvol.ReadAsync(_smallStore, "copy"), Bytes.EqualTo(complete), "the live state is back at the last complete snapshot");
        var fsck = await DeltaSnapTool.RunAsync("lvol", "fsck", _smallStore);
        Assert.That(fsck.ExitCode, Is.Zero, fsck.ToString());

        BackendRequirement.Run("mount", "-o", "remount,size=64m", _mount);
        var rerun = await DeltaSnapTool.RunAsync(["refresh", Source, target, .. arguments]);

        Assert.That(rerun.ExitCode, Is.Zero, rerun.ToString());
        Assert.That(await Lvol.ReadAsync(_smallStore, "copy"), Bytes.EqualTo(await SourceBytesAsync()));
        Assert.That(await Lvol.ReadAsync(_smallStore, "copy@s2"), Bytes.EqualTo(await SourceBytesAsync("s2")));
        await using var store = await LvolStore.OpenAsync(_smallStore);
        Assert.That(store.ListLvols().Select(l => l.Name).Where(n => n.Contains("deltasnap-tmp-", StringComparison.Ordinal) || n.Contains("@.receiving-", StringComparison.Ordinal)), Is.Empty);
    }
}
