using System.Globalization;
using DeltaSnap.Cli.Tests.Support;
using DeltaSnap.Drivers;
using DeltaSnap.Replication;
using DeltaSnap.Testing;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// Resume on the checksum route (block volumes of different backends, or of one backend with native streams off): a
/// copy cut half-way (the target device fails after half of its writes, as a full disk or a dropped connection would)
/// leaves a checkpoint and the partial copy in the target's live state; the next refresh continues it and sends about
/// the other half. The bytes sent on the rerun are printed for docs/reliability.md.
/// </summary>
[NonParallelizable]
public sealed class ResumeTests
{
    private const int MiB = 1 << 20;
    private const int VolumeBytes = 32 * MiB;
    private const int ClusterBytes = 64 * 1024;

    private TempDirectory _dir = null!;
    private string _sourceStore = null!;
    private string _targetStore = null!;
    private string _checkpoints = null!;

    [SetUp]
    public async Task SetUp()
    {
        _dir = new TempDirectory();
        _sourceStore = _dir.File("source.lvs");
        _targetStore = _dir.File("target.lvs");
        _checkpoints = _dir.File("checkpoints");
        foreach (var store in new[] { _sourceStore, _targetStore })
        {
            await LvolFixture.RunOkAsync("lvol", "create-store", store, "--cluster-size", "64K");
        }
        await LvolFixture.RunOkAsync("lvol", "create", _sourceStore, "vm1", "--size", VolumeBytes.ToString(CultureInfo.InvariantCulture), "--thin");
        await LvolFixture.RunOkAsync("lvol", "create", _targetStore, "copy", "--size", VolumeBytes.ToString(CultureInfo.InvariantCulture), "--thin");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private string Source => $"lvol:{_sourceStore}#vm1";

    private RefreshOptions Options(bool checkpoints = true) => new()
    {
        DisableNativeStreams = true,
        CheckpointDirectory = checkpoints ? _checkpoints : null,
        Delta = new Delta.DeltaPlanOptions { ClusterSize = ClusterBytes },
    };

    [Test]
    public async Task InitialCopy_lvolToLvol_cutAtHalf_rerunResumesAndSendsAboutTheOtherHalf()
    {
        var target = $"lvol:{_targetStore}#copy";
        await WriteSourceAsync(0, VolumeBytes, seed: 1);

        var rerun = await CutAndRerunAsync(target, VolumeBytes);

        Report("lvol -> lvol (checksum route), initial copy", rerun);
        Assert.That(rerun.Resumed, Is.True);
        Assert.That(rerun.BytesSent, Is.LessThanOrEqualTo((long)(0.55 * VolumeBytes)));
        Assert.That(await ContentAsync(target), Is.EqualTo(await ContentAsync(Source)));
        Assert.That(Directory.GetFiles(_checkpoints, "*.json"), Is.Empty, "the checkpoint is gone once the copy completed");
    }

    [Test]
    public async Task InitialCopy_withoutCheckpoints_rerunAlsoContinues()
    {
        var target = $"lvol:{_targetStore}#copy";
        await WriteSourceAsync(0, VolumeBytes, seed: 1);

        var rerun = await CutAndRerunAsync(target, VolumeBytes, checkpoints: false);

        Report("lvol -> lvol (checksum route), initial copy, no checkpoints", rerun);
        Assert.That(rerun.Resumed, Is.False);
        Assert.That(rerun.BytesSent, Is.LessThanOrEqualTo((long)(0.55 * VolumeBytes)), "a target without snapshots is not rolled back: the planner compares what it holds");
        Assert.That(await ContentAsync(target), Is.EqualTo(await ContentAsync(Source)));
    }

    [Test]
    public async Task IncrementalLiveState_lvolToLvol_cutAtHalf_rerunKeepsThePartialCopyInsteadOfRollingBack()
    {
        var target = $"lvol:{_targetStore}#copy";
        await WriteSourceAsync(0, MiB, seed: 1);
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
        await RefreshAsync(Source, target, Options());
        await WriteSourceAsync(2 * MiB, VolumeBytes - (2 * MiB), seed: 2);

        var changed = VolumeBytes - (2 * MiB);
        var rerun = await CutAndRerunAsync(target, changed);

        Report("lvol -> lvol (checksum route), incremental live state", rerun);
        Assert.That(rerun.Resumed, Is.True);
        Assert.That(rerun.BytesSent, Is.LessThanOrEqualTo((long)(0.55 * changed)));
        Assert.That(await ContentAsync(target), Is.EqualTo(await ContentAsync(Source)));
        Assert.That((await LvolFixture.SnapshotsAsync(target)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task IncrementalLiveState_withoutCheckpoints_rerunStartsOverFromTheBase()
    {
        var target = $"lvol:{_targetStore}#copy";
        await WriteSourceAsync(0, MiB, seed: 1);
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
        await RefreshAsync(Source, target, Options(checkpoints: false));
        await WriteSourceAsync(2 * MiB, VolumeBytes - (2 * MiB), seed: 2);

        var rerun = await CutAndRerunAsync(target, VolumeBytes - (2 * MiB), checkpoints: false);

        Report("lvol -> lvol (checksum route), incremental live state, no checkpoints", rerun);
        Assert.That(rerun.Resumed, Is.False);
        Assert.That(rerun.BytesSent, Is.GreaterThanOrEqualTo((long)VolumeBytes - (2 * MiB)), "the failed run's partial copy was rolled back");
        Assert.That(await ContentAsync(target), Is.EqualTo(await ContentAsync(Source)));
    }

    [Test]
    public async Task Checkpoint_baseSnapshotGone_discardedAndTheRefreshStartsOver()
    {
        var target = $"lvol:{_targetStore}#copy";
        await WriteSourceAsync(0, MiB, seed: 1);
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
        await RefreshAsync(Source, target, Options());
        await WriteSourceAsync(2 * MiB, 8 * MiB, seed: 2);
        await CutAsync(target, Options(), 8 * MiB);
        Assert.That(Directory.GetFiles(_checkpoints, "*.json"), Has.Length.EqualTo(1), "the cut copy left its checkpoint");
        // The base goes away on both sides: the checkpoint's base is no longer the common base.
        await LvolFixture.RunOkAsync("snapshot", "delete", Source, "s1");

        var result = await RefreshAsync(Source, target, Options() with { Plan = new Lineage.RefreshPlanOptions { AllowFullResend = true } });

        Assert.That(result.Resumed, Is.False);
        Assert.That(await ContentAsync(target), Is.EqualTo(await ContentAsync(Source)));
        Assert.That(Directory.GetFiles(_checkpoints, "*.json"), Is.Empty);
    }

    [Test]
    public async Task AbortResume_cliOption_discardsTheCheckpointAndRefreshesFromTheBase()
    {
        var target = $"lvol:{_targetStore}#copy";
        await WriteSourceAsync(0, MiB, seed: 1);
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
        await RefreshAsync(Source, target, Options());
        await WriteSourceAsync(2 * MiB, 8 * MiB, seed: 2);
        await CutAsync(target, Options(), 8 * MiB);

        var report = await LvolFixture.RunJsonAsync("refresh", Source, target, "--no-native", "--checkpoint-dir", _checkpoints, "--abort-resume", "--cluster-size", "64K");

        Assert.That(report.GetProperty("resumed").GetBoolean(), Is.False);
        Assert.That(report.GetProperty("bytesSent").GetInt64(), Is.GreaterThanOrEqualTo(8L * MiB), "rolled back to s1: the whole change moves again");
        Assert.That(await ContentAsync(target), Is.EqualTo(await ContentAsync(Source)));
        Assert.That(Directory.GetFiles(_checkpoints, "*.json"), Is.Empty);
    }

    [Test]
    public async Task InitialCopy_lvolToRbd_cutAtHalf_rerunResumesAndSendsAboutTheOtherHalf()
    {
        BackendRequirement.RequireProgram("rbd");
        BackendRequirement.RequireEnvironment("CEPH_CONF", "a Ceph cluster");
        var pool = BackendRequirement.RequireEnvironment("DELTASNAP_CEPH_POOL_B", "an RBD pool");
        var image = "resume" + Guid.NewGuid().ToString("N")[..10];
        BackendRequirement.Run("rbd", "create", "--size", (VolumeBytes / MiB).ToString(CultureInfo.InvariantCulture) + "M", $"{pool}/{image}");
        try
        {
            var target = $"rbd:{pool}/{image}";
            await WriteSourceAsync(0, VolumeBytes, seed: 1);

            await CutAsync(target, Options(), VolumeBytes);
            // Every device the cut refresh opened was closed when disposed: a handle left to the finalizer keeps its
            // watch on the image (and `rbd rm` refuses an image with watchers).
            Assert.That(BackendRequirement.Run("rbd", "status", $"{pool}/{image}"), Does.Contain("Watchers: none"), "after the cut");
            var rerun = await RefreshAsync(Source, target, Options());

            Report("lvol -> rbd (checksum route), initial copy", rerun);
            Assert.That(rerun.Resumed, Is.True);
            Assert.That(rerun.BytesSent, Is.LessThanOrEqualTo((long)(0.55 * VolumeBytes)));
            Assert.That(await ContentAsync(target), Is.EqualTo(await ContentAsync(Source)));
            Assert.That(BackendRequirement.Run("rbd", "status", $"{pool}/{image}"), Does.Contain("Watchers: none"), "after the rerun");
        }
        finally
        {
            try
            {
                BackendRequirement.Run("rbd", "snap", "purge", $"{pool}/{image}");
            }
            finally
            {
                BackendRequirement.Run("rbd", "rm", $"{pool}/{image}");
            }
        }
    }

    /// <summary>Cuts a refresh at half of its writes, then reruns it; returns the rerun's result.</summary>
    private async Task<RefreshResult> CutAndRerunAsync(string target, long changedBytes, bool checkpoints = true)
    {
        await CutAsync(target, Options(checkpoints), changedBytes);
        if (checkpoints)
        {
            Assert.That(Directory.GetFiles(_checkpoints, "*.json"), Has.Length.EqualTo(1), "the cut copy left its checkpoint");
        }
        return await RefreshAsync(Source, target, Options(checkpoints));
    }

    /// <summary>Runs a refresh whose target device fails after half the writes a whole copy takes.</summary>
    private async Task CutAsync(string target, RefreshOptions options, long changedBytes)
    {
        var context = new CliContext(TextWriter.Null);
        var source = await context.Resolver.OpenVolumeAsync(Source);
        var inner = await context.Resolver.OpenVolumeAsync(target);
        try
        {
            var faulty = new FaultInjectingVolume(inner) { FailDeviceAfterWrites = (int)(changedBytes / ClusterBytes / 2) };
            Assert.That(async () => await context.CreateReplicator().RefreshAsync(source, faulty, options), Throws.InstanceOf<Exception>(), "the cut refresh fails");
        }
        finally
        {
            await source.Driver.DisposeAsync();
            await inner.Driver.DisposeAsync();
        }
    }

    private static async Task<RefreshResult> RefreshAsync(string sourceAddress, string targetAddress, RefreshOptions options)
    {
        var context = new CliContext(TextWriter.Null);
        var source = await context.Resolver.OpenVolumeAsync(sourceAddress);
        var target = await context.Resolver.OpenVolumeAsync(targetAddress);
        try
        {
            return await context.CreateReplicator().RefreshAsync(source, target, options);
        }
        finally
        {
            await source.Driver.DisposeAsync();
            await target.Driver.DisposeAsync();
        }
    }

    private async Task WriteSourceAsync(long offset, int length, int seed)
    {
        var file = _dir.File($"data-{seed}.bin");
        await File.WriteAllBytesAsync(file, LvolFixture.RandomBytes(length, seed));
        await LvolFixture.RunOkAsync("lvol", "import", _sourceStore, "vm1", file, "--offset", offset.ToString(CultureInfo.InvariantCulture));
        File.Delete(file);
    }

    private static async Task<string> ContentAsync(string address)
    {
        var context = new CliContext(TextWriter.Null);
        var volume = await context.Resolver.OpenVolumeAsync(address);
        try
        {
            var device = await volume.OpenDeviceAsync(null);
            await using (device)
            {
                var bytes = new byte[device.Length];
                await device.ReadAsync(0, bytes);
                return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));
            }
        }
        finally
        {
            await volume.Driver.DisposeAsync();
        }
    }

    private static void Report(string pair, RefreshResult rerun) =>
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{pair}: rerun sent {rerun.BytesSent} bytes ({rerun.BytesSent / (double)MiB:F2} MiB of a {VolumeBytes / MiB} MiB volume), resumed {rerun.Resumed}"));
}
