using System.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Zfs.Tests;

/// <summary>Native send/receive between the two real zfs-fuse pools, through SendAsync/ReceiveAsync.</summary>
[TestFixture]
public class ZfsSendReceiveTests : ZfsFixture
{
    [Test]
    public async Task FullThenIncremental_betweenPools_targetTreesAndGuidsMatchSource()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        var sourcePath = await source.GetPathAsync(null);
        Trees.WriteRandom(sourcePath, "a", 20, 64 << 10, seed: 1);
        var s1 = await source.CreateSnapshotAsync("s1");
        var digest1 = Trees.Digest(sourcePath);
        Trees.Modify(Path.Combine(sourcePath, "a", "f0003.bin"), 5000, seed: 2);
        Trees.WriteRandom(sourcePath, "b", 5, 32 << 10, seed: 3);
        File.Delete(Path.Combine(sourcePath, "a", "f0007.bin"));
        var s2 = await source.CreateSnapshotAsync("s2");
        var digest2 = Trees.Digest(sourcePath);
        Assert.That(digest2, Is.Not.EqualTo(digest1));

        var targetName = Bed.Track(Bed.B, ZfsTestBed.UniqueName("dst"));
        var target = new Lazy<Task<Volume>>(() => Bed.B.OpenVolumeAsync(targetName));

        // Full: the target dataset does not exist yet; the receive creates it.
        var fullTarget = (ZfsVolume)await Bed.B.CreateVolumeAsync(targetName, new VolumeCreateOptions { Kind = VolumeKind.Filesystem });
        var r1 = await NativeTransfer.RunAsync(source, null, "s1", fullTarget, null);
        Assert.That(r1.Identity, Is.EqualTo(s1.Identity));
        Assert.That(r1.Name, Is.EqualTo("s1"));
        await fullTarget.PromoteAsync("s1");
        Assert.That(Trees.Digest(await fullTarget.GetPathAsync(null)), Is.EqualTo(digest1));

        var r2 = await NativeTransfer.RunAsync(source, "s1", "s2", await target.Value, r1);
        Assert.That(r2.Identity, Is.EqualTo(s2.Identity));
        await fullTarget.PromoteAsync("s2");
        Assert.That(Trees.Digest(await fullTarget.GetPathAsync(null)), Is.EqualTo(digest2));

        var lineage = await fullTarget.GetLineageAsync();
        Assert.That(lineage.Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(lineage.Select(s => s.Identity.Value), Is.EqualTo(new[]
        {
            ZfsTestBed.GuidOf($"{source.Dataset}@s1"), ZfsTestBed.GuidOf($"{source.Dataset}@s2"),
        }));
        Assert.That(lineage.Select(s => s.Identity.Value), Is.EqualTo(new[]
        {
            ZfsTestBed.GuidOf($"{fullTarget.Dataset}@s1"), ZfsTestBed.GuidOf($"{fullTarget.Dataset}@s2"),
        }), "the target's GUIDs are the source's: that is how the common base is found");
        Assert.That(lineage[1].CreatedUtc, Is.EqualTo(s2.CreatedUtc));
    }

    [Test]
    public async Task Receive_fullStreamIntoExistingDatasetWithFiles_completes()
    {
        // zfs-fuse answers EIO to a forced full receive over a file system that held files, after committing it.
        var source = await Bed.CreateAsync(Bed.A, "src");
        Trees.WriteRandom(await source.GetPathAsync(null), "a", 10, 16 << 10, seed: 4);
        await source.CreateSnapshotAsync("s1");
        var target = await Bed.CreateAsync(Bed.B, "dst");
        Trees.WriteRandom(await target.GetPathAsync(null), "junk", 3, 4096, seed: 5);

        var received = await NativeTransfer.RunAsync(source, null, "s1", target, null);

        Assert.That(received.Identity.Value, Is.EqualTo(ZfsTestBed.GuidOf($"{source.Dataset}@s1")));
        await target.PromoteAsync("s1");
        Assert.That(Trees.Digest(await target.GetPathAsync(null)), Is.EqualTo(Trees.Digest(await source.GetPathAsync("s1"))));
    }

