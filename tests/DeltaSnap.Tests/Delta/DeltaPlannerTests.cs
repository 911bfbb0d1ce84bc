using DeltaSnap.Checksums;
using DeltaSnap.Delta;
using DeltaSnap.Devices;
using DeltaSnap.Testing.Devices;
using DeltaSnap.Tests.Copy;

namespace DeltaSnap.Tests.Delta;

public class DeltaPlannerTests
{
    private const int Cluster = 64 * 1024;
    private const ChecksumAlgorithm Algorithm = ChecksumAlgorithm.Crc64Iso;

    private const ClusterState U = ClusterState.Unallocated;
    private const ClusterState Z = ClusterState.Zero;
    private const ClusterState D = ClusterState.Data;

    // A map built directly: cluster i has states[i] and, when it holds data, a digest made from tags[i].
    private static ClusterChecksums Map(long volumeSize, ClusterState[] states, byte[]? tags = null, int clusterSize = 4096)
    {
        var builder = new ClusterChecksumsBuilder(new ClusterLayout(volumeSize, clusterSize), Algorithm);
        for (var i = 0; i < states.Length; i++)
        {
            var digest = new byte[8];
            digest[0] = tags?[i] ?? 1;
            builder.Set(i, states[i], digest);
        }
        return builder.Build();
    }

    private static DeltaPlanOptions Options(int refinement = 4096, int parallelism = 2) =>
        new() { ClusterSize = Cluster, Algorithm = Algorithm, RefinementBlockSize = refinement, MaxDegreeOfParallelism = parallelism };

    private static RangeSet Set(params (long Offset, long Length)[] ranges) => new(ranges.Select(r => new ByteRange(r.Offset, r.Length)));

    // ---- Compare: clusters from maps alone ----

    [Test]
    public void Compare_sameDigests_planIsEmpty()
    {
        var source = Map(4 * 4096, [D, D, U, Z], [1, 2, 0, 0]);
        var target = Map(4 * 4096, [D, D, U, Z], [1, 2, 0, 0]);

        var plan = DeltaPlanner.Compare(source, target);

        Assert.That(plan.IsEmpty, Is.True);
        Assert.That((plan.ClustersCompared, plan.ClustersDiffering, plan.SourceBytesRead, plan.TargetBytesRead), Is.EqualTo((4L, 0L, 0L, 0L)));
    }

    [Test]
    public void Compare_zeroAgainstUnallocated_readAlikeAndNothingPlanned()
    {
        var source = Map(4 * 4096, [Z, U, Z, U]);
        var target = Map(4 * 4096, [U, Z, Z, U]);

        Assert.That(DeltaPlanner.Compare(source, target).IsEmpty, Is.True);
    }

    [Test]
    public void Compare_differingClusters_dataCopiedAndZerosUnmapped()
    {
        //                      0  1  2  3  4  5
        var source = Map(6 * 4096, [D, D, Z, U, D, D], [1, 2, 0, 0, 5, 6]);
        var target = Map(6 * 4096, [D, D, D, D, U, Z], [1, 9, 3, 4, 0, 0]);

        var plan = DeltaPlanner.Compare(source, target);

        Assert.That(plan.CopyRanges, Is.EqualTo(Set((4096, 4096), (4 * 4096, 2 * 4096))));
        Assert.That(plan.UnmapRanges, Is.EqualTo(Set((2 * 4096, 2 * 4096))));
        Assert.That((plan.BytesToCopy, plan.BytesToUnmap, plan.ClustersDiffering), Is.EqualTo((3L * 4096, 2L * 4096, 5L)));
    }

    [Test]
    public void Compare_targetShorter_dataPastItsEndCopiedZerosNot()
    {
        var source = Map(5 * 4096, [D, D, D, Z, U], [1, 2, 3, 0, 0]);
        var target = Map(2 * 4096 + 100, [D, D, D], [1, 2, 3]); // cluster 2 is a 100-byte tail

        var plan = DeltaPlanner.Compare(source, target);

        // Cluster 2: same tag but different lengths, so different content; clusters 3 and 4 read as zeros.
        Assert.That(plan.CopyRanges, Is.EqualTo(Set((2 * 4096, 4096))));
        Assert.That(plan.UnmapRanges.IsEmpty, Is.True);
    }

