using DeltaSnap.Checksums;
using DeltaSnap.Copy;
using DeltaSnap.Delta;
using DeltaSnap.Devices;
using DeltaSnap.Testing.Devices;

namespace DeltaSnap.Tests.Copy;

public class ShallowCopyOperationTests
{
    private const int Cluster = 64 * 1024;

    private static DeltaPlanOptions PlanOptions(int refinement = 4096) =>
        new() { ClusterSize = Cluster, Algorithm = ChecksumAlgorithm.Crc64Iso, RefinementBlockSize = refinement, MaxDegreeOfParallelism = 2 };

    private static RangeSet Set(params (long Offset, long Length)[] ranges) => new(ranges.Select(r => new ByteRange(r.Offset, r.Length)));

    private static async Task<ShallowCopyOperation> RunAsync(BlockDevice source, DeltaSink target, ShallowCopyRequest request, ShallowCopyOptions? options = null)
    {
        var operation = ShallowCopyOperation.Start(source, target, request, options);
        try
        {
            await operation.Completion;
        }
        catch (Exception) when (operation.State == ShallowCopyState.Error)
        {
            // The caller inspects State and Error.
        }
        return operation;
    }

    // ---- Plans: the target ends up reading like the source ----

    [Test]
    public async Task Start_planOfRandomSparseVolumes_targetContentEqualsSource(
        [Range(0, 39)] int seed, [Values(1, 3)] int parallelism)
    {
        var random = new Random(seed);
        var length = random.NextInt64(1, 24L * Cluster);
        await using var target = await TestVolumes.RandomSparseAsync(random, length);
        await using var source = await TestVolumes.CloneAsync(target);
        await TestVolumes.MutateAsync(random, source, random.Next(1, 12));
        var plan = await DeltaPlanner.PlanAsync(source, target, PlanOptions(random.Next(2) == 0 ? 0 : 4096));
        var sink = new OrderCheckingSink(target);

        var operation = await RunAsync(source, sink, ShallowCopyRequest.ForPlan(plan),
            new ShallowCopyOptions { MaxDegreeOfParallelism = parallelism, DetectZeros = random.Next(2) == 0 });

        Assert.That(operation.State, Is.EqualTo(ShallowCopyState.Complete), () => operation.Error?.ToString() ?? "");
        Assert.That(await TestVolumes.ReadAllAsync(target), Is.EqualTo(await TestVolumes.ReadAllAsync(source)));
        Assert.That(sink.OutOfOrder, Is.False);
        Assert.That(operation.CopiedBytes + operation.UnmappedBytes, Is.EqualTo(plan.BytesToCopy + plan.BytesToUnmap));
        Assert.That(operation.TotalClusters, Is.EqualTo(plan.ClustersDiffering));
        Assert.That(operation.CopiedClusters + operation.UnmappedClusters, Is.EqualTo(operation.TotalClusters));
        var touched = plan.CopyRanges.Union(plan.UnmapRanges);
        var lastEnd = touched.IsEmpty ? 0 : touched[^1].End;
        var expectedCheckpoint = lastEnd == 0 ? 0 : plan.Layout.RangeOf(plan.Layout.ClusterIndexOf(lastEnd - 1)).End;
        Assert.That(operation.Checkpoint, Is.EqualTo(expectedCheckpoint), "the end of the last cluster done");
    }

