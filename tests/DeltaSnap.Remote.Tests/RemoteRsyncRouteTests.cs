using System.Security.Cryptography;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using DeltaSnap.Rsync;
using DeltaSnap.Testing;

namespace DeltaSnap.Remote.Tests;

/// <summary>
/// The rsync route between machines through an in-memory session: the local rsync client's remote shell relayed to
/// <c>rsync --server</c> on the server (<c>volume.treeServer</c>), push and pull between dir: volumes, the server's
/// refusal of command lines the route does not produce, and a connection cut in the middle of an rsync.
/// </summary>
[NonParallelizable]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RemoteRsyncRouteTests
{
    private static VolumeServerOptions ServerOptions => new() { TreeSynchronizer = new RsyncTreeSynchronizer() };

    private static Replicator NewReplicator() => new() { TreeSynchronizer = new RsyncTreeSynchronizer() };

    [Test]
    public async Task Push_dirToRemoteDir_targetEqualsSourceWithSnapshotsByIdentity()
    {
        using var dir = new TempDirectory();
        var source = await LocalDirAsync(dir.File("a"));
        Directory.CreateDirectory(dir.File("b"));
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions);
        var target = await loop.Session.CreateVolumeAsync("dir:" + dir.File("b/vol"), new VolumeCreateOptions { Kind = VolumeKind.Filesystem });

        WriteTree(dir.File("a/vol"), seed: 1);
        await source.CreateSnapshotAsync("s1");
        var first = await NewReplicator().RefreshAsync(source, target);
        ChangeTree(dir.File("a/vol"), seed: 2);
        await source.CreateSnapshotAsync("s2");
        File.WriteAllText(dir.File("a/vol/live-only.txt"), "written after s2");
        var second = await NewReplicator().RefreshAsync(source, target);

        Assert.That(first.Route, Is.EqualTo(RefreshRoute.Rsync));
        Assert.That(second.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(first.BytesSent, Is.GreaterThan(TreeBytes(dir.File("a/vol")) / 2));
        Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(Describe(dir.File("a/vol"))));
        await AssertLineageFollowsAsync(source, target, "s1", "s2");
        await target.Driver.DisposeAsync();
    }

    [Test]
    public async Task Pull_remoteDirToDir_targetEqualsSourceWithSnapshotsByIdentity()
    {
        using var dir = new TempDirectory();
        var origin = await LocalDirAsync(dir.File("a"));
        WriteTree(dir.File("a/vol"), seed: 3);
        await origin.CreateSnapshotAsync("s1");
        ChangeTree(dir.File("a/vol"), seed: 4);
        await origin.CreateSnapshotAsync("s2");
        ChangeTree(dir.File("a/vol"), seed: 5);
        var target = await LocalDirAsync(dir.File("b"));
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions);
        var source = await loop.Session.OpenVolumeAsync("dir:" + dir.File("a/vol"));

        var first = await NewReplicator().RefreshAsync(source, target);
        ChangeTree(dir.File("a/vol"), seed: 6);
        await origin.CreateSnapshotAsync("s3");
        var second = await NewReplicator().RefreshAsync(source, target);

        Assert.That(first.Route, Is.EqualTo(RefreshRoute.Rsync));
        Assert.That(second.Kind, Is.EqualTo(RefreshKind.Incremental));
        // What the remote sender wrote, not the local receiver's few bytes: the first pull moved the whole tree.
        Assert.That(first.BytesSent, Is.GreaterThan(TreeBytes(dir.File("a/vol")) / 2));
        Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(Describe(dir.File("a/vol"))));
        await AssertLineageFollowsAsync(origin, target, "s1", "s2", "s3");
        await source.Driver.DisposeAsync();
    }

    /// <summary>
    /// A local dir: target without reflinks receives each pulled snapshot aside, hard-linked to the one before (rsync
    /// --link-dest, kept by the local receiver): an unchanged file is one inode in both snapshots and the live tree, and
    /// the live tree was never written in place.
    /// </summary>
    [Test]
    public async Task Pull_remoteDirToLocalDirWithoutReflinks_unchangedFilesAreLinkedNotCopied()
    {
        using var dir = new TempDirectory();
        var origin = await LocalDirAsync(dir.File("a"));
        WriteTree(dir.File("a/vol"), seed: 21);
        await origin.CreateSnapshotAsync("s1");
        var target = await LocalDirAsync(dir.File("b"));
        Assert.That(target.Driver.Has(DriverCapabilities.StagedTrees), Is.True, "ext4 here: no reflinks, so dir: targets are staged");
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions);
        var source = await loop.Session.OpenVolumeAsync("dir:" + dir.File("a/vol"));

        await NewReplicator().RefreshAsync(source, target);
        var liveAfterFirst = Ino(dir.File("b/vol"), "sub/f0.bin");
        ChangeTree(dir.File("a/vol"), seed: 22);
        await origin.CreateSnapshotAsync("s2");
        var second = await NewReplicator().RefreshAsync(source, target);

        Assert.That(second.Kind, Is.EqualTo(RefreshKind.Incremental));
        var (s1, s2) = (await target.GetPathAsync("s1"), await target.GetPathAsync("s2"));
        Assert.That(Ino(s2, "sub/f0.bin"), Is.EqualTo(Ino(s1, "sub/f0.bin")), "an unchanged file: one inode in s1 and s2");
        Assert.That(Ino(dir.File("b/vol"), "sub/f0.bin"), Is.EqualTo(Ino(s2, "sub/f0.bin")), "the live tree shares the newest snapshot's files");
        Assert.That(Ino(s2, "sub/f3.bin"), Is.Not.EqualTo(Ino(s1, "sub/f3.bin")), "a changed file is a new one, s1's untouched");
        Assert.That(liveAfterFirst, Is.EqualTo(Ino(s1, "sub/f0.bin")));
        Assert.That(Describe(s1), Is.Not.EqualTo(Describe(s2)));
        Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(Describe(dir.File("a/vol"))));
        await AssertLineageFollowsAsync(origin, target, "s1", "s2");
        await source.Driver.DisposeAsync();
    }

    /// <summary>
    /// A dir: target without reflinks on the server receives each pushed snapshot aside (volume.receiveTree: the server
    /// adds the --link-dest of its newest snapshot itself): an unchanged file is one inode in both snapshots and the live
    /// tree. A server that does not announce receive-tree is pushed to in its live tree, as before.
    /// </summary>
    [TestCase(true, TestName = "Push_dirToRemoteDirWithoutReflinks_unchangedFilesAreLinkedNotCopied")]
    [TestCase(false, TestName = "Push_dirToRemoteDirOfAnOlderServer_writesTheLiveTreeAndEndsEqual")]
    public async Task Push_dirToRemoteDirWithoutReflinks(bool serverReceivesAside)
    {
        using var dir = new TempDirectory();
        var source = await LocalDirAsync(dir.File("a"));
        Directory.CreateDirectory(dir.File("b"));
        Assert.That((await LocalDirAsync(dir.File("probe"))).Driver.Has(DriverCapabilities.StagedTrees), Is.True, "ext4 here: no reflinks, so dir: targets are staged");
        var serverOptions = serverReceivesAside ? ServerOptions : ServerOptions with
        {
            AnnouncedFeatures = [.. ClientSession.Features.Where(f => f != ClientSession.ReceiveTreeFeature)],
        };
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), serverOptions);
        var target = await loop.Session.CreateVolumeAsync("dir:" + dir.File("b/vol"), new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        Assert.That(target.Driver.Has(DriverCapabilities.StagedTrees), Is.EqualTo(serverReceivesAside));

        WriteTree(dir.File("a/vol"), seed: 31);
        await source.CreateSnapshotAsync("s1");
        await NewReplicator().RefreshAsync(source, target);
        ChangeTree(dir.File("a/vol"), seed: 32);
        await source.CreateSnapshotAsync("s2");
        var second = await NewReplicator().RefreshAsync(source, target);
        File.WriteAllText(dir.File("a/vol/live-only.txt"), "written after s2");
        var third = await NewReplicator().RefreshAsync(source, target);

        Assert.That(second.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(third.LiveStateSent, Is.True);
        Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(Describe(dir.File("a/vol"))));
        await AssertLineageFollowsAsync(source, target, "s1", "s2");
        var local = await OpenLocalDirAsync(dir.File("b"));
        var (s1, s2) = (await local.GetPathAsync("s1"), await local.GetPathAsync("s2"));
        Assert.That(Ino(s2, "sub/f0.bin"), Is.EqualTo(Ino(s1, "sub/f0.bin")), "an unchanged file: one inode in s1 and s2");
        Assert.That(Ino(s2, "sub/f3.bin"), Is.Not.EqualTo(Ino(s1, "sub/f3.bin")), "a changed file is a new one, s1's untouched");
        // Received aside, the live tree was swapped in whole and shares the unchanged files; written in place, it was
        // first copied apart from the snapshots (a whole copy of the tree).
        Assert.That(Ino(dir.File("b/vol"), "sub/f0.bin") == Ino(s2, "sub/f0.bin"), Is.EqualTo(serverReceivesAside));
        Assert.That(Directory.EnumerateDirectories(dir.File("b/.vol.deltasnap"), "staging-*"), Is.Empty);
        await target.Driver.DisposeAsync();
    }

    /// <summary>Every command line here is one a hostile peer might send; the server runs none of them.</summary>
    [TestCase(null, "--server", "--rsync-path=/bin/sh", "-logDtpre.iLsfxCIvu", ".", "tree/")]
    [TestCase(null, "--server", "-e", "sh", ".", "tree/")]
    [TestCase(null, "--server", "-logDtpre.iLsfxCIvu", "--files-from=/etc/passwd", ".", "tree/")]
    [TestCase(null, "--server", "-logDtpre.iLsfxCIvu", "--temp-dir=/tmp", ".", "tree/")]
    [TestCase(null, "--server", "-logDtpre.iLsfxCIvu", "--link-dest=/etc", ".", "tree/")]
    [TestCase(null, "--server", "-logDtpre.iLsfxCIvu", "--log-file=/tmp/x", ".", "tree/")]
    [TestCase(null, "--server", "-slogDtpre.iLsfxCIvu")]
    [TestCase(null, "--server", "-logDtpLre.iLsfxCIvu", ".", "tree/")]
    [TestCase(null, "--server", "-logDtpre.iLsfxCIvu", ".", "/etc/")]
    [TestCase(null, "--server", "-logDtpre.iLsfxCIvu", ".", "tree/../../etc/")]
    [TestCase(null, "--server", "-logDtpre.iLsfxCIvu", ".", "tree/", "/etc/")]
    [TestCase(null, "--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "tree/")]
    [TestCase("s1", "--server", "-logDtpre.iLsfxCIvu", "--delete", ".", "tree/")]
    [TestCase("s1", "--server", "--sender", "-logDtpre.iLsfxCIvu", "--delete", ".", "tree/")]
    [TestCase(null, "/usr/bin/rsync", "--server", "-logDtpre.iLsfxCIvu", ".", "tree/")]
    public async Task TreeServer_hostileCommandLine_isRefusedAndNothingRuns(string? snapshot, params string[] arguments)
    {
        using var dir = new TempDirectory();
        var served = await LocalDirAsync(dir.File("b"));
        WriteTree(dir.File("b/vol"), seed: 7);
        await served.CreateSnapshotAsync("s1");
        var before = Describe(dir.File("b/vol"));
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions);
        var volume = await loop.Session.OpenVolumeAsync("dir:" + dir.File("b/vol"));
        var received = 0L;

        var error = Assert.ThrowsAsync<SessionException>(() => volume.RunTreeServerAsync(snapshot, arguments,
            (input, ct) => input.WriteAsync(new byte[64], ct).AsTask(),
            async (output, ct) => received += await output.ReadAsync(new byte[4096], ct)));

        Assert.That(error!.Reason, Is.EqualTo(SessionErrorReason.Unauthorized));
        Assert.That(error.Message, Does.Contain("refused, nothing ran"));
        Assert.That(received, Is.Zero);
        Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(before));
        // The session survives a refusal.
        Assert.That((await volume.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        await volume.Driver.DisposeAsync();
    }

    [Test]
    public async Task Relay_bothDirVolumesRemote_isRefusedBeforeAnythingChanges()
    {
        using var dir = new TempDirectory();
        var origin = await LocalDirAsync(dir.File("a"));
        WriteTree(dir.File("a/vol"), seed: 11);
        await origin.CreateSnapshotAsync("s1");
        Directory.CreateDirectory(dir.File("b"));
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions);
        var source = await loop.Session.OpenVolumeAsync("dir:" + dir.File("a/vol"));
        var target = await loop.Session.CreateVolumeAsync("dir:" + dir.File("b/vol"), new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        File.WriteAllText(dir.File("b/vol/kept.txt"), "the target's own file");

        var error = Assert.ThrowsAsync<NotSupportedException>(() => NewReplicator().RefreshAsync(source, target));

        Assert.That(error!.Message, Does.Contain("run the refresh on one of them"));
        Assert.That(File.Exists(dir.File("b/vol/kept.txt")), Is.True);
        Assert.That(await target.GetLineageAsync(), Is.Empty);
        Assert.That((await origin.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }), "no temporary snapshot left on the source");
        await source.Driver.DisposeAsync();
        await target.Driver.DisposeAsync();
    }

    /// <summary>
    /// A push into a copy-on-write tree on the server (Btrfs) updates it in place in 4 KiB blocks: the server's rsync,
    /// the receiver, is given the block size by the server (a peer may not choose it). 1 % of a 64 MiB file's 4 KiB
    /// blocks rewritten: rsync's own 8 KiB blocks would make the sender send about twice that as literal data.
    /// </summary>
    [TestCase(4096, TestName = "Push_scatteredChangeIntoRemoteBtrfs_serverUpdatesInPlaceIn4KiBBlocks")]
    [TestCase(0, TestName = "Push_scatteredChangeIntoRemoteBtrfs_serverLeavingRsyncItsOwnBlockSize_sendsTwiceAsMuch")]
    public async Task Push_scatteredChangeIntoRemoteBtrfs(int serverBlockSize)
    {
        var root = Path.Combine(BackendRequirement.RequireEnvironment("DELTASNAP_BTRFS_MOUNT_B", "A loop-mounted Btrfs file system"), "r-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        using var dir = new TempDirectory();
        var source = await LocalDirAsync(dir.File("a"));
        var file = dir.File("a/vol/disk.img");
        var data = new byte[64 << 20];
        new Random(51).NextBytes(data);
        File.WriteAllBytes(file, data);
        await source.CreateSnapshotAsync("s1");
        var serverOptions = ServerOptions with { TreeSynchronizer = new RsyncTreeSynchronizer(new() { InPlaceBlockSize = serverBlockSize }) };
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddBtrfs(), serverOptions);
        var target = await loop.Session.CreateVolumeAsync("btrfs:" + root + "/vol", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        try
        {
            await NewReplicator().RefreshAsync(source, target);
            var random = new Random(52);
            var blocks = data.Length / 4096;
            var changed = 0L;
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
            {
                foreach (var block in Enumerable.Range(0, blocks).OrderBy(_ => random.Next()).Take(blocks / 100))
                {
                    var bytes = new byte[4096];
                    random.NextBytes(bytes);
                    stream.Position = (long)block * 4096;
                    stream.Write(bytes);
                    changed += 4096;
                }
            }
            await source.CreateSnapshotAsync("s2");

            var second = await NewReplicator().RefreshAsync(source, target);

            await TestContext.Out.WriteLineAsync($"{changed} bytes changed, {second.BytesWritten} sent as literal data");
            Assert.That(second.BytesWritten, serverBlockSize == 4096 ? Is.LessThan(changed * 5 / 4) : Is.GreaterThan(changed * 3 / 2));
            Assert.That(SHA256.HashData(File.ReadAllBytes(Path.Combine(root, "vol", "disk.img"))), Is.EqualTo(SHA256.HashData(File.ReadAllBytes(file))));
        }
        finally
        {
            await target.Driver.DisposeAsync();
            await using (var local = new DeltaSnap.Btrfs.BtrfsDriver(root))
            {
                await local.DeleteVolumeAsync("vol");
            }
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// A pull's local rsync receives what the server's sender sends, so it is confined like the server's: it may change
    /// the staging tree it writes and link from the newest snapshot, nothing else. The second pull runs a shell script in
    /// place of the local rsync that tries what a hostile sender could make a receiver do, and reports on stderr, which
    /// the refresh's error carries; the unconfined run shows the same attempts succeed.
    /// </summary>
    [TestCase(RsyncPeerConfinement.WhereSupported, TestName = "Pull_localRsyncConfined_changesOnlyTheTreeItWritesAndLinksFromTheSnapshot")]
    [TestCase(RsyncPeerConfinement.None, TestName = "Pull_localRsyncUnconfined_theSameAttemptsSucceed")]
    public async Task Pull_localRsyncConfinement(RsyncPeerConfinement confinement)
    {
        BackendRequirement.Require(DeltaSnap.ExternalCommands.Landlock.IsAvailable, "Linux Landlock (kernel 5.13 or later)");
        using var dir = new TempDirectory();
        var origin = await LocalDirAsync(dir.File("a"));
        WriteTree(dir.File("a/vol"), seed: 41);
        await origin.CreateSnapshotAsync("s1");
        var target = await LocalDirAsync(dir.File("b"));
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions);
        var source = await loop.Session.OpenVolumeAsync("dir:" + dir.File("a/vol"));
        await NewReplicator().RefreshAsync(source, target);
        ChangeTree(dir.File("a/vol"), seed: 42);
        await origin.CreateSnapshotAsync("s2");
        var outside = Directory.CreateDirectory(dir.File("outside")).FullName;
        File.WriteAllText(Path.Combine(outside, "victim"), "intact");
        var s1 = await target.GetPathAsync("s1");
        var before = Describe(s1);
        var script = dir.File("hostile-rsync");
        File.WriteAllText(script, $$"""
            #!/bin/sh
            for a in "$@"; do dest=$a; case $a in --link-dest=*) link=${a#--link-dest=};; esac; done
            try() { what=$1; shift; if "$@" 2>/dev/null; then echo "$what: done" >&2; else echo "$what: refused" >&2; fi; }
            outside='{{outside}}'
            echo "link directory: $link" >&2
            try "inside" sh -c "echo x > '$dest/inside'"
            try "link from the snapshot" ln "$link/sub/f0.bin" "$dest/linked"
            try "write outside" sh -c "echo x > '$outside/escaped'"
            try "truncate outside" truncate -s 0 "$outside/victim"
            try "symlink" ln -s "$outside" "$dest/evil"
            try "write through symlink" sh -c "echo x > '$dest/evil/through-symlink'"
            try "make in the snapshot" sh -c "echo x > '$link/made'"
            try "remove from the snapshot" rm "$link/sub/f0.bin"
            exit 12
            """.Replace("\r", "", StringComparison.Ordinal));
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var hostile = new Replicator { TreeSynchronizer = new RsyncTreeSynchronizer(new RsyncTreeSynchronizerOptions { RsyncPath = script, PeerConfinement = confinement }) };

        var error = Assert.CatchAsync<BackendCommandException>(() => hostile.RefreshAsync(source, target));

        var report = error!.Message;
        await TestContext.Out.WriteLineAsync(report);
        Assert.That(report, Does.Contain("link directory: " + s1.TrimEnd('/')), "the second pull links from s1");
        Assert.That(report, Does.Contain("inside: done").And.Contain("link from the snapshot: done"));
        if (confinement == RsyncPeerConfinement.None)
        {
            Assert.That(File.Exists(Path.Combine(outside, "escaped")), Is.True, report);
            Assert.That(File.Exists(Path.Combine(outside, "through-symlink")), Is.True, report);
            Assert.That(File.Exists(Path.Combine(s1, "made")), Is.True, report);
            Assert.That(File.Exists(Path.Combine(s1, "sub", "f0.bin")), Is.False, report);
            return;
        }
        Assert.Multiple(() =>
        {
            Assert.That(report, Does.Contain("write outside: refused").And.Contain("write through symlink: refused")
                .And.Contain("make in the snapshot: refused").And.Contain("remove from the snapshot: refused"));
            Assert.That(File.Exists(Path.Combine(outside, "escaped")), Is.False);
            Assert.That(File.Exists(Path.Combine(outside, "through-symlink")), Is.False);
            Assert.That(File.ReadAllText(Path.Combine(outside, "victim")), Is.EqualTo("intact"));
            Assert.That(Describe(s1), Is.EqualTo(before), "the snapshot linked from is unchanged");
        });
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }), "the failed pull left the target at s1");
        await NewReplicator().RefreshAsync(source, target);
        Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(Describe(dir.File("a/vol"))), "the next pull with the real rsync repairs");
        await source.Driver.DisposeAsync();
    }

    [Test]
    public async Task TreeServer_serverWithoutTreeSynchronizer_refusesWithNotSupported()
    {
        using var dir = new TempDirectory();
        var source = await LocalDirAsync(dir.File("a"));
        WriteTree(dir.File("a/vol"), seed: 8);
        await source.CreateSnapshotAsync("s1");
        Directory.CreateDirectory(dir.File("b"));
        await using var loop = await Loopback.StartAsync(new VolumeResolver().AddDir());
        var target = await loop.Session.CreateVolumeAsync("dir:" + dir.File("b/vol"), new VolumeCreateOptions { Kind = VolumeKind.Filesystem });

        var error = Assert.ThrowsAsync<NotSupportedException>(() => NewReplicator().RefreshAsync(source, target));

        Assert.That(error!.Message, Does.Contain("no tree synchronizer"));
        Assert.That((await target.GetLineageAsync()), Is.Empty);
        await target.Driver.DisposeAsync();
    }

    [Test]
    public async Task Push_connectionCutMidRsync_targetKeepsLastCompleteSnapshotAndRerunSucceeds()
    {
        using var dir = new TempDirectory();
        var source = await LocalDirAsync(dir.File("a"));
        Directory.CreateDirectory(dir.File("b"));
        WriteTree(dir.File("a/vol"), seed: 9);
        await source.CreateSnapshotAsync("s1");
        await using (var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions))
        {
            var target = await loop.Session.CreateVolumeAsync("dir:" + dir.File("b/vol"), new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
            await NewReplicator().RefreshAsync(source, target);
        }
        var s1 = Describe(dir.File("b/vol"));
        // 48 MiB of incompressible data through a session limited to 8 MiB/s: about 6 s of rsync to cut into.
        File.WriteAllBytes(dir.File("a/vol/big.bin"), RandomNumberGenerator.GetBytes(48 << 20));
        await source.CreateSnapshotAsync("s2");

        SilenceableStream? client = null;
        await using (var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions,
                         new RemoteSessionOptions { PeerName = "loop", BandwidthLimit = 8 << 20 }, wrapClient: s => client = new SilenceableStream(s)))
        {
            var target = await loop.Session.OpenVolumeAsync("dir:" + dir.File("b/vol"));
            var refreshing = NewReplicator().RefreshAsync(source, target);
            // The live tree, or (no reflinks: received aside) the staging directory beside it in .vol.deltasnap.
            await WaitForPartialFileAsync(dir.File("b"), refreshing);
            client!.Cut(); // the connection is cut: both ends see it end

            var error = Assert.ThrowsAsync<SessionException>(() => refreshing);
            Assert.That(error!.Reason, Is.EqualTo(SessionErrorReason.ConnectionLost));
        }

        // The target on disk, as the server holds it: its last complete snapshot is s1, intact; no s2, nothing temporary.
        var local = await OpenLocalDirAsync(dir.File("b"));
        Assert.That((await local.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(Describe(await local.GetPathAsync("s1")), Is.EqualTo(s1));
        if (local.Driver.Has(DriverCapabilities.StagedTrees))
        {
            // Received aside: the server removed the staging directory, and the live tree was never written.
            Assert.That(Directory.EnumerateDirectories(dir.File("b/.vol.deltasnap"), "staging-*"), Is.Empty);
            Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(s1));
        }
        await local.Driver.DisposeAsync();

        await using (var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions))
        {
            var target = await loop.Session.OpenVolumeAsync("dir:" + dir.File("b/vol"));
            var rerun = await NewReplicator().RefreshAsync(source, target);
            Assert.That(rerun.Kind, Is.EqualTo(RefreshKind.Incremental));
            await target.Driver.DisposeAsync();
        }
        Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(Describe(dir.File("a/vol"))));
        await AssertLineageFollowsAsync(source, await OpenLocalDirAsync(dir.File("b")), "s1", "s2");
    }

    [Test]
    public async Task Pull_connectionCutMidRsync_targetRolledBackToLastCompleteSnapshotAndRerunSucceeds()
    {
        using var dir = new TempDirectory();
        var origin = await LocalDirAsync(dir.File("a"));
        WriteTree(dir.File("a/vol"), seed: 10);
        await origin.CreateSnapshotAsync("s1");
        var target = await LocalDirAsync(dir.File("b"));
        await using (var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions))
        {
            await NewReplicator().RefreshAsync(await loop.Session.OpenVolumeAsync("dir:" + dir.File("a/vol")), target);
        }
        var s1 = Describe(dir.File("b/vol"));
        File.WriteAllBytes(dir.File("a/vol/big.bin"), RandomNumberGenerator.GetBytes(48 << 20));
        await origin.CreateSnapshotAsync("s2");

        SilenceableStream? client = null;
        await using (var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions with { BandwidthLimit = 8 << 20 },
                         wrapClient: s => client = new SilenceableStream(s)))
        {
            var source = await loop.Session.OpenVolumeAsync("dir:" + dir.File("a/vol"));
            var refreshing = NewReplicator().RefreshAsync(source, target);
            // The live tree, or (no reflinks) the staging directory beside it in .vol.deltasnap.
            await WaitForPartialFileAsync(dir.File("b"), refreshing);
            client!.Cut();

            var error = Assert.ThrowsAsync<SessionException>(() => refreshing);
            Assert.That(error!.Reason, Is.EqualTo(SessionErrorReason.ConnectionLost));
        }

        // The target is local: the replicator rolled it back at once (or its staging directory is gone).
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(Directory.EnumerateDirectories(dir.File("b/.vol.deltasnap"), "staging-*"), Is.Empty);
        Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(s1));
        await using (var loop = await Loopback.StartAsync(new VolumeResolver().AddDir(), ServerOptions))
        {
            var rerun = await NewReplicator().RefreshAsync(await loop.Session.OpenVolumeAsync("dir:" + dir.File("a/vol")), target);
            Assert.That(rerun.Kind, Is.EqualTo(RefreshKind.Incremental));
        }
        Assert.That(Describe(dir.File("b/vol")), Is.EqualTo(Describe(dir.File("a/vol"))));
        await AssertLineageFollowsAsync(origin, target, "s1", "s2");
    }

    // ---- helpers ----

    private static async Task<Volume> LocalDirAsync(string parent)
    {
        Directory.CreateDirectory(parent);
        var driver = new DirDriver(parent);
        return await driver.CreateVolumeAsync("vol", new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
    }

    private static Task<Volume> OpenLocalDirAsync(string parent) => new DirDriver(parent).OpenVolumeAsync("vol");

    private static string Ino(string root, string file) => BackendRequirement.Run("stat", "-c", "%i", Path.Combine(root, file)).Trim();

    /// <summary>Waits until rsync has begun writing the big file on the target (its temporary file or the file itself).</summary>
    private static async Task WaitForPartialFileAsync(string root, Task refreshing)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !refreshing.IsCompleted)
        {
            if (Directory.EnumerateFiles(root, "*big.bin*", new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = true }).Any(f => new FileInfo(f).Length > 1 << 20))
            {
                return;
            }
            await Task.Delay(50);
        }
        Assert.Fail(refreshing.IsCompleted ? $"The refresh ended before it could be cut: {refreshing.Exception?.InnerException?.Message ?? "it succeeded"}" : "rsync never began the big file.");
    }

    private static async Task AssertLineageFollowsAsync(Volume source, Volume target, params string[] names)
    {
        var sourceLineage = (await source.GetLineageAsync()).Where(s => names.Contains(s.Name)).ToList();
        var targetLineage = (await target.GetLineageAsync());
        Assert.That(targetLineage.Select(s => s.Name), Is.EqualTo(names), "the target's snapshots (no temporaries left)");
        Assert.That(targetLineage.Select(s => s.ReceivedFrom), Is.EqualTo(sourceLineage.Select(s => (SnapshotIdentity?)s.Identity)), "each made from the source snapshot of its name");
    }

    private static void WriteTree(string root, int seed)
    {
        var random = new Random(seed);
        Directory.CreateDirectory(Path.Combine(root, "sub/deeper"));
        for (var i = 0; i < 12; i++)
        {
            var data = new byte[random.Next(0, 300_000)];
            random.NextBytes(data);
            File.WriteAllBytes(Path.Combine(root, i % 3 == 0 ? "sub" : i % 3 == 1 ? "sub/deeper" : "", $"f{i}.bin"), data);
        }
        File.CreateSymbolicLink(Path.Combine(root, "link"), "sub/f0.bin");
        File.WriteAllText(Path.Combine(root, "name with spaces & 'quotes'.txt"), "kept as it is");
    }

    private static void ChangeTree(string root, int seed)
    {
        var random = new Random(seed);
        using (var stream = new FileStream(Path.Combine(root, "sub/f3.bin"), FileMode.Open))
        {
            stream.Position = Math.Min(stream.Length, 1000);
            var data = new byte[4096];
            random.NextBytes(data);
            stream.Write(data);
        }
        File.Delete(Path.Combine(root, "sub/deeper/f4.bin"));
        File.WriteAllBytes(Path.Combine(root, $"new{seed}.bin"), RandomNumberGenerator.GetBytes(10_000));
        File.Move(Path.Combine(root, "f2.bin"), Path.Combine(root, $"renamed{seed}.bin"));
        File.WriteAllBytes(Path.Combine(root, "f2.bin"), RandomNumberGenerator.GetBytes(100));
    }

    private static long TreeBytes(string root) =>
        Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Sum(f => new FileInfo(f).Length);

    /// <summary>Every entry of a tree: relative path, kind, mode, content hash or link target.</summary>
    private static List<string> Describe(string root)
    {
        var entries = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var info = new FileInfo(path);
            var relative = Path.GetRelativePath(root, path);
            var what = info.LinkTarget is { } link ? "-> " + link
                : Directory.Exists(path) ? "dir"
                : Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
            entries.Add($"{relative} {File.GetUnixFileMode(path)} {what}");
        }
        entries.Sort(StringComparer.Ordinal);
        return entries;
    }
}