    [Test]
    public void Compare_sourceShorter_nothingPlannedPastSourceEnd()
    {
        var source = Map(2 * 4096 + 512, [D, Z, Z], [1, 0, 0]);
        var target = Map(6 * 4096, [D, D, D, D, D, D], [1, 2, 3, 4, 5, 6]);

        var plan = DeltaPlanner.Compare(source, target);

        Assert.That(plan.Layout.VolumeSize, Is.EqualTo(2 * 4096 + 512));
        Assert.That(plan.CopyRanges.IsEmpty, Is.True);
        Assert.That(plan.UnmapRanges, Is.EqualTo(Set((4096, 4096 + 512))));
    }

    [Test]
    public void Compare_differentAlgorithms_throwsArgumentException()
    {
        var source = Map(4096, [D]);
        var builder = new ClusterChecksumsBuilder(new ClusterLayout(4096, 4096), ChecksumAlgorithm.Sha256);
        builder.Set(0, D, new byte[32]);

        Assert.That(() => DeltaPlanner.Compare(source, builder.Build()), Throws.InstanceOf<ArgumentException>());
    }

    [Test]
    public async Task Compare_computedMapsOfRandomVolumes_applyingPlanMakesContentEqual([Range(0, 19)] int seed)
    {
        var random = new Random(seed);
        var length = random.NextInt64(1, 24L * Cluster);
        await using var target = await TestVolumes.RandomSparseAsync(random, random.Next(3) == 0 ? random.NextInt64(1, length * 2) : length);
        await using var source = await TestVolumes.CloneAsync(target, length);
        await TestVolumes.MutateAsync(random, source, 6);
        var checksumOptions = new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = Algorithm };

        var plan = DeltaPlanner.Compare(
            await ClusterChecksums.ComputeAsync(source, checksumOptions),
            await ClusterChecksums.ComputeAsync(target, checksumOptions));
        await TestVolumes.ApplyAsync(plan, source, target);

