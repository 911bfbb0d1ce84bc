using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Rsync.Tests;

/// <summary>Files vanishing during the transfer, rsync killed mid-transfer, hostile names, and the route choice.</summary>
public sealed class RsyncFailureTests
{
    private const string VanishingFile = "zz-vanishing.txt";

    [Test]
    public async Task Refresh_fileVanishesDuringTransfer_failsAndLeavesTargetAtLastCompleteSnapshot()
    {
        await using var bed = new RsyncTestBed();
        var (source, target, s1Digest) = await PrepareVanishingAsync(bed);
        var replicator = new Replicator { TreeSynchronizer = new VanishingSynchronizer(VanishingFile) };

        var error = Assert.ThrowsAsync<BackendCommandException>(() => replicator.RefreshAsync(source, target, new RefreshOptions()));

        Assert.That(error!.ExitCode, Is.EqualTo(24));
        Assert.That(error.Message, Does.Contain("vanished"));
        Assert.That(error.IsTransient, Is.False, "a vanished file is no broken link: retrying the same snapshot would not help");
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(TreeDigest.Describe(await target.GetPathAsync(null)), Is.EqualTo(s1Digest), "target rolled back to s1");
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
    }

    [Test]
    public async Task Refresh_fileVanishesDuringTransferWhenAllowed_completesWithoutIt()
    {
        await using var bed = new RsyncTestBed();
        var (source, target, _) = await PrepareVanishingAsync(bed);
        var replicator = new Replicator { TreeSynchronizer = new VanishingSynchronizer(VanishingFile) };

        var result = await replicator.RefreshAsync(source, target, new RefreshOptions { AllowVanishedFiles = true });

        Assert.That(result.LiveStateSent, Is.True);
        var live = await target.GetPathAsync(null);
        Assert.That(File.Exists(Path.Combine(live, VanishingFile)), Is.False);
        Assert.That(TestTrees.Hash(Path.Combine(live, "big.bin")), Is.EqualTo(TestTrees.Hash(Path.Combine(await source.GetPathAsync(null), "big.bin"))));
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
    }

    [Test]
    public async Task Refresh_rsyncKilledMidTransfer_rollsBackAndNextRunCompletes()
    {
        await using var bed = new RsyncTestBed();
        var source = await bed.DirAsync();
        var target = await bed.BtrfsAsync('b');
        var (good, killing, s1Digest) = await PrepareKilledRefreshAsync(bed, source, target);

        var error = Assert.ThrowsAsync<BackendCommandException>(() => killing.RefreshAsync(source, target, new RefreshOptions()));

        Assert.That(error!.ExitCode, Is.EqualTo(128 + 9), error.Message);
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(TreeDigest.Describe(await target.GetPathAsync(null)), Is.EqualTo(s1Digest), "target rolled back to s1");

        var result = await good.RefreshAsync(source, target, new RefreshOptions());

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        await RsyncRefreshTests.AssertEqualAsync(source, target, ["s1", "s2"], TreeDigestOptions.Full);
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
        Assert.That((await target.GetLineageAsync()).Temporary, Is.Empty);
    }

