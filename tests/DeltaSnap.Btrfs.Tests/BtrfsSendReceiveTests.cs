using System.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Btrfs.Tests;

public sealed class BtrfsSendReceiveTests : BtrfsTestBase
{
    [Test]
    public async Task SendReceive_fullThenIncremental_targetTreesEqualSourceTrees()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 10);
        var s1 = await source.CreateSnapshotAsync("s1");
        TestData.Change(source.LivePath, seed: 11);
        var s2 = await source.CreateSnapshotAsync("s2");

        var (r1, fullBytes) = await NativeTransfer.TransferAsync(source, target, null, null, s1);
        var (r2, incrementalBytes) = await NativeTransfer.TransferAsync(source, target, s1, r1, s2);

        Assert.That(TreeDigest.Describe(await target.GetPathAsync("s1")), Is.EqualTo(TreeDigest.Describe(await source.GetPathAsync("s1"))));
        Assert.That(TreeDigest.Describe(await target.GetPathAsync("s2")), Is.EqualTo(TreeDigest.Describe(await source.GetPathAsync("s2"))));
        Assert.That(TreeDigest.Compute(await target.GetPathAsync("s2")), Is.Not.EqualTo(TreeDigest.Compute(await target.GetPathAsync("s1"))));
        Assert.That(File.GetUnixFileMode(Path.Combine(await target.GetPathAsync("s1"), "secret.txt")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.That(r1.ReceivedFrom, Is.EqualTo(s1.Identity));
        Assert.That(r2.ReceivedFrom, Is.EqualTo(s2.Identity));
        Assert.That(fullBytes, Is.GreaterThan(8 * 256 * 1024), "the full stream carries every file");
        Assert.That(incrementalBytes, Is.LessThan(fullBytes / 4), "the incremental stream carries only the changes");
    }

    [Test]
    public async Task Send_incremental_streamNamesTheParentUuidInItsSnapshotCommand()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var s1 = await source.CreateSnapshotAsync("s1");
        File.WriteAllText(Path.Combine(source.LivePath, "x"), "x");
        var s2 = await source.CreateSnapshotAsync("s2");
        var full = new MemoryStream();
        var incremental = new MemoryStream();

        await source.SendAsync(null, "s1", full);
        await source.SendAsync("s1", "s2", incremental);

        full.Position = 0;
        incremental.Position = 0;
        var fullStart = await BtrfsStreamStart.ReadAsync(full, default);
        var incrementalStart = await BtrfsStreamStart.ReadAsync(incremental, default);
        Assert.That(fullStart.IsIncremental, Is.False);
        Assert.That(fullStart.Name, Is.EqualTo("s1"));
        Assert.That(fullStart.Uuid, Is.EqualTo(s1.Identity.Value));
        Assert.That(incrementalStart.IsIncremental, Is.True);
        Assert.That(incrementalStart.Name, Is.EqualTo("s2"));
        Assert.That(incrementalStart.Uuid, Is.EqualTo(s2.Identity.Value));
        Assert.That(incrementalStart.ParentUuid, Is.EqualTo(s1.Identity.Value));
        Assert.That(incrementalStart.ParentCTransId, Is.EqualTo(ulong.Parse(Show(await source.GetPathAsync("s1"))["Generation"], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(fullStart.Version, Is.EqualTo(1u));
    }

    [Test]
    public async Task Send_compressed_usesProtocolVersionTwoAndReceives()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 12, files: 2);
        var s1 = await source.CreateSnapshotAsync("s1");
        var stream = new MemoryStream();

        await source.SendAsync(null, "s1", stream, new NativeSendOptions { Compressed = true });
        stream.Position = 0;
        var start = await BtrfsStreamStart.ReadAsync(stream, default);
        stream.Position = 0;
        await target.ReceiveAsync(stream, new NativeReceiveRequest { Snapshot = s1 });

        Assert.That(start.Version, Is.EqualTo(2u));
        Assert.That(TreeDigest.Compute(await target.GetPathAsync("s1")), Is.EqualTo(TreeDigest.Compute(await source.GetPathAsync("s1"))));
    }

    [Test]
    public async Task Receive_incrementalFromAnotherParent_isRejectedNamingBothUuidsAndWritesNothing()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 13, files: 2);
        var s1 = await source.CreateSnapshotAsync("s1");
        File.WriteAllText(Path.Combine(source.LivePath, "two"), "2");
        var s2 = await source.CreateSnapshotAsync("s2");
        File.WriteAllText(Path.Combine(source.LivePath, "three"), "3");
        var s3 = await source.CreateSnapshotAsync("s3");
        var (r1, _) = await NativeTransfer.TransferAsync(source, target, null, null, s1);
        var wrongParent = new MemoryStream();
        await source.SendAsync("s2", "s3", wrongParent);
        wrongParent.Position = 0;
        var entriesBefore = Entries(target.SnapshotDirectory);
        var liveBefore = TreeDigest.Compute(target.LivePath);

        var e = Assert.ThrowsAsync<NativeStreamMismatchException>(() =>
            target.ReceiveAsync(wrongParent, new NativeReceiveRequest { Snapshot = s3, TargetBase = r1 }));

        Assert.That(e!.StreamFrom?.Value, Is.EqualTo(s2.Identity.Value));
        Assert.That(e.TargetBase, Is.EqualTo(r1.Identity));
        Assert.That(r1.ReceivedFrom?.Value, Is.EqualTo(s1.Identity.Value), "the target base's received UUID");
        Assert.That(e.Message, Does.Contain(s2.Identity.Value).And.Contain(s1.Identity.Value));
        Assert.That(Entries(target.SnapshotDirectory), Is.EqualTo(entriesBefore));
        Assert.That(TreeDigest.Compute(target.LivePath), Is.EqualTo(liveBefore));
        Assert.That(wrongParent.Position, Is.LessThan(1024), "only the header and first command were read");
    }

    [Test]
    public async Task Receive_fullStreamWhereIncrementalExpected_isRejected()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        var s1 = await source.CreateSnapshotAsync("s1");
        var s2 = await source.CreateSnapshotAsync("s2");
        var (r1, _) = await NativeTransfer.TransferAsync(source, target, null, null, s1);
        var full = new MemoryStream();
        await source.SendAsync(null, "s2", full);
        full.Position = 0;

        var e = Assert.ThrowsAsync<NativeStreamMismatchException>(() =>
            target.ReceiveAsync(full, new NativeReceiveRequest { Snapshot = s2, TargetBase = r1 }));

        Assert.That(e!.StreamFrom, Is.Null);
        Assert.That(e.TargetBase, Is.EqualTo(r1.Identity));
        Assert.That(e.Message, Does.Contain("full stream"));
        Assert.That(Entries(target.SnapshotDirectory), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task Receive_incrementalWithoutTargetBase_isRejected()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        var s1 = await source.CreateSnapshotAsync("s1");
        var s2 = await source.CreateSnapshotAsync("s2");
        await NativeTransfer.TransferAsync(source, target, null, null, s1);
        var incremental = new MemoryStream();
        await source.SendAsync("s1", "s2", incremental);
        incremental.Position = 0;

        var e = Assert.ThrowsAsync<NativeStreamMismatchException>(() =>
            target.ReceiveAsync(incremental, new NativeReceiveRequest { Snapshot = s2 }));

        Assert.That(e!.StreamFrom?.Value, Is.EqualTo(s1.Identity.Value));
        Assert.That(e.TargetBase, Is.Null);
        Assert.That(Entries(target.SnapshotDirectory), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task Receive_streamOfAnotherSnapshot_isRejected()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        var s1 = await source.CreateSnapshotAsync("s1");
        var s2 = await source.CreateSnapshotAsync("s2");
        var stream = new MemoryStream();
        await source.SendAsync(null, "s1", stream);

        stream.Position = 0;
        var byName = Assert.ThrowsAsync<NativeStreamMismatchException>(() =>
            target.ReceiveAsync(stream, new NativeReceiveRequest { Snapshot = s2 }));
        stream.Position = 0;
        var impostor = new SnapshotInfo("s1", s2.Identity, s2.CreatedUtc);
        var byUuid = Assert.ThrowsAsync<NativeStreamMismatchException>(() =>
            target.ReceiveAsync(stream, new NativeReceiveRequest { Snapshot = impostor }));

        Assert.That(byName!.Message, Does.Contain("'s1'").And.Contain("'s2'"));
        Assert.That(byUuid!.StreamTo?.Value, Is.EqualTo(s1.Identity.Value));
        Assert.That(byUuid.Message, Does.Contain(s2.Identity.Value), "the UUID the request expected");
        Assert.That(Entries(target.SnapshotDirectory), Is.Empty);
    }

    [Test]
    public async Task Receive_damagedOrForeignStream_isRejectedAsCorruptAndWritesNothing()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        var s1 = await source.CreateSnapshotAsync("s1");
        var stream = new MemoryStream();
        await source.SendAsync(null, "s1", stream);
        var bytes = stream.ToArray();
        var request = new NativeReceiveRequest { Snapshot = s1 };

        Assert.That(() => target.ReceiveAsync(new MemoryStream(Damage.FlipBit(bytes, 40)), request),
            Throws.InstanceOf<CorruptDataException>().With.Message.Contains("CRC-32C"));
        Assert.That(() => target.ReceiveAsync(new MemoryStream(Damage.FlipBit(bytes, 2)), request),
            Throws.InstanceOf<CorruptDataException>().With.Message.Contains("not a Btrfs send stream"));
        var future = bytes.ToArray();
        future[13] = 3;
        Assert.That(() => target.ReceiveAsync(new MemoryStream(future), request),
            Throws.InstanceOf<CorruptDataException>().With.Message.Contains("version 3"));
        Assert.That(() => target.ReceiveAsync(new MemoryStream(Damage.Truncate(bytes, 30)), request),
            Throws.InstanceOf<CorruptDataException>().With.Message.Contains("truncated"));
        Assert.That(() => target.ReceiveAsync(new MemoryStream(), request),
            Throws.InstanceOf<CorruptDataException>().With.Message.Contains("empty"));
        Assert.That(Entries(target.SnapshotDirectory), Is.Empty);
    }

    [Test]
    public async Task Receive_truncatedAfterHeader_failsAndLeavesNoHalfReceivedSubvolume()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 14, files: 4);
        var s1 = await source.CreateSnapshotAsync("s1");
        var stream = new MemoryStream();
        await source.SendAsync(null, "s1", stream);

        var e = Assert.ThrowsAsync<BackendCommandException>(() =>
            target.ReceiveAsync(new MemoryStream(Damage.Truncate(stream.ToArray(), (int)stream.Length / 2)), new NativeReceiveRequest { Snapshot = s1 }));

        Assert.That(e!.ExitCode, Is.Not.Zero);
        Assert.That(e.CommandLine, Does.StartWith("btrfs -q receive -e "));
        Assert.That(e.StandardError, Is.Not.Empty);
        Assert.That(Logs.Logged(4011), Is.True, "the half-received subvolume existed and was removed");
        Assert.That(Entries(target.SnapshotDirectory), Is.Empty);
    }

    [Test]
    public async Task Receive_killedMidStream_previousStateIntactHalfReceivedRemovedAndRerunCompletes()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.Populate(source.LivePath, seed: 15, files: 2);
        var s1 = await source.CreateSnapshotAsync("s1");
        TestData.WriteFile(Path.Combine(source.LivePath, "big.bin"), 64L * 1024 * 1024, seed: 16);
        var s2 = await source.CreateSnapshotAsync("s2");
        var (r1, _) = await NativeTransfer.TransferAsync(source, target, null, null, s1);
        await target.PromoteAsync("s1");
        var stream = new MemoryStream();
        await source.SendAsync("s1", "s2", stream);
        var liveBefore = TreeDigest.Compute(target.LivePath);
        var s1Before = TreeDigest.Compute(await target.GetPathAsync("s1"));
        using var cancellation = new CancellationTokenSource();
        stream.Position = 0;
        var killer = new CancelAfterBytesStream(stream, 16 * 1024 * 1024, cancellation);

        Assert.That(() => target.ReceiveAsync(killer, new NativeReceiveRequest { Snapshot = s2, TargetBase = r1 }, cancellation.Token),
            Throws.InstanceOf<OperationCanceledException>());

        Assert.That(killer.Cancelled, Is.True, "the receive was under way when it was killed");
        Assert.That(Logs.Logged(4011), Is.True, "the half-received subvolume existed and was removed");
        Assert.That(Entries(target.SnapshotDirectory), Is.EqualTo(new[] { "s1" }), "the half-received s2 is gone");
        Assert.That(TreeDigest.Compute(target.LivePath), Is.EqualTo(liveBefore));
        Assert.That(TreeDigest.Compute(await target.GetPathAsync("s1")), Is.EqualTo(s1Before));
        Assert.That(Show(await target.GetPathAsync("s1"))["Received UUID"], Is.EqualTo(s1.Identity.Value));

        stream.Position = 0;
        var r2 = await target.ReceiveAsync(stream, new NativeReceiveRequest { Snapshot = s2, TargetBase = r1 });

        Assert.That(r2.ReceivedFrom, Is.EqualTo(s2.Identity));
        Assert.That(TreeDigest.Compute(await target.GetPathAsync("s2")), Is.EqualTo(TreeDigest.Compute(await source.GetPathAsync("s2"))));
    }

    [Test]
    public async Task Receive_sourceStreamFails_originalErrorSurfacesAndHalfReceivedIsRemoved()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.WriteFile(Path.Combine(source.LivePath, "big.bin"), 32L * 1024 * 1024, seed: 17);
        var s1 = await source.CreateSnapshotAsync("s1");
        var stream = new MemoryStream();
        await source.SendAsync(null, "s1", stream);
        stream.Position = 0;

        Assert.That(() => target.ReceiveAsync(new ThrowAfterNBytesStream(stream, 8 * 1024 * 1024, chunk: 256 * 1024), new NativeReceiveRequest { Snapshot = s1 }),
            Throws.TypeOf<IOException>().With.Message.Contains("Injected connection loss"));
        Assert.That(Logs.Logged(4011), Is.True, "the half-received subvolume existed and was removed");

        Assert.That(Entries(target.SnapshotDirectory), Is.Empty);
    }

    [Test]
    public async Task Receive_leftoverOfACrashedReceive_isRemovedAndTheReceiveCompletes()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        TestData.WriteFile(Path.Combine(source.LivePath, "big.bin"), 8L * 1024 * 1024, seed: 18);
        var s1 = await source.CreateSnapshotAsync("s1");
        var streamFile = Path.Combine(Path.GetTempPath(), $"dsnap-btrfs-{Guid.NewGuid():N}.stream");
        try
        {
            await using (var file = File.Create(streamFile))
            {
                await source.SendAsync(null, "s1", file);
            }
            var full = await File.ReadAllBytesAsync(streamFile);
            await File.WriteAllBytesAsync(streamFile, full[..(full.Length / 2)]);
            Directory.CreateDirectory(target.SnapshotDirectory);
            using (var crashed = Process.Start("btrfs", ["-q", "receive", "-f", streamFile, target.SnapshotDirectory]))
            {
                await crashed.WaitForExitAsync();
                Assert.That(crashed.ExitCode, Is.Not.Zero);
            }
            Assert.That(Show(Path.Combine(target.SnapshotDirectory, "s1"))["Flags"], Is.EqualTo("-"), "a crashed receive leaves a writable subvolume");
            Assert.That((await target.GetLineageAsync()).Count, Is.Zero, "which is not a snapshot");

            var received = await target.ReceiveAsync(new MemoryStream(full), new NativeReceiveRequest { Snapshot = s1 });

            Assert.That(received.ReceivedFrom, Is.EqualTo(s1.Identity));
            Assert.That(Logs.Logged(4012), Is.True, "the leftover was recognised and removed");
            Assert.That(TreeDigest.Compute(await target.GetPathAsync("s1")), Is.EqualTo(TreeDigest.Compute(await source.GetPathAsync("s1"))));
        }
        finally
        {
            File.Delete(streamFile);
        }
    }

    [Test]
    public async Task Receive_completeSnapshotOfTheSameNameExists_isRefusedAndKept()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        var target = await CreateVolumeAsync(Target, "vm1");
        var s1 = await source.CreateSnapshotAsync("s1");
        var (r1, _) = await NativeTransfer.TransferAsync(source, target, null, null, s1);
        var stream = new MemoryStream();
        await source.SendAsync(null, "s1", stream);
        stream.Position = 0;

        Assert.That(() => target.ReceiveAsync(stream, new NativeReceiveRequest { Snapshot = s1 }),
            Throws.TypeOf<NativeStreamMismatchException>().With.Message.Contains("already has a snapshot named"));

        Assert.That((await target.GetLineageAsync()).Single(), Is.EqualTo(r1));
    }

    [Test]
    public async Task Send_writableSubvolume_failsWithTheCommandExitCodeAndStandardError()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        Directory.CreateDirectory(source.SnapshotDirectory);
        Testing.BackendRequirement.Run("btrfs", "-q", "subvolume", "create", Path.Combine(source.SnapshotDirectory, "writable"));

        var e = Assert.ThrowsAsync<BackendCommandException>(() => source.SendAsync(null, "writable", Stream.Null));

        Assert.That(e!.ExitCode, Is.Not.Zero);
        Assert.That(e.CommandLine, Is.EqualTo($"btrfs -q send {Path.Combine(source.SnapshotDirectory, "writable")}"));
        Assert.That(e.StandardError, Does.Contain("read-only"));
        Assert.That(e.Message, Does.Contain(e.CommandLine).And.Contain(e.StandardError));
    }

    [Test]
    public async Task Send_cancelledMidStream_killsTheSendProcess()
    {
        var source = await CreateVolumeAsync(Source, "vm1");
        TestData.WriteFile(Path.Combine(source.LivePath, "big.bin"), 64L * 1024 * 1024, seed: 19);
        await source.CreateSnapshotAsync("s1");
        using var cancellation = new CancellationTokenSource();
        var destination = new CancelAfterBytesWriteStream(4 * 1024 * 1024, cancellation);
        var stopwatch = Stopwatch.StartNew();

        Assert.That(() => source.SendAsync(null, "s1", destination, cancellationToken: cancellation.Token), Throws.InstanceOf<OperationCanceledException>());

        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)));
        var snapshotPath = await source.GetPathAsync("s1");
        Assert.That(RunningCommandLines().Any(c => c.Contains(snapshotPath, StringComparison.Ordinal)), Is.False, "no btrfs send is left running");
    }

    [Test]
    public void Send_resumeToken_isNotSupported()
    {
        Assert.That(async () =>
        {
            var source = await CreateVolumeAsync(Source, "vm1");
            await source.CreateSnapshotAsync("s1");
            await source.SendAsync(null, "s1", Stream.Null, new NativeSendOptions { ResumeToken = "1-abc" });
        }, Throws.TypeOf<NotSupportedException>());
    }

    private static List<string> RunningCommandLines()
    {
        var lines = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
                if (state != "Z" && cmdline.StartsWith("btrfs", StringComparison.Ordinal))
                {
                    lines.Add(cmdline);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return lines;
    }
}

/// <summary>Passes reads through until <c>limit</c> bytes, then cancels <c>cancellation</c> and waits for the cancellation to take effect.</summary>
public sealed class CancelAfterBytesStream(Stream inner, long limit, CancellationTokenSource cancellation) : Stream
{
    private long _read;

    public bool Cancelled { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_read >= limit)
        {
            Cancelled = true;
            await cancellation.CancelAsync();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        var n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, Math.Max(1, limit - _read))], cancellationToken);
        _read += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Accepts writes until <c>limit</c> bytes, then cancels <c>cancellation</c> and blocks until the cancellation takes effect.</summary>
public sealed class CancelAfterBytesWriteStream(long limit, CancellationTokenSource cancellation) : Stream
{
    private long _written;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _written; set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _written += buffer.Length;
        if (_written >= limit)
        {
            await cancellation.CancelAsync();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");
    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