        Assert.That(await TestVolumes.ReadAllAsync(target), Is.EqualTo(await TestVolumes.ReadAllAsync(source)));
        Assert.That(plan.CopyRanges.All(r => r.Offset % Cluster == 0), Is.True, "whole clusters");
    }

    // ---- PlanAsync: refinement ----

    // 1 MiB clusters, 4 KiB blocks, 256 MiB of random data with 1 % of the blocks rewritten at random.
    [Test]
    public async Task PlanAsync_onePercentOfBlocksRewritten_copiesOnlyThoseBlocksAndWholeClustersWithoutRefinement(
        [Values(ChecksumAlgorithm.Xxh128, ChecksumAlgorithm.Crc64Iso)] ChecksumAlgorithm algorithm)
    {
        const long Volume = 256L << 20;
        const int Block = 4096;
        var random = new Random(42);
        var content = new byte[Volume];
        random.NextBytes(content);
        await using var target = new MemoryBlockDevice(content);
        var changedBlocks = new SortedSet<long>();
        while (changedBlocks.Count < Volume / Block / 100)
        {
            var block = random.NextInt64(Volume / Block);
            changedBlocks.Add(block);
            random.NextBytes(content.AsSpan((int)(block * Block), Block));
        }
        await using var source = new MemoryBlockDevice(content);
        content = null;
        var changedBytes = changedBlocks.Count * (long)Block;
        var touchedClusters = changedBlocks.Select(b => b * Block >> 20).Distinct().Count();

        var refined = await DeltaPlanner.PlanAsync(source, target,
            new DeltaPlanOptions { Algorithm = algorithm, MaxDegreeOfParallelism = 2 });
        var whole = await DeltaPlanner.PlanAsync(source, target,
            new DeltaPlanOptions { Algorithm = algorithm, MaxDegreeOfParallelism = 2, RefinementBlockSize = 0 });

        Assert.That(refined.BytesToCopy, Is.LessThanOrEqualTo(1.1 * changedBytes));
        Assert.That(refined.CopyRanges.SelectMany(r => Enumerable.Range(0, (int)(r.Length / Block)).Select(i => (r.Offset / Block) + i)),
            Is.EqualTo(changedBlocks), "exactly the rewritten blocks");
        Assert.That(whole.BytesToCopy, Is.EqualTo(touchedClusters * (1L << 20)));
        Assert.That(whole.BytesToCopy, Is.GreaterThan(0.85 * Volume), "without refinement nearly every cluster is copied");
        Assert.That(refined.SourceBytesRead, Is.LessThanOrEqualTo(Volume), "each cluster read at most once");
        Assert.That(refined.TargetBytesRead, Is.LessThanOrEqualTo(Volume));
    }

    [Test]
    public async Task PlanAsync_zeroBlocksInSourceDataCluster_onlyThoseBlocksUnmapped()
    {
        var data = new byte[4 * Cluster];
        new Random(1).NextBytes(data);
        await using var target = new MemoryBlockDevice(data);
        await using var source = new MemoryBlockDevice(data);
        await source.WriteAsync(Cluster + 8192, new byte[4096]);       // zeros over data
        await source.UnmapAsync(new ByteRange(3 * Cluster, 8192));     // a hole over data
        await source.WriteAsync(2 * Cluster + 100, new byte[] { 1, 2, 3 }); // an unaligned change

        var plan = await DeltaPlanner.PlanAsync(source, target, Options());

        Assert.That(plan.UnmapRanges, Is.EqualTo(Set((Cluster + 8192, 4096), (3 * Cluster, 8192))));
        Assert.That(plan.CopyRanges, Is.EqualTo(Set((2 * Cluster, 4096))));
        Assert.That(plan.ClustersDiffering, Is.EqualTo(3));
    }

    [Test]
    public async Task PlanAsync_zeroWrittenAgainstHole_nothingPlanned()
    {
        await using var source = new MemoryBlockDevice(8L * Cluster);
        await using var target = new MemoryBlockDevice(8L * Cluster);
        await source.WriteAsync(Cluster, new byte[2 * Cluster]);
        await target.WriteAsync(5L * Cluster, new byte[Cluster]);

        var plan = await DeltaPlanner.PlanAsync(source, target, Options());

        Assert.That(plan.IsEmpty, Is.True);
        Assert.That(plan.ClustersCompared, Is.EqualTo(8));
    }

    [Test]
    public async Task PlanAsync_randomVolumes_applyingPlanMakesContentEqual(
        [Range(0, 29)] int seed, [Values(0, 512, 4096)] int refinement)
    {
        var random = new Random(seed);
        var length = random.NextInt64(1, 20L * Cluster);
        await using var target = await TestVolumes.RandomSparseAsync(random, random.Next(3) == 0 ? random.NextInt64(1, length * 2) : length);
        await using var source = await TestVolumes.CloneAsync(target, length);
        await TestVolumes.MutateAsync(random, source, 8);
        var checksumOptions = new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = Algorithm };
        var sourceMap = random.Next(2) == 0 ? await ClusterChecksums.ComputeAsync(source, checksumOptions) : null;
        var targetMap = random.Next(2) == 0 ? await ClusterChecksums.ComputeAsync(target, checksumOptions) : null;

        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest { Source = source, Target = target, Options = Options(refinement), SourceChecksums = sourceMap, TargetChecksums = targetMap });
        await TestVolumes.ApplyAsync(plan, source, target);

        Assert.That(await TestVolumes.ReadAllAsync(target), Is.EqualTo(await TestVolumes.ReadAllAsync(source)));
        var again = await DeltaPlanner.PlanAsync(source, target, Options(refinement));
        Assert.That(again.IsEmpty, Is.True, "a second plan finds nothing left");
    }

    [Test]
    public async Task PlanAsync_refinedPlan_neverLargerThanWholeClusterPlan([Range(0, 9)] int seed)
    {
        var random = new Random(seed);
        await using var target = await TestVolumes.RandomSparseAsync(random, 16L * Cluster);
        await using var source = await TestVolumes.CloneAsync(target);
        await TestVolumes.MutateAsync(random, source, 10);

        var refined = await DeltaPlanner.PlanAsync(source, target, Options());
        var whole = await DeltaPlanner.PlanAsync(source, target, Options(refinement: 0));

        Assert.That(refined.CopyRanges.Subtract(whole.CopyRanges).IsEmpty, Is.True);
        Assert.That(refined.ClustersDiffering, Is.LessThanOrEqualTo(whole.ClustersDiffering));
    }

    // ---- PlanAsync: what it reads ----

    [Test]
    public async Task PlanAsync_noMaps_eachClusterReadAtMostOncePerSideAndHolesNotRead()
    {
        var random = new Random(3);
        await using var targetInner = await TestVolumes.RandomSparseAsync(random, 32L * Cluster);
        await using var sourceInner = await TestVolumes.CloneAsync(targetInner);
        await TestVolumes.MutateAsync(random, sourceInner, 10);
        await using var source = new CountingBlockDevice(sourceInner);
        await using var target = new CountingBlockDevice(targetInner);
        var allocatedClusters = (await sourceInner.ReadAllocationAsync()).EnumerateClusters(new ClusterLayout(sourceInner.Length, Cluster)).Count();

        var plan = await DeltaPlanner.PlanAsync(source, target, Options());

        Assert.That(source.MaxReadsOfOneOffset, Is.EqualTo(1));
        Assert.That(target.MaxReadsOfOneOffset, Is.LessThanOrEqualTo(1));
        Assert.That(source.BytesRead, Is.LessThanOrEqualTo(allocatedClusters * (long)Cluster));
        Assert.That((plan.SourceBytesRead, plan.TargetBytesRead), Is.EqualTo((source.BytesRead, target.BytesRead)));
    }

    [Test]
    public async Task PlanAsync_oneBlockWrittenInAHole_readsOnlyThatBlock()
    {
        await using var sourceInner = new MemoryBlockDevice(8L * Cluster);
        await using var targetInner = new MemoryBlockDevice(8L * Cluster);
        await sourceInner.WriteAsync(3L * Cluster + 8192, Enumerable.Repeat((byte)3, 4096).ToArray());
        await using var source = new CountingBlockDevice(sourceInner);
        await using var target = new CountingBlockDevice(targetInner);

        var plan = await DeltaPlanner.PlanAsync(source, target, Options());

        Assert.That(plan.CopyRanges, Is.EqualTo(Set((3L * Cluster + 8192, 4096))));
        Assert.That((source.BytesRead, target.BytesRead), Is.EqualTo((4096L, 0L)));
    }

    [Test]
    public async Task PlanAsync_bothMaps_readsOnlyClustersWhoseDigestsDiffer()
    {
        var data = new byte[16 * Cluster];
        new Random(5).NextBytes(data);
        await using var targetInner = new MemoryBlockDevice(data);
        await using var sourceInner = new MemoryBlockDevice(data);
        await sourceInner.WriteAsync(3L * Cluster + 10, new byte[] { 7 });
        await sourceInner.WriteAsync(9L * Cluster + 5000, new byte[] { 7 });
        var checksumOptions = new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = Algorithm };
        var sourceMap = await ClusterChecksums.ComputeAsync(sourceInner, checksumOptions);
        var targetMap = await ClusterChecksums.ComputeAsync(targetInner, checksumOptions);
        await using var source = new CountingBlockDevice(sourceInner);
        await using var target = new CountingBlockDevice(targetInner);

        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest { Source = source, Target = target, Options = Options(), SourceChecksums = sourceMap, TargetChecksums = targetMap });

        Assert.That(plan.CopyRanges, Is.EqualTo(Set((3L * Cluster, 4096), (9L * Cluster + 4096, 4096))));
        Assert.That((source.BytesRead, target.BytesRead), Is.EqualTo((2L * Cluster, 2L * Cluster)));
        Assert.That((source.MaxReadsOfOneOffset, target.MaxReadsOfOneOffset), Is.EqualTo((1, 1)));
    }

    [Test]
    public async Task PlanAsync_sourceMapOnly_targetReadOnceAndSourceOnlyWhereDifferent()
    {
        var data = new byte[16 * Cluster];
        new Random(6).NextBytes(data);
        await using var targetInner = new MemoryBlockDevice(data);
        await using var sourceInner = new MemoryBlockDevice(data);
        await sourceInner.WriteAsync(4L * Cluster, new byte[] { 1, 2, 3 });
        var sourceMap = await ClusterChecksums.ComputeAsync(sourceInner, new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = Algorithm });
        await using var source = new CountingBlockDevice(sourceInner);
        await using var target = new CountingBlockDevice(targetInner);

        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest { Source = source, Target = target, Options = Options(), SourceChecksums = sourceMap });

        Assert.That(plan.CopyRanges, Is.EqualTo(Set((4L * Cluster, 4096))));
        Assert.That(source.BytesRead, Is.EqualTo(Cluster));
        Assert.That(target.BytesRead, Is.EqualTo(16L * Cluster));
        Assert.That(target.MaxReadsOfOneOffset, Is.EqualTo(1));
    }

    [Test]
    public async Task PlanAsync_candidates_readsOnlyClustersTouchingThem()
    {
        const long Volume = 256L * Cluster;
        var data = new byte[Volume];
        new Random(8).NextBytes(data);
        await using var targetInner = new MemoryBlockDevice(data);
        await using var sourceInner = new MemoryBlockDevice(data);
        var writes = new[] { (Offset: 17L * Cluster + 300, Length: 5000), (Offset: 100L * Cluster - 10, Length: 20), (Offset: 200L * Cluster, Length: 4096) };
        foreach (var (offset, length) in writes)
        {
            await sourceInner.WriteAsync(offset, Enumerable.Repeat((byte)0xAB, length).ToArray());
        }
        var candidates = new RangeSet(writes.Select(w => new ByteRange(w.Offset, w.Length)));
        await using var source = new CountingBlockDevice(sourceInner);
        await using var target = new CountingBlockDevice(targetInner);

        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest { Source = source, Target = target, Options = Options(), Candidates = candidates });
        var full = await DeltaPlanner.PlanAsync(sourceInner, targetInner, Options());

        // Clusters 17, 99, 100 and 200, whatever the volume size; inside them only the 4 KiB blocks the writes
        // touch: 2 + (1 + 1) + 1 blocks per side.
        Assert.That(plan.ClustersCompared, Is.EqualTo(4));
        Assert.That((source.BytesRead, target.BytesRead), Is.EqualTo((5L * 4096, 5L * 4096)));
        Assert.That(plan.CopyRanges, Is.EqualTo(full.CopyRanges));
    }

    [Test]
    public async Task PlanAsync_candidatesWithoutRefinement_readsWholeClustersTouchingThem()
    {
        var data = new byte[64 * Cluster];
        new Random(8).NextBytes(data);
        await using var targetInner = new MemoryBlockDevice(data);
        await using var sourceInner = new MemoryBlockDevice(data);
        await sourceInner.WriteAsync(17L * Cluster + 300, new byte[] { 1 });
        await using var source = new CountingBlockDevice(sourceInner);
        await using var target = new CountingBlockDevice(targetInner);

        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest
        {
            Source = source, Target = target, Options = Options(refinement: 0), Candidates = Set((17L * Cluster + 300, 1), (40L * Cluster, 1)),
        });

        Assert.That(plan.CopyRanges, Is.EqualTo(Set((17L * Cluster, Cluster))));
        Assert.That((source.BytesRead, target.BytesRead), Is.EqualTo((2L * Cluster, 2L * Cluster)));
    }

    [Test]
    public async Task PlanAsync_scatteredCandidates_planEqualsFullPlan([Range(0, 19)] int seed)
    {
        var random = new Random(seed);
        await using var target = await TestVolumes.RandomSparseAsync(random, 12L * Cluster + random.Next(Cluster));
        await using var source = await TestVolumes.CloneAsync(target);
        var candidates = new RangeSet();
        for (var i = 0; i < 20; i++)
        {
            var offset = random.NextInt64(source.Length - 5000);
            var data = new byte[random.Next(1, 5000)];
            if (random.Next(3) != 0)
            {
                random.NextBytes(data);
            }
            await source.WriteAsync(offset, data);
            candidates.Add(new ByteRange(offset, data.Length));
        }
        var checksumOptions = new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = Algorithm };
        var sourceMap = random.Next(2) == 0 ? await ClusterChecksums.ComputeAsync(source, checksumOptions) : null;
        var targetMap = random.Next(2) == 0 ? await ClusterChecksums.ComputeAsync(target, checksumOptions) : null;

        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest
        {
            Source = source, Target = target, Options = Options(), SourceChecksums = sourceMap, TargetChecksums = targetMap, Candidates = candidates,
        });
        var full = await DeltaPlanner.PlanAsync(source, target, Options());

        Assert.That((plan.CopyRanges, plan.UnmapRanges), Is.EqualTo((full.CopyRanges, full.UnmapRanges)));
    }

    [Test]
    public async Task PlanAsync_candidatesWithMaps_readsNothingWhenCandidateClustersAgree()
    {
        var data = new byte[8 * Cluster];
        new Random(9).NextBytes(data);
        await using var targetInner = new MemoryBlockDevice(data);
        await using var sourceInner = new MemoryBlockDevice(data);
        var checksumOptions = new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = Algorithm };
        var sourceMap = await ClusterChecksums.ComputeAsync(sourceInner, checksumOptions);
        var targetMap = await ClusterChecksums.ComputeAsync(targetInner, checksumOptions);
        await using var source = new CountingBlockDevice(sourceInner);
        await using var target = new CountingBlockDevice(targetInner);

        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest
        {
            Source = source, Target = target, Options = Options(), SourceChecksums = sourceMap, TargetChecksums = targetMap, Candidates = Set((Cluster, 3 * Cluster)),
        });

        Assert.That(plan.IsEmpty, Is.True);
        Assert.That(plan.ClustersCompared, Is.EqualTo(3));
        Assert.That(source.BytesRead + target.BytesRead, Is.Zero);
    }

    [Test]
    public async Task PlanAsync_changeOutsideCandidates_isNotPlanned()
    {
        await using var target = new MemoryBlockDevice(8L * Cluster);
        await using var source = new MemoryBlockDevice(8L * Cluster);
        await source.WriteAsync(0, new byte[] { 1 });
        await source.WriteAsync(5L * Cluster, new byte[] { 1 });

        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest { Source = source, Target = target, Options = Options(), Candidates = Set((5L * Cluster, 1)) });

        Assert.That(plan.CopyRanges, Is.EqualTo(Set((5L * Cluster, 4096))));
    }

    // ---- PlanAsync: sizes, arguments, failures ----

    [Test]
    public async Task PlanAsync_targetShorterOrLonger_applyingPlanAfterResizeMakesContentEqual([Values(-3, 3)] int clusterDelta)
    {
        var random = new Random(11);
        var data = new byte[10 * Cluster + 1234];
        random.NextBytes(data);
        await using var source = new MemoryBlockDevice(data);
        var targetLength = data.Length + (clusterDelta * (long)Cluster);
        await using var target = new MemoryBlockDevice(targetLength);
        await target.WriteAsync(0, data.AsMemory(0, (int)Math.Min(targetLength, data.Length)));
        if (targetLength > data.Length)
        {
            await target.WriteAsync(data.Length, Enumerable.Repeat((byte)9, (int)(targetLength - data.Length)).ToArray());
        }

        var plan = await DeltaPlanner.PlanAsync(source, target, Options());
        await TestVolumes.ApplyAsync(plan, source, target);

        Assert.That(plan.Layout.VolumeSize, Is.EqualTo(data.Length));
        Assert.That(await TestVolumes.ReadAllAsync(target), Is.EqualTo(data));
        Assert.That(plan.BytesToCopy, Is.LessThanOrEqualTo(Math.Max(0, -clusterDelta) * (long)Cluster + 4096));
    }

    [Test]
    public async Task PlanAsync_mapOfOtherAlgorithm_throwsArgumentException()
    {
        await using var device = new MemoryBlockDevice(4L * Cluster);
        var map = await ClusterChecksums.ComputeAsync(device, new ClusterChecksumOptions { ClusterSize = Cluster, Algorithm = ChecksumAlgorithm.Sha256 });

        Assert.That(async () => await DeltaPlanner.PlanAsync(new DeltaPlanRequest { Source = device, Target = device, Options = Options(), SourceChecksums = map }),
            Throws.InstanceOf<ArgumentException>().With.Property(nameof(ArgumentException.ParamName)).EqualTo("request")
                .And.Message.StartsWith("The source map holds Sha256 digests"));
    }

    [Test]
    public async Task PlanAsync_refinementBlockNotSmallerThanCluster_throwsArgumentException()
    {
        await using var device = new MemoryBlockDevice(4L * Cluster);
        var options = new DeltaPlanOptions { ClusterSize = 4096, RefinementBlockSize = 4096 };

        Assert.That(async () => await DeltaPlanner.PlanAsync(device, device, options), Throws.InstanceOf<ArgumentException>());
    }

    [Test]
    public void Options_invalidRefinementBlockSize_throws([Values(-1, 256, 3000)] int size)
    {
        Assert.That(() => new DeltaPlanOptions { RefinementBlockSize = size }, Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void Options_defaults_matchTheDesign()
    {
        var options = new DeltaPlanOptions();

        Assert.That((options.ClusterSize, options.Algorithm, options.RefinementBlockSize, options.MaxDegreeOfParallelism),
            Is.EqualTo((1 << 20, ChecksumAlgorithm.Xxh128, 4096, Environment.ProcessorCount)));
    }

    [Test]
    public async Task PlanAsync_cancelled_throwsOperationCanceledException()
    {
        await using var source = new MemoryBlockDevice(new byte[8 * Cluster].Select((_, i) => (byte)i).ToArray());
        await using var target = new MemoryBlockDevice(8L * Cluster);
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        Assert.That(async () => await DeltaPlanner.PlanAsync(source, target, Options(), cancellationToken: cancellation.Token),
            Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task PlanAsync_readFault_throwsTheDeviceFailure()
    {
        var data = new byte[32 * Cluster];
        new Random(2).NextBytes(data);
        await using var source = new FaultInjectingBlockDevice(new MemoryBlockDevice(data), readsBeforeFault: 5);
        await using var target = new MemoryBlockDevice(32L * Cluster);

        Assert.That(async () => await DeltaPlanner.PlanAsync(source, target, Options(parallelism: 4)), Throws.InstanceOf<IOException>());
    }

    [Test]
    public async Task PlanAsync_progress_reportsEveryClusterAtTheEnd()
    {
        var data = new byte[16 * Cluster];
        new Random(4).NextBytes(data);
        await using var source = new MemoryBlockDevice(data);
        await using var target = new MemoryBlockDevice(16L * Cluster);
        var reports = new List<DeltaPlanProgress>();
        var progress = new SynchronousProgress<DeltaPlanProgress>(p =>
        {
            lock (reports)
            {
                reports.Add(p);
            }
        });

        var plan = await DeltaPlanner.PlanAsync(new DeltaPlanRequest { Source = source, Target = target, Options = Options(), Progress = progress });

        Assert.That(reports[^1], Is.EqualTo(new DeltaPlanProgress(16, 16, plan.SourceBytesRead, plan.TargetBytesRead)));
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
