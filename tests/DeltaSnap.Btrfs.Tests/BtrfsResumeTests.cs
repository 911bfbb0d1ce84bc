using System.Globalization;
using System.IO.Hashing;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Btrfs.Tests;

/// <summary>
/// Resume of interrupted native refreshes (btrfs-progs has none, btrfs-progs#720): with a checkpoint directory the
/// stream is spooled on the receiving side, a cut refresh keeps what was spooled, and the rerun makes the source send
/// only the rest after checking the digest of the spooled prefix. Runs against the real Btrfs loop mounts; the
/// volume's size for the measured cut is <c>DELTASNAP_BTRFS_RESUME_MIB</c> (default 64 MiB; the 1 GiB mounts take ~480).
/// </summary>
public sealed class BtrfsResumeTests : BtrfsTestBase
{
    private const long MiB = 1 << 20;

    private string _checkpoints = "";

    [SetUp]
    public void CreateCheckpointDirectory()
    {
        _checkpoints = Path.Combine(Path.GetTempPath(), "deltasnap-btrfs-resume-" + Guid.NewGuid().ToString("N")[..12]);
    }

    [TearDown]
    public void RemoveCheckpointDirectory()
    {
        if (Directory.Exists(_checkpoints))
        {
            Directory.Delete(_checkpoints, recursive: true);
        }
    }

    private RefreshOptions Options => new() { CheckpointDirectory = _checkpoints, CheckpointInterval = TimeSpan.FromMilliseconds(200) };