    [Test]
    public async Task Receive_wrongBase_rejectedBeforeAnythingIsWritten()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        var sourcePath = await source.GetPathAsync(null);
        Trees.WriteRandom(sourcePath, "a", 5, 8192, seed: 6);
        await source.CreateSnapshotAsync("s1");
        Trees.WriteRandom(sourcePath, "b", 5, 8192, seed: 7);
        await source.CreateSnapshotAsync("s2");
        Trees.WriteRandom(sourcePath, "c", 5, 8192, seed: 8);
        await source.CreateSnapshotAsync("s3");

        var target = await Bed.CreateAsync(Bed.B, "dst");
        var r1 = await NativeTransfer.RunAsync(source, null, "s1", target, null);
        await NativeTransfer.RunAsync(source, "s1", "s2", target, r1);
        await target.PromoteAsync("s2");
        var before = await target.GetLineageAsync();
        var digestBefore = Trees.Digest(await target.GetPathAsync(null));
        var s1Guid = ulong.Parse(r1.Identity.Value, System.Globalization.CultureInfo.InvariantCulture);

        // An incremental from s1 offered to a target whose base (newest) is s2: zfs would refuse too, but only
        // after starting; DeltaSnap refuses from the BEGIN record.
        var stream = await NativeTransfer.CaptureAsync(source, "s1", "s3");
        var s3 = (await source.GetLineageAsync()).Find("s3")!;
        var mismatch = Assert.ThrowsAsync<NativeStreamMismatchException>(() =>
            target.ReceiveAsync(new MemoryStream(stream), new NativeReceiveRequest { Snapshot = s3, TargetBase = before.Find("s2") }));
        Assert.That(mismatch!.StreamFrom, Is.EqualTo(new SnapshotIdentity(ZfsDriver.GuidIdentityKind, s1Guid.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        Assert.That(mismatch.StreamTo, Is.EqualTo(s3.Identity));
        Assert.That(mismatch.TargetBase, Is.EqualTo(before.Find("s2")!.Identity));
        Assert.That(mismatch.TargetLatest, Is.EqualTo(before.Latest!.Identity));
        Assert.That(mismatch.Message, Does.Contain(s1Guid.ToString(System.Globalization.CultureInfo.InvariantCulture)).And.Contain(before.Find("s2")!.Identity.Value));

        // A full stream offered where an incremental is expected.
        var full = await NativeTransfer.CaptureAsync(source, null, "s3");
        Assert.ThrowsAsync<NativeStreamMismatchException>(() =>
            target.ReceiveAsync(new MemoryStream(full), new NativeReceiveRequest { Snapshot = s3, TargetBase = before.Find("s2") }));

        // A stream from an unrelated dataset whose snapshot names match.
        var other = await Bed.CreateAsync(Bed.A, "other");
        Trees.WriteRandom(await other.GetPathAsync(null), "x", 2, 4096, seed: 9);
        await other.CreateSnapshotAsync("s2");
        await other.CreateSnapshotAsync("s3");
        var foreign = await NativeTransfer.CaptureAsync(other, "s2", "s3");
        var foreignS3 = (await other.GetLineageAsync()).Find("s3")!;
        Assert.ThrowsAsync<NativeStreamMismatchException>(() =>
            target.ReceiveAsync(new MemoryStream(foreign), new NativeReceiveRequest { Snapshot = foreignS3, TargetBase = before.Find("s2") }));

        var after = await target.GetLineageAsync();
        Assert.That(after.Select(s => (s.Name, s.Identity)), Is.EqualTo(before.Select(s => (s.Name, s.Identity))));
        Assert.That(Trees.Digest(await target.GetPathAsync(null)), Is.EqualTo(digestBefore));
        Assert.That(ReceiveProcessesOf(target.Dataset), Is.Empty, "the receives started while the headers were read were killed");
    }

    [Test]
    public async Task Receive_wrongBaseArrivingSlowly_receiveStartedEarlyIsKilledUnfedAndTargetUnchanged()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        var sourcePath = await source.GetPathAsync(null);
        Trees.WriteRandom(sourcePath, "a", 5, 8192, seed: 16);
        await source.CreateSnapshotAsync("s1");
        Trees.WriteRandom(sourcePath, "b", 5, 8192, seed: 17);
        await source.CreateSnapshotAsync("s2");
        Trees.WriteRandom(sourcePath, "c", 5, 8192, seed: 18);
        await source.CreateSnapshotAsync("s3");
        var target = await Bed.CreateAsync(Bed.B, "dst");
        var r1 = await NativeTransfer.RunAsync(source, null, "s1", target, null);
        var r2 = await NativeTransfer.RunAsync(source, "s1", "s2", target, r1);
        await target.PromoteAsync("s2");
        var before = await target.GetLineageAsync();
        var digestBefore = Trees.Digest(await target.GetPathAsync(null));

        // The incremental from s1 where s2 is the base, held back before its first byte: `zfs receive` is already
        // running (started while the BEGIN record is awaited), and must never see a byte of it.
        var stream = await NativeTransfer.CaptureAsync(source, "s1", "s3");
        var gate = new GatedStream(new MemoryStream(stream), 0);
        var s3 = (await source.GetLineageAsync()).Find("s3")!;
        var receive = target.ReceiveAsync(gate, new NativeReceiveRequest { Snapshot = s3, TargetBase = r2 });
        await gate.Reached.WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => ReceiveProcessesOf(target.Dataset).Count == 1);
        gate.Open();

        Assert.That(async () => await receive, Throws.InstanceOf<NativeStreamMismatchException>());
        Assert.That(ReceiveProcessesOf(target.Dataset), Is.Empty, "the early receive was killed");
        Assert.That((await target.GetLineageAsync()).Select(s => (s.Name, s.Identity)), Is.EqualTo(before.Select(s => (s.Name, s.Identity))));
        Assert.That(Trees.Digest(await target.GetPathAsync(null)), Is.EqualTo(digestBefore));
        var rerun = await NativeTransfer.RunAsync(source, "s2", "s3", target, r2);
        Assert.That(rerun.Identity, Is.EqualTo(s3.Identity));
    }