    /// <summary>
    /// Refreshes s1 (a full tree) from a dir: source, then adds 8 MiB and changes, snapshots s2, and returns a replicator
    /// whose rsync (slowed to 1 MiB/s) is killed by its PID with SIGKILL after a second, a good one, and the target's
    /// live digest after s1.
    /// </summary>
    internal static async Task<(Replicator Good, Replicator Killing, IReadOnlyList<string> LiveDigest)> PrepareKilledRefreshAsync(RsyncTestBed bed, Volume source, Volume target)
    {
        var sourcePath = await source.GetPathAsync(null);
        TestTrees.Build(sourcePath, xattrs: true);
        await source.CreateSnapshotAsync("s1");
        var good = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() };
        await good.RefreshAsync(source, target, new RefreshOptions());
        var liveDigest = TreeDigest.Describe(await target.GetPathAsync(null));
        File.WriteAllBytes(Path.Combine(sourcePath, "a-new-big.bin"), TestTrees.Random(8 << 20, 77));
        TestTrees.Change(sourcePath, xattrs: true, 1);
        await source.CreateSnapshotAsync("s2");
        var script = Path.Combine(bed.NewDirectory(Path.GetTempPath()), "killing-rsync");
        File.WriteAllText(script, "#!/bin/sh\nrsync \"$@\" &\npid=$!\nsleep 1\nkill -KILL $pid\nwait $pid\nexit $?\n");
        File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        var killing = new Replicator
        {
            TreeSynchronizer = new RsyncTreeSynchronizer(new RsyncTreeSynchronizerOptions { RsyncPath = script, BandwidthLimitKiBPerSecond = 1024 }),
        };
        return (good, killing, liveDigest);
    }

    [Test]
    public async Task Refresh_cancelledMidTransfer_killsRsyncAndRollsBack()
    {
        await using var bed = new RsyncTestBed();
        var source = await bed.DirAsync();
        var target = await bed.DirAsync();
        var sourcePath = await source.GetPathAsync(null);
        File.WriteAllBytes(Path.Combine(sourcePath, "big.bin"), TestTrees.Random(8 << 20, 5));
        await source.CreateSnapshotAsync("s1");
        var slow = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer(new RsyncTreeSynchronizerOptions { BandwidthLimitKiBPerSecond = 1024 }) };
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));

        Assert.That(async () => await slow.RefreshAsync(source, target, new RefreshOptions(), cancellationToken: cancel.Token),
            Throws.InstanceOf<OperationCanceledException>());

        Assert.That((await target.GetLineageAsync()).Count, Is.Zero);
        Assert.That((await source.GetLineageAsync()).Temporary, Is.Empty);
        var result = await new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() }.RefreshAsync(source, target, new RefreshOptions());
        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        Assert.That(TestTrees.Hash(Path.Combine(await target.GetPathAsync("s1"), "big.bin")), Is.EqualTo(TestTrees.Hash(Path.Combine(sourcePath, "big.bin"))));
    }

    [TestCase(10, true)]
    [TestCase(12, true)]
    [TestCase(30, true)]
    [TestCase(35, true)]
    [TestCase(23, false)]
    [TestCase(24, false)]
    [TestCase(1, false)]
    public async Task Synchronize_rsyncFails_throwsBackendCommandExceptionTransientOnlyForLinkErrors(int exitCode, bool transient)
    {
        await using var bed = new RsyncTestBed();
        var scratch = bed.NewDirectory(Path.GetTempPath());
        var script = Path.Combine(scratch, "failing-rsync");
        File.WriteAllText(script, $"#!/bin/sh\necho 'rsync error: simulated' >&2\nexit {exitCode}\n");
        File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        var synchronizer = new RsyncTreeSynchronizer(new RsyncTreeSynchronizerOptions { RsyncPath = script });
        var source = bed.NewDirectory(Path.GetTempPath());
        var target = bed.NewDirectory(Path.GetTempPath());

        var error = Assert.ThrowsAsync<BackendCommandException>(() =>
            synchronizer.SynchronizeAsync(new TreeSyncRequest { SourceDirectory = source, TargetDirectory = target }));

        Assert.That(error!.ExitCode, Is.EqualTo(exitCode));
        Assert.That(error.IsTransient, Is.EqualTo(transient));
        Assert.That(error.CommandLine, Does.StartWith(script + " ").And.EndWith(" -- " + source + "/ " + target + "/"));
        Assert.That(error.StandardError, Does.StartWith("rsync error: simulated").And.Contain(target));
    }

    [Test]
    public async Task Synchronize_verboseOutputLongerThanTheKeptTail_stillReadsStats()
    {
        await using var bed = new RsyncTestBed();
        var scratch = bed.NewDirectory(Path.GetTempPath());
        var script = Path.Combine(scratch, "chatty-rsync");
        // 200,000 lines of file names (about 3 MB, far over the 64 Ki characters kept), then the --stats block.
        File.WriteAllText(script, "#!/bin/sh\nseq 1 200000 | sed 's/^/some\\/file-/'\n"
            + "printf 'Number of regular files transferred: 1,234\\nTotal transferred file size: 5,678\\nLiteral data: 910\\nTotal bytes sent: 1,112\\n'\nexit 0\n");
        File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        var synchronizer = new RsyncTreeSynchronizer(new RsyncTreeSynchronizerOptions { RsyncPath = script });

        var result = await synchronizer.SynchronizeAsync(new TreeSyncRequest
        {
            SourceDirectory = bed.NewDirectory(Path.GetTempPath()),
            TargetDirectory = bed.NewDirectory(Path.GetTempPath()),
        });

        Assert.That(result.FilesTransferred, Is.EqualTo(1234));
        Assert.That(result.TransferredFileBytes, Is.EqualTo(5678));
        Assert.That(result.LiteralBytes, Is.EqualTo(910));
        Assert.That(result.BytesSent, Is.EqualTo(1112));
    }

    [TestCase("-rf")]
    [TestCase("a;b")]
    [TestCase("../up")]
    [TestCase("x\ny")]
    [TestCase("$(reboot)")]
    public async Task CreateSnapshot_hostileName_refusedBeforeAnyProgramRuns(string name)
    {
        await using var bed = new RsyncTestBed();
        var volume = await bed.DirAsync();

        Assert.That(async () => await volume.CreateSnapshotAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That((await volume.GetLineageAsync()).Count, Is.Zero);
    }

    [TestCase("--delete")]
    [TestCase("-e")]
    [TestCase(".hidden")]
    [TestCase("a b")]
    public void DirDriver_hostileVolumeName_refused(string name)
    {
        var driver = new DirDriver(Path.GetTempPath());
        Assert.That(async () => await driver.OpenVolumeAsync(name), Throws.InstanceOf<ArgumentException>());
        Assert.That(async () => await driver.CreateVolumeAsync(name, new VolumeCreateOptions { Kind = VolumeKind.Filesystem }), Throws.InstanceOf<ArgumentException>());
    }

    [TestCase("relative/path")]
    [TestCase("/tmp/x\n/etc")]
    [TestCase("/tmp/../etc")]
    public void DirDriver_hostileRoot_refused(string root) =>
        Assert.That(() => new DirDriver(root), Throws.InstanceOf<ArgumentException>());

    [Test]
    public async Task Synchronize_hostileOrOverlappingPaths_refusedBeforeRsyncStarts()
    {
        await using var bed = new RsyncTestBed();
        var scratch = bed.NewDirectory(Path.GetTempPath());
        var marker = Path.Combine(scratch, "rsync-ran");
        var script = Path.Combine(scratch, "marking-rsync");
        File.WriteAllText(script, $"#!/bin/sh\ntouch '{marker}'\nexit 0\n");
        File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        var synchronizer = new RsyncTreeSynchronizer(new RsyncTreeSynchronizerOptions { RsyncPath = script });
        var inside = Directory.CreateDirectory(Path.Combine(scratch, "inside")).FullName;
        string[][] bad =
        [
            ["relative", scratch],
            [scratch + "/../" + Path.GetFileName(scratch), "/tmp"],
            [scratch, inside],
            [scratch + "/missing", "/tmp"],
            ["/tmp/a\u0001b", scratch],
        ];
        foreach (var pair in bad)
        {
            Assert.That(async () => await synchronizer.SynchronizeAsync(new TreeSyncRequest { SourceDirectory = pair[0], TargetDirectory = pair[1] }),
                Throws.InstanceOf<ArgumentException>(), $"{pair[0]} -> {pair[1]}");
        }
        Assert.That(File.Exists(marker), Is.False, "rsync never started");

        await synchronizer.SynchronizeAsync(new TreeSyncRequest { SourceDirectory = inside, TargetDirectory = bed.NewDirectory(Path.GetTempPath()) });
        Assert.That(File.Exists(marker), Is.True, "the marker works");
    }

    [Test]
    public void Options_hostileExtraArgumentsOrProgram_refused()
    {
        Assert.That(() => new RsyncTreeSynchronizerOptions { ExtraArguments = ["/etc/passwd"] }, Throws.InstanceOf<ArgumentException>());
        Assert.That(() => new RsyncTreeSynchronizerOptions { ExtraArguments = ["-e"] }, Throws.InstanceOf<ArgumentException>());
        Assert.That(() => new RsyncTreeSynchronizerOptions { RsyncPath = "bin/rsync" }, Throws.InstanceOf<ArgumentException>());
        Assert.That(() => new RsyncTreeSynchronizerOptions { BandwidthLimitKiBPerSecond = -1 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void BuildArguments_copyOnWriteTarget_updatesInPlaceAndKeepsEverything()
    {
        var synchronizer = new RsyncTreeSynchronizer(new RsyncTreeSynchronizerOptions { BandwidthLimitKiBPerSecond = 500, ExtraArguments = ["--checksum"] });
        var cow = synchronizer.BuildArguments(new TreeSyncRequest { SourceDirectory = "/s", TargetDirectory = "/t", TargetIsCopyOnWrite = true });
        var plain = synchronizer.BuildArguments(new TreeSyncRequest { SourceDirectory = "/s", TargetDirectory = "/t" });

        Assert.That(cow, Is.SupersetOf(new[] { "--archive", "--hard-links", "--acls", "--xattrs", "--filter=-x security.selinux", "--numeric-ids", "--sparse", "--delete", "--inplace", "--no-whole-file", "--bwlimit=500", "--checksum" }));
        Assert.That(cow.TakeLast(3), Is.EqualTo(new[] { "--", "/s/", "/t/" }));
        Assert.That(plain, Does.Not.Contain("--inplace"));
    }

    [Test]
    public async Task ChooseRoute_fileSystemVolumesOfDifferentBackends_needsSynchronizer()
    {
        await using var bed = new RsyncTestBed();
        var dir = await bed.DirAsync();
        var btrfs = await bed.BtrfsAsync('a');

        Assert.That(() => Replicator.ChooseRoute(dir, btrfs), Throws.InstanceOf<NotSupportedException>().With.Message.Contains("RsyncTreeSynchronizer"));
        Assert.That(Replicator.ChooseRoute(dir, btrfs, null, new RsyncTreeSynchronizer()), Is.EqualTo(RefreshRoute.Rsync));
        Assert.That(async () => await new Replicator().RefreshAsync(dir, btrfs), Throws.InstanceOf<NotSupportedException>());
    }

    private static async Task<(Volume Source, Volume Target, IReadOnlyList<string> S1Digest)> PrepareVanishingAsync(RsyncTestBed bed)
    {
        var source = await bed.DirAsync();
        var target = await bed.BtrfsAsync('b');
        var sourcePath = await source.GetPathAsync(null);
        File.WriteAllBytes(Path.Combine(sourcePath, "big.bin"), TestTrees.Random(4 << 20, 1));
        await source.CreateSnapshotAsync("s1");
        await new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer() }.RefreshAsync(source, target, new RefreshOptions());
        var s1Digest = TreeDigest.Describe(await target.GetPathAsync(null));
        // The live state: big.bin rewritten whole (sent first, slowly), then a small file that vanishes meanwhile.
        File.WriteAllBytes(Path.Combine(sourcePath, "big.bin"), TestTrees.Random(4 << 20, 2));
        // Same size, and maybe the same second as s1's copy: a later time keeps rsync's quick check from skipping it.
        File.SetLastWriteTimeUtc(Path.Combine(sourcePath, "big.bin"), DateTime.UtcNow.AddMinutes(1));
        File.WriteAllText(Path.Combine(sourcePath, VanishingFile), "here at the start");
        return (source, target, s1Digest);
    }

    /// <summary>
    /// The real rsync, slowed to 1 MiB/s, while the file <c>name</c> is deleted from the temporary live-state snapshot
    /// once rsync has opened <c>big.bin</c> to send it: the file list (with <c>name</c> in it) is complete by then, and
    /// <c>name</c> sorts after <c>big.bin</c>, so rsync finds it gone when its turn comes (4 MiB at 1 MiB/s leave
    /// seconds for the deletion, whatever the machine's load).
    /// </summary>
    private sealed class VanishingSynchronizer(string name) : TreeSynchronizer
    {
        private readonly RsyncTreeSynchronizer _inner = new(new RsyncTreeSynchronizerOptions { BandwidthLimitKiBPerSecond = 1024 });

        protected override async Task<TreeSyncResult> SynchronizeCoreAsync(TreeSyncRequest request, CancellationToken cancellationToken)
        {
            var sync = _inner.SynchronizeAsync(request, cancellationToken);
            if (request.SourceDirectory.Contains(TemporarySnapshot.Prefix, StringComparison.Ordinal))
            {
                var big = Path.Combine(request.SourceDirectory, "big.bin");
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (!RsyncHasOpen(big))
                {
                    if (sync.IsCompleted)
                    {
                        Assert.Fail($"rsync ended before it was seen sending big.bin: {(sync.IsFaulted ? sync.Exception!.InnerException!.Message : "succeeded: " + (await sync).LiteralBytes + " literal bytes")}");
                    }
                    Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "rsync never opened big.bin");
                    await Task.Delay(10, cancellationToken);
                }
                File.Delete(Path.Combine(request.SourceDirectory, name));
            }
            return await sync;
        }

        /// <summary>Whether an rsync process of this machine has <paramref name="path"/> open (from /proc/PID/fd).</summary>
        private static bool RsyncHasOpen(string path)
        {
            foreach (var process in Directory.EnumerateDirectories("/proc"))
            {
                try
                {
                    if (!int.TryParse(Path.GetFileName(process), out _) || File.ReadAllText(Path.Combine(process, "comm")).Trim() != "rsync")
                    {
                        continue;
                    }
                    foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(process, "fd")))
                    {
                        if (new FileInfo(fd).LinkTarget == path)
                        {
                            return true;
                        }
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The process ended while being looked at.
                }
            }
            return false;
        }
    }
}