    [Test]
    public async Task Start_planWithZerosToCopy_zerosSentAsUnmapUnlessDisabled([Values] bool detectZeros)
    {
        await using var source = new MemoryBlockDevice(4L * Cluster);
        await source.WriteAsync(Cluster, new byte[Cluster]); // allocated zeros
        await source.WriteAsync(2L * Cluster, new byte[] { 5 });
        await using var target = new MemoryBlockDevice(4L * Cluster);
        var plan = new DeltaPlan(new ClusterLayout(4L * Cluster, Cluster), Set((Cluster, 2L * Cluster)), new RangeSet());

        var operation = await RunAsync(source, new BlockDeviceSink(target), ShallowCopyRequest.ForPlan(plan), new ShallowCopyOptions { DetectZeros = detectZeros });

        Assert.That((operation.CopiedBytes, operation.UnmappedBytes), Is.EqualTo(detectZeros ? (Cluster, Cluster) : (2L * Cluster, 0L)));
        Assert.That((operation.CopiedClusters, operation.UnmappedClusters), Is.EqualTo(detectZeros ? (1L, 1L) : (2L, 0L)));
        Assert.That(target.AllocatedBytes, Is.EqualTo(detectZeros ? Cluster : 2L * Cluster));
    }

    // ---- Longhorn's range shallow copy: a list of clusters ----

    [Test]
    public async Task Start_clusterList_allocatedClustersCopiedUnallocatedOnesUnmapped()
    {
        var layout = new ClusterLayout(6L * Cluster, Cluster);
        await using var source = new MemoryBlockDevice(layout.VolumeSize);
        var random = new Random(1);
        var data = new byte[Cluster];
        foreach (var c in new[] { 0, 2, 5 })
        {
            random.NextBytes(data);
            await source.WriteAsync(c * (long)Cluster, data);
        }
        await source.WriteAsync(3L * Cluster + 100, new byte[] { 1 }); // one allocated page in cluster 3
        var old = new byte[layout.VolumeSize];
        random.NextBytes(old);
        await using var target = new MemoryBlockDevice(old);

        // Clusters 1 and 4 are unallocated in the source; 5 is not listed.
        var operation = await RunAsync(source, new BlockDeviceSink(target), ShallowCopyRequest.ForClusters(layout, [4, 0, 1, 2, 3, 1]));

        Assert.That(operation.State, Is.EqualTo(ShallowCopyState.Complete));
        Assert.That((operation.CopiedClusters, operation.UnmappedClusters, operation.TotalClusters), Is.EqualTo((3L, 2L, 5L)));
        var content = await TestVolumes.ReadAllAsync(target);
        var expected = await TestVolumes.ReadAllAsync(source);
        Assert.That(content.AsSpan(0, 5 * Cluster).SequenceEqual(expected.AsSpan(0, 5 * Cluster)), Is.True, "listed clusters read like the source");
        Assert.That(content.AsSpan(5 * Cluster).SequenceEqual(old.AsSpan(5 * Cluster)), Is.True, "unlisted cluster untouched");
        var targetAllocation = await target.ReadAllocationAsync();
        Assert.That(targetAllocation.Intersect(Set((Cluster, Cluster), (4L * Cluster, Cluster))).IsEmpty, Is.True, "unallocated clusters unmapped");
    }

    [Test]
    public async Task Start_clusterListOnDeviceWithoutAllocation_everyListedClusterCopied()
    {
        var layout = new ClusterLayout(3L * Cluster, Cluster);
        var data = new byte[layout.VolumeSize];
        new Random(2).NextBytes(data);
        await using var source = new CountingBlockDevice(new OpaqueBlockDevice(new MemoryBlockDevice(data)));
        await using var target = new MemoryBlockDevice(layout.VolumeSize);

        var operation = await RunAsync(source, new BlockDeviceSink(target), ShallowCopyRequest.ForClusters(layout, [0, 2]));

        Assert.That((operation.CopiedClusters, operation.CopiedBytes), Is.EqualTo((2L, 2L * Cluster)));
        Assert.That(source.BytesRead, Is.EqualTo(2L * Cluster));
    }