    [Test]
    public async Task Receive_corruptOrEmptyStream_throwsCorruptDataAndWritesNothing()
    {
        var target = await Bed.CreateAsync(Bed.B, "dst");
        var snapshot = new SnapshotInfo("s1", new SnapshotIdentity(ZfsDriver.GuidIdentityKind, "1"), DateTimeOffset.UtcNow);
        Assert.ThrowsAsync<CorruptDataException>(() => target.ReceiveAsync(new MemoryStream(), new NativeReceiveRequest { Snapshot = snapshot }));
        Assert.ThrowsAsync<CorruptDataException>(() => target.ReceiveAsync(new MemoryStream(new byte[400]), new NativeReceiveRequest { Snapshot = snapshot }));
        Assert.That(await target.GetLineageAsync(), Is.Empty);
    }

    [Test]
    public async Task Receive_cancelledMidTransfer_targetStaysAtBaseAndRerunCompletes()
    {
        var (source, target, r1, digestBase) = await PrepareLargeIncrementalAsync();

        using var cancel = new CancellationTokenSource();
        GatedStream? gate = null;
        var transfer = NativeTransfer.RunAsync(source, "s1", "s2", target, r1,
            wrapReceiveStream: s => gate = new GatedStream(s, 3 << 20), cancellationToken: cancel.Token);
        await WaitUntilAsync(() => gate is not null);
        await gate!.Reached.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(ReceiveProcessesOf(target.Dataset), Is.Not.Empty, "zfs receive is running, 3 MiB in");
        await cancel.CancelAsync();
        Assert.That(async () => await transfer, Throws.InstanceOf<OperationCanceledException>());

        await AssertAtBaseAsync(target, r1, digestBase);
        Assert.That(ReceiveProcessesOf(target.Dataset), Is.Empty, "cancellation killed zfs receive");

        var rerun = await NativeTransfer.RunAsync(source, "s1", "s2", target, r1);
        await target.PromoteAsync("s2");
        Assert.That(rerun.Identity, Is.EqualTo((await source.GetLineageAsync()).Find("s2")!.Identity));
        Assert.That(Trees.Digest(await target.GetPathAsync(null)), Is.EqualTo(Trees.Digest(await source.GetPathAsync(null))));
    }