    [Test]
    public async Task Refresh_cutHalfWayThroughAFullSend_rerunSendsOnlyTheRestAndLeavesNoSpool()
    {
        var size = MeasuredSize();
        var (source, target) = await VolumesAsync(size, snapshot: true);
        var replicator = new Replicator(Logs);

        var spooled = await CutAsync(replicator, source, target, size / 2);

        Assert.That(Logs.Logged(1111), Is.True, "the cut refresh says it kept the spool");
        Assert.That((await target.GetLineageAsync()).Count, Is.Zero, "nothing reached the target before the stream was complete");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var rerun = await replicator.RefreshAsync(source, target, Options);
        clock.Stop();

        var ratio = (double)rerun.BytesSent / rerun.BytesWritten;
        await TestContext.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"volume {size / MiB} MiB, stream {rerun.BytesWritten} bytes, spooled before the cut {spooled} bytes, rerun sent {rerun.BytesSent} bytes = {ratio:F3} of the stream ({(double)rerun.BytesSent / size:F3} of the data) in {clock.Elapsed.TotalSeconds:F1} s"));
        Assert.That(rerun.Resumed, Is.True);
        Assert.That(Logs.Logged(1110), Is.True, "the rerun says it resumes");
        Assert.That(rerun.BytesSent, Is.EqualTo(rerun.BytesWritten - spooled), "the source sent exactly what was not spooled");
        Assert.That(ratio, Is.LessThanOrEqualTo(0.55));
        Assert.That(rerun.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        Assert.That(TreeDigest.Compute(await target.GetPathAsync("s1")), Is.EqualTo(TreeDigest.Compute(await source.GetPathAsync("s1"))));
        await AssertCleanAsync(source, target);
    }

    [Test]
    public async Task Refresh_cutDuringAnIncremental_rerunResumesFromTheSameBase()
    {
        var (source, target) = await VolumesAsync(4 * MiB, snapshot: true);
        var replicator = new Replicator(Logs);
        await replicator.RefreshAsync(source, target, Options);
        TestData.WriteFile(Path.Combine(source.LivePath, "grown.bin"), 48 * MiB, seed: 7);
        await source.CreateSnapshotAsync("s2");

        var spooled = await CutAsync(replicator, source, target, 16 * MiB);
        var rerun = await replicator.RefreshAsync(source, target, Options);

        Assert.That(rerun.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(rerun.Resumed, Is.True);
        Assert.That(rerun.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That(rerun.BytesSent, Is.EqualTo(rerun.BytesWritten - spooled));
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        Assert.That((await target.GetLineageAsync()).Select(s => s.ReceivedFrom), Is.EqualTo((await source.GetLineageAsync()).Select(s => (SnapshotIdentity?)s.Identity)));
        await AssertCleanAsync(source, target);
    }

    [Test]
    public async Task Refresh_cutWhileSendingTheLiveStateCapture_captureKeptThenResentAndTheNewLiveStateFollows()
    {
        var (source, target) = await VolumesAsync(48 * MiB, snapshot: false);
        var replicator = new Replicator(Logs);

        var spooled = await CutAsync(replicator, source, target, 16 * MiB);

        var kept = (await source.GetLineageAsync()).Temporary;
        Assert.That(kept, Has.Count.EqualTo(1), "the capture whose stream is spooled stays on the source");
        File.WriteAllText(Path.Combine(source.LivePath, "written-after-the-cut.txt"), "the rerun must bring this too\n");
        var rerun = await replicator.RefreshAsync(source, target, Options);

        Assert.That(rerun.Resumed, Is.True);
        Assert.That(rerun.LiveStateSent, Is.True);
        Assert.That(rerun.BytesSent, Is.LessThan(rerun.BytesWritten - spooled + MiB), "the rest of the capture, then a small incremental");
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        await AssertCleanAsync(source, target);
    }

    [Test]
    public async Task Refresh_cutWhileSendingAnUnchangedLiveState_rerunPromotesTheResentCapture()
    {
        var (source, target, replicator, spooled) = await CutVolumesAsync(snapshot: false);

        var rerun = await replicator.RefreshAsync(source, target, Options);

        Assert.That(rerun.Resumed, Is.True);
        Assert.That(rerun.BytesSent, Is.EqualTo(rerun.BytesWritten - spooled), "no second capture: the live state did not move");
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        await AssertCleanAsync(source, target);
    }

    [Test]
    public async Task Refresh_spoolDamaged_discardedWithAWarningAndSentAgainInFull()
    {
        var (source, target, replicator, spooled) = await CutVolumesAsync(snapshot: true);
        var spool = RefreshCheckpoint.SpoolPathOf(_checkpoints, target.Address);
        await using (var file = new FileStream(spool, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = spooled / 2;
            var b = file.ReadByte();
            file.Position = spooled / 2;
            file.WriteByte((byte)(b ^ 0x40));
        }

        var rerun = await replicator.RefreshAsync(source, target, Options);

        Assert.That(Warnings(1108), Has.Some.Contains("is damaged"));
        await AssertStartedOverAsync(rerun, source, target);
    }

    [Test]
    public async Task Refresh_spoolHoldsAnotherStream_sourceRefusesThePrefixAndTheStreamIsSentAgainInFull()
    {
        var (source, target, replicator, _) = await CutVolumesAsync(snapshot: true);
        // Another volume's stream in the spool, with a checkpoint that vouches for it: only the source can tell.
        var other = await CreateVolumeAsync(Source, "other");
        TestData.WriteFile(Path.Combine(other.LivePath, "other.bin"), 24 * MiB, seed: 99);
        await other.CreateSnapshotAsync("s1");
        var spool = RefreshCheckpoint.SpoolPathOf(_checkpoints, target.Address);
        await using (var file = new FileStream(spool, FileMode.Create, FileAccess.Write))
        {
            await other.SendAsync(null, "s1", file);
        }
        var bytes = await File.ReadAllBytesAsync(spool);
        var checkpoint = await RefreshCheckpoint.LoadAsync(_checkpoints, target.Address, CancellationToken.None);
        await (checkpoint! with { SpoolBytes = bytes.Length, SpoolDigest = NativeStreamSpool.Format(XxHash128.HashToUInt128(bytes)) }).SaveAsync(_checkpoints, CancellationToken.None);

        var rerun = await replicator.RefreshAsync(source, target, Options);

        Assert.That(Warnings(1108), Has.Some.Contains("does not begin with"));
        await AssertStartedOverAsync(rerun, source, target);
    }

    [Test]
    public async Task Refresh_spooledSnapshotDeletedOnTheSource_checkpointDiscardedWithItsNameAndTheRefreshStartsOver()
    {
        var (source, target, replicator, _) = await CutVolumesAsync(snapshot: true);
        await source.DeleteSnapshotAsync("s1");
        await source.CreateSnapshotAsync("s2");

        var rerun = await replicator.RefreshAsync(source, target, Options);

        Assert.That(Warnings(1108), Has.Some.Contains("s1").And.Contains("is gone from the source"));
        Assert.That(rerun.Resumed, Is.False);
        Assert.That(rerun.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        await AssertCleanAsync(source, target);
    }

    [Test]
    public async Task Refresh_keptCaptureDeletedOnTheSource_checkpointDiscardedWithItsNameAndTheRefreshStartsOver()
    {
        var (source, target, replicator, _) = await CutVolumesAsync(snapshot: false);
        var capture = (await source.GetLineageAsync()).Temporary.Single();
        await source.DeleteSnapshotAsync(capture.Name);

        var rerun = await replicator.RefreshAsync(source, target, Options);

        Assert.That(Warnings(1108), Has.Some.Contains(capture.Name).And.Contains("is gone from the source"));
        await AssertStartedOverAsync(rerun, source, target);
    }

    [Test]
    public async Task Refresh_abortResume_discardsTheSpoolAndTheKeptCaptureAndSendsEverything()
    {
        var (source, target, replicator, _) = await CutVolumesAsync(snapshot: false);

        var rerun = await replicator.RefreshAsync(source, target, Options with { AbortResume = true });

        Assert.That(Warnings(1108), Has.Some.Contains("abort the resume"));
        await AssertStartedOverAsync(rerun, source, target);
    }

    [Test]
    public async Task Refresh_withoutCheckpointDirectory_cutRefreshLeavesNothingAndTheRerunSendsEverything()
    {
        var (source, target) = await VolumesAsync(48 * MiB, snapshot: true);
        var replicator = new Replicator(Logs);
        using var cut = new CancellationTokenSource();
        // Cut once the stream is flowing (not after a fixed time, which a fast machine outruns): 4 MiB of 48 sent.
        var cutOnceFlowing = new SynchronousProgress(p =>
        {
            if (p.Stage == "sending" && p.BytesDone >= 4 * MiB)
            {
                cut.Cancel();
            }
        });
        Assert.That(() => replicator.RefreshAsync(source, target, progress: cutOnceFlowing, cancellationToken: cut.Token), Throws.InstanceOf<OperationCanceledException>());

        var rerun = await replicator.RefreshAsync(source, target);

        Assert.That(rerun.Resumed, Is.False);
        Assert.That(rerun.BytesSent, Is.EqualTo(rerun.BytesWritten));
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        Assert.That(Directory.Exists(_checkpoints), Is.False);
    }

    [Test]
    public async Task Refresh_cutIncrementalSend_leavesTheTargetsLiveStateAsItWasAndTheRerunReplacesIt()
    {
        // btrfs receive makes a new subvolume from the base snapshot and never writes the live one
        // (NativeReceiveLeavesLiveState): no rollback comes before it, so a refresh cut before its promotion leaves the
        // target's live subvolume as it was, and the next refresh replaces it whole.
        var (source, target) = await VolumesAsync(4 * MiB, snapshot: true);
        var replicator = new Replicator(Logs);
        await replicator.RefreshAsync(source, target);
        TestData.WriteFile(Path.Combine(source.LivePath, "big.bin"), 48 * MiB, seed: 42);
        await source.CreateSnapshotAsync("s2");
        var writtenOnTarget = Path.Combine(target.LivePath, "written-on-the-target.txt");
        await File.WriteAllTextAsync(writtenOnTarget, "kept until a refresh completes");
        using var cut = new CancellationTokenSource();
        var cutOnceFlowing = new SynchronousProgress(p =>
        {
            if (p.Stage == "sending" && p.BytesDone >= 4 * MiB)
            {
                cut.Cancel();
            }
        });

        Assert.That(() => replicator.RefreshAsync(source, target, progress: cutOnceFlowing, cancellationToken: cut.Token), Throws.InstanceOf<OperationCanceledException>());

        Assert.That(File.Exists(writtenOnTarget), Is.True, "the target's live state was not rolled back");
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }), "nothing half-received is a snapshot");
        var rerun = await replicator.RefreshAsync(source, target);
        Assert.That(rerun.SnapshotsSent, Does.Contain("s2"));
        Assert.That(File.Exists(writtenOnTarget), Is.False);
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
    }

    [Test]
    public async Task Refresh_afterAPromotionKilledBetweenItsRenames_putsTheLiveStateBackAndLeavesNothing()
    {
        // What a kill inside a promotion leaves (ReplaceLiveAsync): the live subvolume moved aside as ".deltasnap-replaced.…",
        // the new one still at ".deltasnap-staging.…". The next refresh has nothing to send, yet must repair the target.
        var (source, target) = await VolumesAsync(4 * MiB, snapshot: true);
        var replicator = new Replicator(Logs);
        await replicator.RefreshAsync(source, target);
        var root = Path.GetDirectoryName(target.LivePath)!;
        var name = Path.GetFileName(target.LivePath);
        Directory.Move(target.LivePath, Path.Combine(root, $".deltasnap-replaced.0123456789ab.{name}"));
        BackendRequirement.Run("btrfs", "-q", "subvolume", "snapshot", Path.Combine(target.SnapshotDirectory, "s1"), Path.Combine(root, $".deltasnap-staging.0123456789ab.{name}"));

        var rerun = await replicator.RefreshAsync(source, target);

        Assert.That(rerun.SnapshotsSent, Is.Empty);
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        Assert.That(Entries(root).Where(e => e.StartsWith(".deltasnap-staging.", StringComparison.Ordinal) || e.StartsWith(".deltasnap-replaced.", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public async Task SendAfterPrefix_matchingPrefix_writesExactlyTheRest()
    {
        var (source, stream) = await WholeStreamAsync();
        var prefix = stream.Length / 3;

        var rest = new MemoryStream();
        var matched = await source.SendAfterPrefixAsync(null, "s1", prefix, XxHash128.HashToUInt128(stream.AsSpan(0, prefix)), rest);
        var everything = new MemoryStream();
        var all = await source.SendAfterPrefixAsync(null, "s1", stream.Length, XxHash128.HashToUInt128(stream), everything);

        Assert.That(matched, Is.True);
        Assert.That(rest.ToArray(), Is.EqualTo(stream.AsSpan(prefix).ToArray()));
        Assert.That(all, Is.True);
        Assert.That(everything.Length, Is.Zero);
    }

    [Test]
    public async Task SendAfterPrefix_otherPrefixOrLongerThanTheStream_returnsFalseHavingWrittenNothing()
    {
        var (source, stream) = await WholeStreamAsync();
        var flipped = stream.AsSpan(0, 4096).ToArray();
        flipped[100] ^= 1;

        var differs = new MemoryStream();
        var differing = await source.SendAfterPrefixAsync(null, "s1", flipped.Length, XxHash128.HashToUInt128(flipped), differs);
        var longer = new MemoryStream();
        var tooLong = await source.SendAfterPrefixAsync(null, "s1", stream.Length + 1, XxHash128.HashToUInt128(stream), longer);

        Assert.That(differing, Is.False);
        Assert.That(differs.Length, Is.Zero);
        Assert.That(tooLong, Is.False);
        Assert.That(longer.Length, Is.Zero);
    }

    /// <summary>A 6 MiB source with snapshot s1, and s1's whole stream as <c>btrfs send</c> writes it.</summary>
    private async Task<(BtrfsVolume Source, byte[] Stream)> WholeStreamAsync()
    {
        var (source, _) = await VolumesAsync(6 * MiB, snapshot: true);
        var whole = new MemoryStream();
        await source.SendAsync(null, "s1", whole);
        return (source, whole.ToArray());
    }

    /// <summary>The volume size of the measured cut: <c>DELTASNAP_BTRFS_RESUME_MIB</c>, default 64 MiB.</summary>
    private static long MeasuredSize() =>
        (Environment.GetEnvironmentVariable("DELTASNAP_BTRFS_RESUME_MIB") is { Length: > 0 } text ? long.Parse(text, CultureInfo.InvariantCulture) : 64) * MiB;

    /// <summary>A source with a few small files and one large file of <paramref name="bytes"/> random bytes (and snapshot s1 when asked), and an empty target.</summary>
    private async Task<(BtrfsVolume Source, BtrfsVolume Target)> VolumesAsync(long bytes, bool snapshot)
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 40, files: 4, fileSize: 64 * 1024);
        TestData.WriteFile(Path.Combine(source.LivePath, "big.bin"), bytes, seed: 41);
        if (snapshot)
        {
            await source.CreateSnapshotAsync("s1");
        }
        return (source, target);
    }

    /// <summary>A source of 48 MiB (with snapshot s1 when asked) whose first refresh was cut once 16 MiB were spooled.</summary>
    private async Task<(BtrfsVolume Source, BtrfsVolume Target, Replicator Replicator, long Spooled)> CutVolumesAsync(bool snapshot)
    {
        var (source, target) = await VolumesAsync(48 * MiB, snapshot);
        var replicator = new Replicator(Logs);
        return (source, target, replicator, await CutAsync(replicator, source, target, 16 * MiB));
    }

    /// <summary>Starts a refresh with checkpoints and cancels it once the spool holds <paramref name="bytes"/>; returns the bytes the spool kept.</summary>
    private async Task<long> CutAsync(Replicator replicator, BtrfsVolume source, BtrfsVolume target, long bytes)
    {
        var spool = RefreshCheckpoint.SpoolPathOf(_checkpoints, target.Address);
        using var cut = new CancellationTokenSource();
        var watching = Task.Run(async () =>
        {
            while (!cut.IsCancellationRequested)
            {
                if (File.Exists(spool) && new FileInfo(spool).Length >= bytes)
                {
                    await cut.CancelAsync();
                    return;
                }
                await Task.Delay(2, CancellationToken.None);
            }
        }, CancellationToken.None);
        Assert.That(() => replicator.RefreshAsync(source, target, Options, cancellationToken: cut.Token), Throws.InstanceOf<OperationCanceledException>(),
            "the refresh was cut before it completed");
        await cut.CancelAsync();
        await watching;
        var checkpoint = await RefreshCheckpoint.LoadAsync(_checkpoints, target.Address, CancellationToken.None);
        Assert.That(checkpoint, Is.Not.Null);
        Assert.That(checkpoint!.Route, Is.EqualTo(RefreshCheckpoint.NativeRoute));
        Assert.That(checkpoint.SpoolBytes, Is.EqualTo(new FileInfo(spool).Length), "the checkpoint records what the spool holds");
        Assert.That(checkpoint.SpoolBytes, Is.GreaterThanOrEqualTo(bytes));
        Assert.That(checkpoint.SpoolComplete, Is.False);
        Assert.That(Warnings(1103), Is.Empty, "the cleanup after the cut found nothing it could not do");
        return checkpoint.SpoolBytes;
    }

    private string[] Warnings(int eventId) => Logs.Entries.Where(e => e.Id.Id == eventId).Select(e => e.Message).ToArray();

    /// <summary>A rerun that sent its whole stream again (no resume) and left the target equal to the source, with nothing left over.</summary>
    private async Task AssertStartedOverAsync(RefreshResult rerun, BtrfsVolume source, BtrfsVolume target)
    {
        Assert.That(rerun.Resumed, Is.False);
        Assert.That(rerun.BytesSent, Is.EqualTo(rerun.BytesWritten), "sent again from the start");
        Assert.That(TreeDigest.Describe(target.LivePath), Is.EqualTo(TreeDigest.Describe(source.LivePath)));
        await AssertCleanAsync(source, target);
    }

    /// <summary>No temporary snapshot on either side, no spool and no checkpoint left.</summary>
    private async Task AssertCleanAsync(BtrfsVolume source, BtrfsVolume target)
    {
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
        Assert.That((await target.GetLineageAsync()).Temporary, Is.Empty);
        Assert.That(Entries(source.SnapshotDirectory).Where(TemporarySnapshot.IsTemporary), Is.Empty);
        Assert.That(Entries(target.SnapshotDirectory).Where(TemporarySnapshot.IsTemporary), Is.Empty);
        Assert.That(Directory.Exists(_checkpoints) ? Directory.GetFiles(_checkpoints) : [], Is.Empty, "no checkpoint or spool left");
    }

    /// <summary>Reports on the reporting thread, so a cut lands while the stream is still flowing.</summary>
    private sealed class SynchronousProgress(Action<RefreshProgress> report) : IProgress<RefreshProgress>
    {
        public void Report(RefreshProgress value) => report(value);
    }
}