    [Test]
    public void ForClusters_indexOutsideLayout_throws()
    {
        var layout = new ClusterLayout(3L * Cluster, Cluster);

        Assert.That(() => ShallowCopyRequest.ForClusters(layout, [0, 3]), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public async Task Start_requestForOtherVolumeSize_throwsArgumentException()
    {
        await using var source = new MemoryBlockDevice(2L * Cluster);
        var request = ShallowCopyRequest.ForClusters(new ClusterLayout(3L * Cluster, Cluster), [0]);

        Assert.That(() => ShallowCopyOperation.Start(source, new BlockDeviceSink(source), request), Throws.InstanceOf<ArgumentException>());
    }

    // ---- Order, parallelism, bounded memory ----

    [Test]
    public async Task Start_readsFinishingOutOfOrder_sinkStillSeesAscendingOffsets([Values(2, 4, 8)] int parallelism)
    {
        var data = new byte[64 * Cluster];
        new Random(parallelism).NextBytes(data);
        await using var source = new JitteryBlockDevice(new MemoryBlockDevice(data), seed: parallelism);
        await using var target = new MemoryBlockDevice(data.Length);
        var sink = new OrderCheckingSink(target);
        var request = ShallowCopyRequest.ForClusters(new ClusterLayout(data.Length, Cluster), Enumerable.Range(0, 64).Select(i => (long)i));

        var operation = await RunAsync(source, sink, request, new ShallowCopyOptions { MaxDegreeOfParallelism = parallelism });

        Assert.That(operation.State, Is.EqualTo(ShallowCopyState.Complete));
        Assert.That(sink.OutOfOrder, Is.False);
        Assert.That(sink.Calls, Is.EqualTo(64));
        Assert.That(source.MaxReadsInFlight, Is.GreaterThan(1).And.LessThanOrEqualTo(parallelism));
        Assert.That(target.ToArray(), Is.EqualTo(data));
    }

    [Test]
    public async Task Start_sinkBlocked_readsStopAtTheReorderWindow()
    {
        const int Parallelism = 3;
        var data = new byte[64 * Cluster];
        new Random(3).NextBytes(data);
        await using var source = new JitteryBlockDevice(new MemoryBlockDevice(data), seed: 3);
        var sink = new GatedSink(new MemoryBlockDevice(data.Length));
        var request = ShallowCopyRequest.ForClusters(new ClusterLayout(data.Length, Cluster), Enumerable.Range(0, 64).Select(i => (long)i));

        var operation = ShallowCopyOperation.Start(source, sink, request, new ShallowCopyOptions { MaxDegreeOfParallelism = Parallelism });
        await sink.FirstWriteStarted.Task;
        await Task.Delay(200);
        var readWhileBlocked = source.ReadCalls;
        sink.Gate.SetResult();
        await operation.Completion;

        Assert.That(readWhileBlocked, Is.LessThanOrEqualTo(2 * Parallelism), "at most the window is read ahead of the writer");
        Assert.That(operation.State, Is.EqualTo(ShallowCopyState.Complete));
    }

    // ---- Failures, resumption, cancellation ----

    [Test]
    public async Task Start_targetFailsAfterNWrites_errorThenResumeFromCheckpointFinishesTheCopy([Values(5, 17, 40)] int writesBeforeFault)
    {
        var random = new Random(writesBeforeFault);
        var length = 48L * Cluster;
        await using var inner = await TestVolumes.RandomSparseAsync(random, length);
        await using var source = await TestVolumes.CloneAsync(inner);
        for (var i = 0; i < 60; i++)
        {
            var data = new byte[random.Next(1, 3 * 4096)];
            random.NextBytes(data);
            await source.WriteAsync(random.NextInt64(length - data.Length), data);
        }
        var plan = await DeltaPlanner.PlanAsync(source, inner, PlanOptions());
        await using var faulty = new FaultInjectingBlockDevice(inner, writesBeforeFault);
        var options = new ShallowCopyOptions { MaxDegreeOfParallelism = 3, DetectZeros = false };

        var first = ShallowCopyOperation.Start(source, new BlockDeviceSink(faulty), ShallowCopyRequest.ForPlan(plan), options);

        Assert.That(async () => await first.Completion, Throws.InstanceOf<IOException>());
        Assert.That(first.State, Is.EqualTo(ShallowCopyState.Error));
        Assert.That(first.Error, Is.InstanceOf<IOException>());
        Assert.That(first.Checkpoint, Is.GreaterThan(0).And.LessThan(length));

        var remaining = plan.CopyRanges.Intersect(Set((first.Checkpoint, length - first.Checkpoint))).TotalLength;
        var second = await RunAsync(source, new BlockDeviceSink(inner), ShallowCopyRequest.ForPlan(plan),
            new ShallowCopyOptions { MaxDegreeOfParallelism = 3, DetectZeros = false, ResumeFrom = first.Checkpoint });

        Assert.That(second.State, Is.EqualTo(ShallowCopyState.Complete), () => second.Error?.ToString() ?? "");
        Assert.That(second.CopiedBytes, Is.EqualTo(remaining), "the second run copies only what was left");
        Assert.That(second.CopiedBytes, Is.LessThan(plan.BytesToCopy));
        Assert.That(await TestVolumes.ReadAllAsync(inner), Is.EqualTo(await TestVolumes.ReadAllAsync(source)));
    }

    [Test]
    public async Task Start_clusterListResumedFromCheckpoint_skipsClustersDone()
    {
        var layout = new ClusterLayout(10L * Cluster, Cluster);
        var data = new byte[layout.VolumeSize];
        new Random(4).NextBytes(data);
        await using var source = new MemoryBlockDevice(data);
        await using var target = new MemoryBlockDevice(layout.VolumeSize);
        var request = ShallowCopyRequest.ForClusters(layout, Enumerable.Range(0, 10).Select(i => (long)i));

        var first = await RunAsync(source, new BlockDeviceSink(new FaultInjectingBlockDevice(target, writesBeforeFault: 4)), request,
            new ShallowCopyOptions { MaxDegreeOfParallelism = 1 });
        var second = await RunAsync(source, new BlockDeviceSink(target), request, new ShallowCopyOptions { ResumeFrom = first.Checkpoint });

        Assert.That(first.Checkpoint, Is.EqualTo(4L * Cluster));
        Assert.That((second.TotalClusters, second.CopiedClusters, second.CopiedBytes), Is.EqualTo((6L, 6L, 6L * Cluster)));
        Assert.That(target.ToArray(), Is.EqualTo(data));
    }

    [Test]
    public async Task Cancel_whileCopying_errorStateWithOperationCanceledAndCompletionCancelled()
    {
        var data = new byte[64 * Cluster];
        new Random(5).NextBytes(data);
        await using var source = new MemoryBlockDevice(data);
        var sink = new GatedSink(new MemoryBlockDevice(data.Length));
        var request = ShallowCopyRequest.ForClusters(new ClusterLayout(data.Length, Cluster), Enumerable.Range(0, 64).Select(i => (long)i));

        var operation = ShallowCopyOperation.Start(source, sink, request);
        await sink.FirstWriteStarted.Task;
        operation.Cancel();

        Assert.That(async () => await operation.Completion, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(operation.Completion.IsCanceled, Is.True);
        Assert.That(operation.State, Is.EqualTo(ShallowCopyState.Error));
        Assert.That(operation.Error, Is.InstanceOf<OperationCanceledException>());
        Assert.That(operation.CopiedClusters, Is.LessThan(64));
        operation.Cancel(); // after the end: nothing happens
    }

    [Test]
    public async Task Start_cancelledToken_endsCancelled()
    {
        await using var source = new MemoryBlockDevice(new byte[4 * Cluster]);
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        var operation = ShallowCopyOperation.Start(source, new BlockDeviceSink(new MemoryBlockDevice(4L * Cluster)),
            ShallowCopyRequest.ForClusters(new ClusterLayout(4L * Cluster, Cluster), [0, 1]), cancellationToken: cancellation.Token);

        Assert.That(async () => await operation.Completion, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(operation.Error, Is.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task Start_sourceReadFails_errorStateWithTheFailure()
    {
        var data = new byte[16 * Cluster];
        new Random(6).NextBytes(data);
        await using var source = new FaultInjectingBlockDevice(new MemoryBlockDevice(data), readsBeforeFault: 3);
        await using var target = new MemoryBlockDevice(data.Length);
        var request = ShallowCopyRequest.ForClusters(new ClusterLayout(data.Length, Cluster), Enumerable.Range(0, 16).Select(i => (long)i));

        var operation = await RunAsync(source, new BlockDeviceSink(target), request);

        Assert.That(operation.State, Is.EqualTo(ShallowCopyState.Error));
        Assert.That(operation.Error, Is.InstanceOf<IOException>());
        Assert.That(operation.Checkpoint, Is.LessThanOrEqualTo(3L * Cluster));
    }

    [Test]
    public async Task Start_progress_lastReportIsCompleteWithTotals()
    {
        var data = new byte[8 * Cluster];
        new Random(7).NextBytes(data);
        await using var source = new MemoryBlockDevice(data);
        var reports = new List<ShallowCopyProgress>();
        var progress = new SynchronousProgress<ShallowCopyProgress>(p =>
        {
            lock (reports)
            {
                reports.Add(p);
            }
        });
        var request = ShallowCopyRequest.ForClusters(new ClusterLayout(data.Length, Cluster), Enumerable.Range(0, 8).Select(i => (long)i));

        var operation = ShallowCopyOperation.Start(source, new BlockDeviceSink(new MemoryBlockDevice(data.Length)), request, progress: progress);
        await operation.Completion;

        Assert.That(reports[^1], Is.EqualTo(new ShallowCopyProgress(ShallowCopyState.Complete, 8, 0, 8, 8L * Cluster, 0, 8L * Cluster, 8L * Cluster)));
        Assert.That(operation.GetProgress(), Is.EqualTo(reports[^1]));
    }

    [Test]
    public async Task Start_emptyPlan_completesWithNothingDone()
    {
        await using var source = new MemoryBlockDevice(4L * Cluster);
        var plan = new DeltaPlan(new ClusterLayout(4L * Cluster, Cluster), new RangeSet(), new RangeSet());

        var operation = await RunAsync(source, new BlockDeviceSink(new MemoryBlockDevice(4L * Cluster)), ShallowCopyRequest.ForPlan(plan));

        Assert.That(operation.GetProgress(), Is.EqualTo(new ShallowCopyProgress(ShallowCopyState.Complete, 0, 0, 0, 0, 0, 0, 0)));
    }

    [Test]
    public async Task Start_adjacentUnmaps_sentAsOneCall()
    {
        await using var source = new MemoryBlockDevice(8L * Cluster);
        var data = new byte[8 * Cluster];
        Array.Fill(data, (byte)1);
        await using var target = new MemoryBlockDevice(data);
        var sink = new OrderCheckingSink(target);
        var plan = await DeltaPlanner.PlanAsync(source, target, PlanOptions());

        var operation = await RunAsync(source, sink, ShallowCopyRequest.ForPlan(plan));

        Assert.That((operation.UnmappedClusters, operation.UnmappedBytes), Is.EqualTo((8L, 8L * Cluster)));
        Assert.That(sink.Calls, Is.EqualTo(1));
        Assert.That(target.AllocatedBytes, Is.Zero);
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    // Holds every write until Gate is set.
    private sealed class GatedSink(BlockDevice device) : DeltaSink
    {
        public TaskCompletionSource FirstWriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            FirstWriteStarted.TrySetResult();
            await Gate.Task.WaitAsync(cancellationToken);
            await device.WriteAsync(offset, data, cancellationToken);
        }

        protected override ValueTask UnmapCoreAsync(ByteRange range, CancellationToken cancellationToken) => device.UnmapAsync(range, cancellationToken);
    }
}