    [Test]
    public async Task Receive_processKilledMidTransfer_throwsCommandErrorTargetStaysAtBaseAndRerunCompletes()
    {
        var (source, target, r1, digestBase) = await PrepareLargeIncrementalAsync();

        GatedStream? gate = null;
        var transfer = NativeTransfer.RunAsync(source, "s1", "s2", target, r1, wrapReceiveStream: s => gate = new GatedStream(s, 3 << 20));
        await WaitUntilAsync(() => gate is not null);
        await gate!.Reached.WaitAsync(TimeSpan.FromSeconds(30));
        var pids = ReceiveProcessesOf(target.Dataset);
        Assert.That(pids, Has.Count.EqualTo(1));
        using (var victim = Process.GetProcessById(pids[0]))
        {
            victim.Kill(); // SIGKILL, as an OOM killer or an operator would
        }
        // The gated source stays blocked until the receive gives up on the dead process and cancels the transfer.
        var error = Assert.ThrowsAsync<BackendCommandException>(async () => await transfer.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.That(error!.CommandLine, Does.Contain("receive").And.Contain(target.Dataset));
        Assert.That(error.ExitCode, Is.Not.Zero);

        await AssertAtBaseAsync(target, r1, digestBase);
        var rerun = await NativeTransfer.RunAsync(source, "s1", "s2", target, r1);
        await target.PromoteAsync("s2");
        Assert.That(Trees.Digest(await target.GetPathAsync(null)), Is.EqualTo(Trees.Digest(await source.GetPathAsync(null))));
        Assert.That(rerun.Name, Is.EqualTo("s2"));
    }

    [Test]
    public async Task Receive_sourceStreamFailsMidTransfer_rethrowsTheFailureAndTargetStaysAtBase()
    {
        var (source, target, r1, digestBase) = await PrepareLargeIncrementalAsync();

        var error = Assert.ThrowsAsync<IOException>(() =>
            NativeTransfer.RunAsync(source, "s1", "s2", target, r1, wrapReceiveStream: s => new ThrowAfterNBytesStream(s, 2 << 20, chunk: 256 << 10)));
        Assert.That(error!.Message, Does.Contain("Injected"));
        await AssertAtBaseAsync(target, r1, digestBase);
    }

    [Test]
    public async Task Receive_targetWithQuotaAndRefquota_liftedDuringTheReceiveAndRestoredAfter()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        var sourcePath = await source.GetPathAsync(null);
        Trees.WriteRandom(sourcePath, "a", 6, 256 << 10, seed: 10); // ~1.5 MiB
        await source.CreateSnapshotAsync("s1");
        Directory.Delete(Path.Combine(sourcePath, "a"), recursive: true);
        Trees.WriteRandom(sourcePath, "b", 6, 256 << 10, seed: 11); // ~1.5 MiB new, the old kept by s1
        await source.CreateSnapshotAsync("s2");

        var target = await Bed.CreateAsync(Bed.B, "dst");
        var r1 = await NativeTransfer.RunAsync(source, null, "s1", target, null);
        ZfsTestBed.Zfs("set", "refquota=3M", target.Dataset);
        ZfsTestBed.Zfs("set", "quota=100M", target.Dataset);

        GatedStream? gate = null;
        var transfer = NativeTransfer.RunAsync(source, "s1", "s2", target, r1, wrapReceiveStream: s => gate = new GatedStream(s, 256 << 10));
        while (gate is null)
        {
            await Task.Delay(20);
        }
        await gate.Reached.WaitAsync(TimeSpan.FromSeconds(30));
        var during = ZfsTestBed.Zfs("get", "-H", "-p", "-o", "property,value", "quota,refquota", target.Dataset);
        Assert.That(during, Does.Contain("quota\t0").And.Contain("refquota\t0"), "lifted while the receive runs (lxc/incus#3625)");
        gate.Open();
        var r2 = await transfer;

        Assert.That(r2.Name, Is.EqualTo("s2"));
        Assert.That(ZfsTestBed.Zfs("get", "-H", "-p", "-o", "value,source", "refquota", target.Dataset).Trim(), Is.EqualTo("3145728\tlocal"));
        Assert.That(ZfsTestBed.Zfs("get", "-H", "-p", "-o", "value,source", "quota", target.Dataset).Trim(), Is.EqualTo("104857600\tlocal"));
    }

    [Test]
    public async Task Receive_dataExceedsTheRestoredQuota_snapshotReceivedAndErrorSaysQuotaStaysLifted()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        await source.CreateSnapshotAsync("s1");
        Trees.WriteRandom(await source.GetPathAsync(null), "b", 16, 256 << 10, seed: 15); // ~4 MiB
        await source.CreateSnapshotAsync("s2");
        var target = await Bed.CreateAsync(Bed.B, "dst");
        var r1 = await NativeTransfer.RunAsync(source, null, "s1", target, null);
        ZfsTestBed.Zfs("set", "refquota=1M", target.Dataset);

        var error = Assert.ThrowsAsync<BackendCommandException>(() => NativeTransfer.RunAsync(source, "s1", "s2", target, r1));

        Assert.That(error!.Message, Does.Contain("could not be restored").And.Contain("refquota"));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }));
    }

    [Test]
    public async Task Receive_quotaLiftedAndReceiveFails_quotaStillRestored()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        await source.CreateSnapshotAsync("s1");
        Trees.WriteRandom(await source.GetPathAsync(null), "b", 8, 256 << 10, seed: 13);
        await source.CreateSnapshotAsync("s2");
        var target = await Bed.CreateAsync(Bed.B, "dst");
        var r1 = await NativeTransfer.RunAsync(source, null, "s1", target, null);
        ZfsTestBed.Zfs("set", "refquota=1M", target.Dataset);

        Assert.ThrowsAsync<IOException>(() =>
            NativeTransfer.RunAsync(source, "s1", "s2", target, r1, wrapReceiveStream: s => new ThrowAfterNBytesStream(s, 1 << 20, chunk: 128 << 10)));

        Assert.That(ZfsTestBed.Zfs("get", "-H", "-p", "-o", "value,source", "refquota", target.Dataset).Trim(), Is.EqualTo("1048576\tlocal"));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task Receive_snapshotNameAlreadyOnTarget_refusedBeforeWriting()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        await source.CreateSnapshotAsync("s1");
        var target = await Bed.CreateAsync(Bed.B, "dst");
        var r1 = await NativeTransfer.RunAsync(source, null, "s1", target, null);
        var stream = await NativeTransfer.CaptureAsync(source, null, "s1");
        var s1 = (await source.GetLineageAsync()).Find("s1")!;

        Assert.ThrowsAsync<NativeStreamMismatchException>(() => target.ReceiveAsync(new MemoryStream(stream), new NativeReceiveRequest { Snapshot = s1, TargetBase = r1 }));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task Promote_afterLiveWritesOnTheTarget_rollsThemBack()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        Trees.WriteRandom(await source.GetPathAsync(null), "a", 4, 8192, seed: 30);
        await source.CreateSnapshotAsync("s1");
        var target = await Bed.CreateAsync(Bed.B, "dst");
        await NativeTransfer.RunAsync(source, null, "s1", target, null);
        Trees.WriteRandom(await target.GetPathAsync(null), "stray", 3, 4096, seed: 31);

        await target.PromoteAsync("s1");

        Assert.That(Trees.Digest(await target.GetPathAsync(null)), Is.EqualTo(Trees.Digest(await source.GetPathAsync("s1"))));
    }

    [Test]
    public async Task Promote_rightAfterReceive_liveStateIsTheSnapshotAndMounted()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        Trees.WriteRandom(await source.GetPathAsync(null), "a", 4, 8192, seed: 32);
        await source.CreateSnapshotAsync("s1");
        var target = await Bed.CreateAsync(Bed.B, "dst");
        ZfsTestBed.Zfs("unmount", target.Dataset);

        await NativeTransfer.RunAsync(source, null, "s1", target, null);
        await target.PromoteAsync("s1");

        Assert.That(ZfsTestBed.Zfs("get", "-H", "-o", "value", "mounted,atime", target.Dataset).Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "yes", "off" }));
        Assert.That(Trees.Digest(await target.GetPathAsync(null)), Is.EqualTo(Trees.Digest(await source.GetPathAsync("s1"))));
    }

    [Test]
    public async Task Send_destinationThrows_killsSendAndRethrows()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        Trees.WriteRandom(await source.GetPathAsync(null), "a", 8, 512 << 10, seed: 14);
        await source.CreateSnapshotAsync("s1");

        var error = Assert.ThrowsAsync<IOException>(() => source.SendAsync(null, "s1", new FailingWriteStream(1 << 20)));
        Assert.That(error!.Message, Does.Contain("Injected"));
        Assert.That(SendProcessesOf(source.Dataset), Is.Empty);
    }

    [Test]
    public async Task Send_missingSnapshot_throwsCommandExceptionWithCommandExitCodeAndStderr()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        var error = Assert.ThrowsAsync<BackendCommandException>(() => source.SendAsync(null, "nope", Stream.Null));
        Assert.That(error!.CommandLine, Does.StartWith("zfs send").And.Contain($"{source.Dataset}@nope"));
        Assert.That(error.ExitCode, Is.Not.Zero);
        Assert.That(error.StandardError, Does.Contain("does not exist"));
    }

    private async Task<(ZfsVolume Source, ZfsVolume Target, SnapshotInfo R1, string DigestBase)> PrepareLargeIncrementalAsync()
    {
        var source = await Bed.CreateAsync(Bed.A, "src");
        var sourcePath = await source.GetPathAsync(null);
        Trees.WriteRandom(sourcePath, "a", 4, 64 << 10, seed: 20);
        await source.CreateSnapshotAsync("s1");
        Trees.WriteRandom(sourcePath, "b", 24, 512 << 10, seed: 21); // ~12 MiB incremental
        await source.CreateSnapshotAsync("s2");
        var target = await Bed.CreateAsync(Bed.B, "dst");
        var r1 = await NativeTransfer.RunAsync(source, null, "s1", target, null);
        await target.PromoteAsync("s1");
        return (source, target, r1, Trees.Digest(await target.GetPathAsync(null)));
    }

    private static async Task AssertAtBaseAsync(ZfsVolume target, SnapshotInfo r1, string digestBase)
    {
        var lineage = await target.GetLineageAsync();
        Assert.That(lineage.Select(s => (s.Name, s.Identity)), Is.EqualTo(new[] { (r1.Name, r1.Identity) }));
        Assert.That(Trees.Digest(await target.GetPathAsync(null)), Is.EqualTo(digestBase));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 600 && !condition(); i++)
        {
            await Task.Delay(50);
        }
        Assert.That(condition(), Is.True);
    }

    private static List<int> ReceiveProcessesOf(string dataset) => ZfsProcesses("receive", dataset);

    private static List<int> SendProcessesOf(string dataset) => ZfsProcesses("send", dataset);

    /// <summary>PIDs of running <c>zfs VERB … DATASET…</c> processes, read from /proc.</summary>
    private static List<int> ZfsProcesses(string verb, string dataset)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                var state = File.ReadAllText(Path.Combine(dir, "stat")).Split(')')[^1].Trim();
                if (args.Length > 1 && Path.GetFileName(args[0]) == "zfs" && args[1] == verb && args.Any(a => a.StartsWith(dataset, StringComparison.Ordinal)) && !state.StartsWith('Z'))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
        }
        return pids;
    }

    /// <summary>A write stream that throws after <c>failAfter</c> bytes.</summary>
    private sealed class FailingWriteStream(long failAfter) : Stream
    {
        private long _written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _written;

        public override long Position { get => _written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_written + buffer.Length > failAfter)
            {
                throw new IOException($"Injected write failure after {_written} bytes.");
            }
            _written += buffer.Length;
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
