using System.Buffers;
using System.Runtime.ExceptionServices;
using DeltaSnap.Checksums;
using DeltaSnap.Devices;

namespace DeltaSnap.Delta;

/// <summary>
/// Works out what must change on a target so that it reads like a source: <see cref="Compare"/> from two
/// checksum maps alone, <see cref="PlanAsync(DeltaPlanRequest, CancellationToken)"/> from the devices, refining differing clusters down to blocks.
/// </summary>
/// <remarks>
/// Content is what counts, not allocation: a zero cluster and an unallocated one read alike, so neither is
/// copied over the other. A cluster that differs is copied when the source holds data there and unmapped on
/// the target when the source reads as zeros there.
/// </remarks>
public static class DeltaPlanner
{
    /// <summary>
    /// Compares two checksum maps cluster by cluster, reading nothing: every cluster of the source whose content
    /// differs from the target's (<see cref="ClusterChecksums.ContentEquals(long, ClusterChecksums)"/>) is copied
    /// whole when the source holds data there and unmapped when the source reads as zeros there.
    /// </summary>
    /// <remarks>
    /// Clusters past the target's end are copied when they hold data. Nothing past the source's end is planned;
    /// unmaps stop at the target's end.
    /// </remarks>
    /// <param name="source">The map of the volume to copy from.</param>
    /// <param name="target">The map of the volume to bring up to date.</param>
    /// <exception cref="ArgumentNullException">A map is null.</exception>
    /// <exception cref="ArgumentException">The maps use different algorithms or cluster sizes.</exception>
    public static DeltaPlan Compare(ClusterChecksums source, ClusterChecksums target)
    {
        ThrowHelper.ThrowIfNull(source);
        ThrowHelper.ThrowIfNull(target);
        source.CheckComparable(target);
        var layout = source.Layout;
        var copies = new RangeList();
        var unmaps = new RangeList();
        for (long index = 0; index < layout.ClusterCount; index++)
        {
            var sourceState = source.GetState(index);
            var targetState = index < target.Layout.ClusterCount ? target.GetState(index) : ClusterState.Unallocated;
            if (sourceState == ClusterState.Data)
            {
                if (targetState != ClusterState.Data || !DigestsAgree(source, target, index))
                {
                    copies.Add(layout.OffsetOf(index), layout.LengthOf(index));
                }
            }
            else if (targetState == ClusterState.Data)
            {
                unmaps.Add(layout.OffsetOf(index), TargetBytesOf(layout, index, target.Layout.VolumeSize));
            }
        }
        return new DeltaPlan(layout, new RangeSet(copies.Ranges), new RangeSet(unmaps.Ranges)) { ClustersCompared = layout.ClusterCount };
    }

    /// <summary>
    /// Plans the delta from the request's source to its target: compares them cluster by
    /// cluster (from the checksum maps given, hashing on demand where a map is missing), then, unless
    /// <see cref="DeltaPlanOptions.RefinementBlockSize"/> is 0, compares each differing cluster block by block
    /// so that only the blocks that differ are copied or unmapped.
    /// </summary>
    /// <remarks>
    /// <para>Each cluster is read at most once per side over the whole call, and only when the maps cannot
    /// settle it: a side without a map is read where it is allocated (holes read as zeros without being
    /// read, also inside a cluster) and hashed with the plan's algorithm, giving the digests
    /// <see cref="ClusterChecksums.ComputeAsync"/> would, but in the same pass as refinement instead of in a
    /// pass of its own. A side with a map is read only for
    /// clusters that differ and hold data on that side. Up to
    /// <see cref="DeltaPlanOptions.MaxDegreeOfParallelism"/> clusters are in hand at once, two pooled
    /// cluster-sized buffers each.</para>
    /// <para>With <see cref="DeltaPlanRequest.Candidates"/> — the byte ranges that may have changed since the target was a
    /// copy of the source, as a backend's diff or allocation map says — only the clusters touching them are
    /// compared, and every other byte is taken to be equal already. With refinement on, only the refinement
    /// blocks touching candidates are read inside those clusters (when the maps do not already show the
    /// cluster equal), so the cost grows with what changed rather than with the volume, even when small writes
    /// are scattered over every cluster.</para>
    /// <para>Unmaps are refined to blocks only when the target cluster had to be read anyway; when a map
    /// already says the target holds data where the source reads as zeros, the whole cluster is unmapped.</para>
    /// </remarks>
    /// <param name="request">The devices, the options, and the maps and candidate ranges at hand.</param>
    /// <param name="cancellationToken">Cancels the planning.</param>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is null.</exception>
    /// <exception cref="ArgumentException">A map does not describe its device with the options' cluster size and
    /// algorithm, or the refinement block is not smaller than the cluster.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="IOException">A device failed to read.</exception>
    public static async Task<DeltaPlan> PlanAsync(DeltaPlanRequest request, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(request);
        var (source, target, options) = (request.Source, request.Target, request.Options);
        options.Validate(nameof(request));
        CheckMap(request.SourceChecksums, source, options, "source");
        CheckMap(request.TargetChecksums, target, options, "target");

        var layout = new ClusterLayout(source.Length, options.ClusterSize);
        var candidates = request.Candidates;
        var clusters = candidates is null || layout.ClusterCount == 0 ? null : candidates.EnumerateClusters(layout).ToArray();
        var run = new PlanRun(
            layout,
            options,
            new PlanSide(source, layout, request.SourceChecksums),
            new PlanSide(target, new ClusterLayout(target.Length, options.ClusterSize), request.TargetChecksums),
            candidates,
            clusters,
            request.Progress);
        await run.Source.ReadAllocationAsync(clusters, cancellationToken).ConfigureAwait(false);
        await run.Target.ReadAllocationAsync(clusters, cancellationToken).ConfigureAwait(false);
        return await run.ExecuteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Plans the delta from <paramref name="source"/> to <paramref name="target"/> with no maps or candidate ranges at
    /// hand: <see cref="PlanAsync(DeltaPlanRequest, CancellationToken)"/> with only the devices and the options.
    /// </summary>
    /// <exception cref="ArgumentNullException">A device is null.</exception>
    /// <exception cref="ArgumentException">The refinement block is not smaller than the cluster.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="IOException">A device failed to read.</exception>
    public static Task<DeltaPlan> PlanAsync(BlockDevice source, BlockDevice target, DeltaPlanOptions? options = null, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(source);
        ThrowHelper.ThrowIfNull(target);
        return PlanAsync(new DeltaPlanRequest { Source = source, Target = target, Options = options ?? new DeltaPlanOptions() }, cancellationToken);
    }

    private static void CheckMap(ClusterChecksums? map, BlockDevice device, DeltaPlanOptions options, string side)
    {
        if (map is null)
        {
            return;
        }
        if (map.Algorithm != options.Algorithm || map.Layout.ClusterSize != options.ClusterSize || map.Layout.VolumeSize != device.Length)
        {
            ThrowHelper.ThrowArgument("request",
                $"The {side} map holds {map.Algorithm} digests of {map.Layout.ClusterSize}-byte clusters over {map.Layout.VolumeSize} bytes; " +
                $"the plan needs {options.Algorithm} digests of {options.ClusterSize}-byte clusters over the device's {device.Length} bytes.");
        }
    }

    // Whether two maps that both say Data hold the same bytes in cluster `index` (same length, same digest).
    private static bool DigestsAgree(ClusterChecksums source, ClusterChecksums target, long index) =>
        source.Layout.LengthOf(index) == target.Layout.LengthOf(index) && source.GetChecksum(index).SequenceEqual(target.GetChecksum(index));

    // The index of the first range of `set` that ends after `offset` (Count when none does).
    private static int FirstEndingAfter(RangeSet set, long offset)
    {
        int low = 0, high = set.Count;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (set[middle].End <= offset)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }
        return low;
    }

    // How many bytes of source cluster `index` exist on a target of `targetLength` bytes.
    private static int TargetBytesOf(ClusterLayout layout, long index, long targetLength) =>
        (int)Math.Clamp(targetLength - layout.OffsetOf(index), 0, layout.LengthOf(index));

    /// <summary>
    /// Bytes to compare inside cluster <c>Index</c> (all of it, or a run of blocks), what each side's map or
    /// allocation says about that cluster, and whether whole-cluster digests may still settle it (the region is
    /// the whole cluster and the maps have not already shown the digests to differ).
    /// </summary>
    private readonly record struct Region(long Index, ByteRange Range, bool CompareClusterDigests, ClusterState? SourceState, ClusterState? TargetState);

    /// <summary>One side of a comparison: its device, its map if any, where it holds data, and what it costs to read.</summary>
    private sealed class PlanSide(BlockDevice device, ClusterLayout layout, ClusterChecksums? map)
    {
        // Allocated extents closer than this are read with one call (the hole between reads as zeros anyway).
        private const int MaxReadGap = 32 * 1024;

        // The byte ranges that may hold data, for a side without a map on a device that reports them (null: all).
        private RangeSet? _allocation;
        private long _bytesRead;

        public BlockDevice Device { get; } = device;

        public ClusterLayout Layout { get; } = layout;

        public ClusterChecksums? Map { get; } = map;

        public long BytesRead => Interlocked.Read(ref _bytesRead);

        /// <summary>What cluster <paramref name="index"/> holds, when that is known without reading it.</summary>
        public ClusterState? KnownState(long index)
        {
            if (index >= Layout.ClusterCount)
            {
                return ClusterState.Unallocated; // Past the end: counts as zeros.
            }
            if (Map is not null)
            {
                return Map.GetState(index);
            }
            if (_allocation is null)
            {
                return null;
            }
            var cluster = Layout.RangeOf(index);
            var first = FirstEndingAfter(_allocation, cluster.Offset);
            return first < _allocation.Count && _allocation[first].Offset < cluster.End ? null : ClusterState.Unallocated;
        }

        /// <summary>For a side without a map, learns where the device holds data: everywhere, or around the clusters to compare.</summary>
        public async Task ReadAllocationAsync(long[]? clusters, CancellationToken cancellationToken)
        {
            if (Map is not null || !Device.CanReportAllocation || Layout.ClusterCount == 0)
            {
                return;
            }
            if (clusters is null)
            {
                _allocation = await Device.ReadAllocationAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            // Ask only about runs of consecutive candidate clusters, so the cost follows the candidates.
            var allocation = new RangeSet();
            for (var i = 0; i < clusters.Length && clusters[i] < Layout.ClusterCount;)
            {
                var first = clusters[i];
                var count = 1L;
                while (i + count < clusters.Length && clusters[i + count] == first + count && first + count < Layout.ClusterCount)
                {
                    count++;
                }
                await foreach (var r in Device.GetAllocatedRangesAsync(Layout.RangeOf(first, count), cancellationToken).ConfigureAwait(false))
                {
                    allocation.Add(r);
                }
                i += (int)count;
            }
            _allocation = allocation;
        }

        /// <summary>
        /// Reads the <paramref name="length"/> bytes at <paramref name="offset"/> into the start of
        /// <paramref name="buffer"/>. Only the allocated extents are read; holes are filled with zeros, so a
        /// cluster holding one written block in a hole costs one block, not one cluster.
        /// </summary>
        public async ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int length, byte[] buffer, CancellationToken cancellationToken)
        {
            var memory = buffer.AsMemory(0, length);
            if (_allocation is null)
            {
                await Device.ReadAsync(offset, memory, cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref _bytesRead, length);
                return memory;
            }
            var end = offset + length;
            var position = offset; // Everything before it is filled.
            for (var i = FirstEndingAfter(_allocation, offset); i < _allocation.Count && _allocation[i].Offset < end;)
            {
                var start = Math.Max(_allocation[i].Offset, offset);
                var stop = Math.Min(_allocation[i].End, end);
                while (++i < _allocation.Count && _allocation[i].Offset < end && _allocation[i].Offset - stop <= MaxReadGap)
                {
                    stop = Math.Min(_allocation[i].End, end);
                }
                buffer.AsSpan((int)(position - offset), (int)(start - position)).Clear();
                await Device.ReadAsync(start, memory[(int)(start - offset)..(int)(stop - offset)], cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref _bytesRead, stop - start);
                position = stop;
            }
            buffer.AsSpan((int)(position - offset), (int)(end - position)).Clear();
            return memory;
        }

    }

    // Refinement by digests compares blocks of this many refinement blocks first (64 KiB with 4 KiB blocks).
    private const int CoarseBlocks = 16;

    /// <summary>One side of a region compared by digests: its digests from the device, from bytes read once, or zeros.</summary>
    private sealed class DigestSide(PlanSide side, ClusterState? state, ByteRange region, byte[] buffer)
    {
        private ReadOnlyMemory<byte>? _bytes;

        public async ValueTask<byte[]> DigestsAsync(List<ByteRange> ranges, int blockSize, ChecksumAlgorithm algorithm, int digestLength, CancellationToken cancellationToken)
        {
            var digests = new byte[DigestingBlockDevice.GetDigestsLength(ranges, blockSize, digestLength)];
            if (state is { } known && known != ClusterState.Data)
            {
                return digests; // Reads as zeros: every entry 0.
            }
            if (side.Device is DigestingBlockDevice device)
            {
                await device.ReadBlockDigestsAsync(ranges, blockSize, algorithm, digestLength, digests, cancellationToken).ConfigureAwait(false);
                return digests;
            }
            _bytes ??= await side.ReadAsync(region.Offset, (int)region.Length, buffer, cancellationToken).ConfigureAwait(false);
            var at = 0;
            foreach (var range in ranges)
            {
                var data = _bytes.Value.Span.Slice((int)(range.Offset - region.Offset), (int)range.Length);
                var length = (int)((range.Length + blockSize - 1) / blockSize) * (1 + digestLength);
                DigestingBlockDevice.ComputeBlockDigests(data, blockSize, algorithm, digestLength, digests.AsSpan(at, length));
                at += length;
            }
            return digests;
        }
    }

    /// <summary>One planning run: the clusters to compare, the workers that compare them, what they found.</summary>
    private sealed class PlanRun(ClusterLayout layout, DeltaPlanOptions options, PlanSide source, PlanSide target, RangeSet? candidates,
        long[]? clusters, IProgress<DeltaPlanProgress>? progress)
    {
        private readonly long _count = clusters?.LongLength ?? layout.ClusterCount;
        private readonly long _reportEvery = Math.Max(1, (clusters?.LongLength ?? layout.ClusterCount) / 100);
        private readonly List<Worker> _workers = [];
        private long _next = -1;
        private long _done;

        public ClusterLayout Layout { get; } = layout;

        public DeltaPlanOptions Options { get; } = options;

        public PlanSide Source { get; } = source;

        public PlanSide Target { get; } = target;

        public RangeSet? Candidates { get; } = candidates;

        public async Task<DeltaPlan> ExecuteAsync(CancellationToken cancellationToken)
        {
            var workerCount = (int)Math.Min(Options.MaxDegreeOfParallelism, Math.Max(1, _count));
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var tasks = new Task[workerCount];
            for (var w = 0; w < workerCount; w++)
            {
                var worker = new Worker(this);
                _workers.Add(worker);
                tasks[w] = Task.Run(() => worker.RunAsync(stop), CancellationToken.None);
            }
            try
            {
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // A worker that stopped because another failed reports cancellation; report the failure instead.
                var failure = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException).FirstOrDefault(e => e is not OperationCanceledException);
                if (failure is not null)
                {
                    ExceptionDispatchInfo.Throw(failure);
                }
                throw;
            }
            progress?.Report(new DeltaPlanProgress(_count, _count, Source.BytesRead, Target.BytesRead));

            var copies = new RangeSet(_workers.SelectMany(w => w.Copies.Ranges));
            var unmaps = new RangeSet(_workers.SelectMany(w => w.Unmaps.Ranges));
            return new DeltaPlan(Layout, copies, unmaps)
            {
                ClustersCompared = _count,
                SourceBytesRead = Source.BytesRead,
                TargetBytesRead = Target.BytesRead,
            };
        }

        private bool TryTakeCluster(out long index)
        {
            var n = Interlocked.Increment(ref _next);
            index = n < _count ? clusters?[n] ?? n : -1;
            return n < _count;
        }

        private void ClusterDone()
        {
            var done = Interlocked.Increment(ref _done);
            if (progress is not null && done % _reportEvery == 0 && done < _count)
            {
                progress.Report(new DeltaPlanProgress(done, _count, Source.BytesRead, Target.BytesRead));
            }
        }

        /// <summary>Compares clusters one at a time with its own buffers; collects what differs in ascending order.</summary>
        private sealed class Worker(PlanRun run)
        {
            private readonly BlockChecksums? _sourceBlocks = run.Options.Refines ? new(run.Layout.ClusterSize, run.Options.RefinementBlockSize, run.Options.BlockAlgorithm) : null;
            private readonly BlockChecksums? _targetBlocks = run.Options.Refines ? new(run.Layout.ClusterSize, run.Options.RefinementBlockSize, run.Options.BlockAlgorithm) : null;
            private readonly byte[] _sourceDigest = new byte[ChecksumHasher.GetHashLength(run.Options.Algorithm)];
            private readonly byte[] _targetDigest = new byte[ChecksumHasher.GetHashLength(run.Options.Algorithm)];
            private readonly List<ByteRange> _candidateBlocks = [];

            // Refinement by digests when a side is a DigestingBlockDevice (a device across a session): its bytes never move.
            private readonly bool _byDigests = run.Options.Refines && (run.Source.Device is DigestingBlockDevice || run.Target.Device is DigestingBlockDevice);

            public RangeList Copies { get; } = new();

            public RangeList Unmaps { get; } = new();

            public async Task RunAsync(CancellationTokenSource stop)
            {
                var sourceBuffer = ArrayPool<byte>.Shared.Rent(run.Layout.ClusterSize);
                var targetBuffer = ArrayPool<byte>.Shared.Rent(run.Layout.ClusterSize);
                try
                {
                    while (run.TryTakeCluster(out var index))
                    {
                        stop.Token.ThrowIfCancellationRequested();
                        await CompareClusterAsync(index, sourceBuffer, targetBuffer, stop.Token).ConfigureAwait(false);
                        run.ClusterDone();
                    }
                }
                catch
                {
                    await stop.CancelAsync().ConfigureAwait(false);
                    throw;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(sourceBuffer);
                    ArrayPool<byte>.Shared.Return(targetBuffer);
                }
            }

            // Settles one cluster with as few reads as the maps allow: maps first, then (with candidates and
            // refinement) only the blocks the candidates touch, else the whole cluster.
            private async ValueTask CompareClusterAsync(long index, byte[] sourceBuffer, byte[] targetBuffer, CancellationToken cancellationToken)
            {
                var sourceState = run.Source.KnownState(index);
                var targetState = run.Target.KnownState(index);

                // Both sides known without reading: zero and unallocated read alike; data compares by digest.
                var digestsDiffer = false;
                if (sourceState is { } knownSource && targetState is { } knownTarget)
                {
                    if (knownSource != ClusterState.Data && knownTarget != ClusterState.Data)
                    {
                        return;
                    }
                    if (knownSource == ClusterState.Data && knownTarget == ClusterState.Data)
                    {
                        if (DigestsAgree(run.Source.Map!, run.Target.Map!, index))
                        {
                            return;
                        }
                        digestsDiffer = true;
                    }
                }

                var cluster = run.Layout.RangeOf(index);
                if (run.Candidates is not null && _sourceBlocks is not null)
                {
                    // Bytes outside the candidates are taken to be equal, as whole clusters outside them are: with
                    // scattered small writes this reads what changed, not every cluster it landed in.
                    // A map's "data" describes the cluster, not these blocks: read them. Zero or unallocated holds for any part.
                    var sourceBlocksState = sourceState == ClusterState.Data ? null : sourceState;
                    var targetBlocksState = targetState == ClusterState.Data ? null : targetState;
                    foreach (var blocks in CandidateBlocks(run.Candidates, cluster))
                    {
                        var region = new Region(index, blocks, CompareClusterDigests: false, sourceBlocksState, targetBlocksState);
                        await CompareRegionAsync(region, sourceBuffer, targetBuffer, cancellationToken).ConfigureAwait(false);
                    }
                    return;
                }
                var whole = new Region(index, cluster, CompareClusterDigests: !digestsDiffer, sourceState, targetState);
                await CompareRegionAsync(whole, sourceBuffer, targetBuffer, cancellationToken).ConfigureAwait(false);
            }

            // Compares the bytes of one region (a whole cluster, or a run of blocks inside one): reads each side at
            // most once, and only when its state there is not already known.
            private async ValueTask CompareRegionAsync(Region region, byte[] sourceBuffer, byte[] targetBuffer, CancellationToken cancellationToken)
            {
                var offset = region.Range.Offset;
                var length = (int)region.Range.Length;
                var targetLength = (int)Math.Clamp(run.Target.Device.Length - offset, 0, length);
                if (_byDigests && targetLength == length)
                {
                    await CompareRegionByDigestsAsync(region, sourceBuffer, targetBuffer, cancellationToken).ConfigureAwait(false);
                    return;
                }
                var sourceState = region.SourceState;
                var targetState = targetLength == 0 ? ClusterState.Unallocated : region.TargetState;
                ReadOnlyMemory<byte> sourceData = default, targetData = default;
                var sourceInHand = false;
                var targetInHand = false;

                if (sourceState is null)
                {
                    sourceData = await run.Source.ReadAsync(offset, length, sourceBuffer, cancellationToken).ConfigureAwait(false);
                    sourceInHand = true;
                    sourceState = StateOf(sourceData.Span);
                }

                // The source reads as zeros here: unmap whatever data the target holds.
                if (sourceState != ClusterState.Data)
                {
                    if (targetState is null)
                    {
                        targetData = await run.Target.ReadAsync(offset, targetLength, targetBuffer, cancellationToken).ConfigureAwait(false);
                        targetInHand = true;
                        targetState = StateOf(targetData.Span);
                    }
                    if (targetState != ClusterState.Data)
                    {
                        return;
                    }
                    if (targetInHand && _sourceBlocks is not null && _targetBlocks is not null)
                    {
                        _sourceBlocks.SetZero(length);
                        _targetBlocks.Compute(targetData.Span);
                        BlockChecksums.Diff(_sourceBlocks, _targetBlocks, offset, Copies, Unmaps);
                    }
                    else
                    {
                        Unmaps.Add(offset, targetLength);
                    }
                    return;
                }

                // The source holds data. Compare whole-cluster digests when that may spare a read;
                // with both clusters in hand and refinement on, comparing blocks settles it at the same cost.
                if (targetState is null)
                {
                    targetData = await run.Target.ReadAsync(offset, targetLength, targetBuffer, cancellationToken).ConfigureAwait(false);
                    targetInHand = true;
                    targetState = StateOf(targetData.Span);
                }
                var blocksSettleIt = sourceInHand && targetInHand && _sourceBlocks is not null;
                if (targetState == ClusterState.Data && region.CompareClusterDigests && !blocksSettleIt && targetLength == length)
                {
                    var sourceDigest = ClusterDigest(run.Source, region.Index, sourceData, _sourceDigest);
                    var targetDigest = ClusterDigest(run.Target, region.Index, targetData, _targetDigest);
                    if (sourceDigest.SequenceEqual(targetDigest))
                    {
                        return;
                    }
                }
                if (_sourceBlocks is null || _targetBlocks is null)
                {
                    Copies.Add(offset, length);
                    return;
                }

                // Refine: the blocks of both sides.
                if (!sourceInHand)
                {
                    sourceData = await run.Source.ReadAsync(offset, length, sourceBuffer, cancellationToken).ConfigureAwait(false);
                }
                _sourceBlocks.Compute(sourceData.Span);
                if (targetState == ClusterState.Data)
                {
                    if (!targetInHand)
                    {
                        targetData = await run.Target.ReadAsync(offset, targetLength, targetBuffer, cancellationToken).ConfigureAwait(false);
                    }
                    _targetBlocks.Compute(targetData.Span);
                }
                else
                {
                    _targetBlocks.SetZero(targetLength);
                }
                BlockChecksums.Diff(_sourceBlocks, _targetBlocks, offset, Copies, Unmaps);
            }

            // Compares a region by block digests, in two rounds: blocks of 16 refinement blocks first, then the refinement
            // blocks of those that differ. A DigestingBlockDevice computes its digests where its data is; a local side reads
            // the region once and hashes it here. Digests are cut to 64 bits (the whole hash with SHA-256): each block is only
            // compared with the block at its own offset, so a volume of N blocks is misplanned with probability at most N·2^-64.
            private async ValueTask CompareRegionByDigestsAsync(Region region, byte[] sourceBuffer, byte[] targetBuffer, CancellationToken cancellationToken)
            {
                var fine = run.Options.RefinementBlockSize;
                var coarse = fine * CoarseBlocks;
                var algorithm = run.Options.BlockAlgorithm;
                var digestLength = algorithm == ChecksumAlgorithm.Sha256 ? 32 : Math.Min(8, ChecksumHasher.GetHashLength(algorithm));
                var source = new DigestSide(run.Source, region.SourceState, region.Range, sourceBuffer);
                var target = new DigestSide(run.Target, region.TargetState, region.Range, targetBuffer);
                List<ByteRange> differing = [region.Range];
                if (region.Range.Length > coarse)
                {
                    var sourceDigests = await source.DigestsAsync(differing, coarse, algorithm, digestLength, cancellationToken).ConfigureAwait(false);
                    var targetDigests = await target.DigestsAsync(differing, coarse, algorithm, digestLength, cancellationToken).ConfigureAwait(false);
                    differing = [];
                    var entry = 0;
                    for (var offset = region.Range.Offset; offset < region.Range.End; offset += coarse, entry++)
                    {
                        var block = ByteRange.FromBounds(offset, Math.Min(offset + coarse, region.Range.End));
                        var (sourceZero, targetZero, equal) = Entry(sourceDigests, targetDigests, entry, digestLength);
                        if (sourceZero && !targetZero)
                        {
                            Unmaps.Add(block.Offset, block.Length);
                        }
                        else if (!sourceZero && (targetZero || !equal))
                        {
                            differing.Add(block);
                        }
                    }
                    if (differing.Count == 0)
                    {
                        return;
                    }
                }
                var sourceFine = await source.DigestsAsync(differing, fine, algorithm, digestLength, cancellationToken).ConfigureAwait(false);
                var targetFine = await target.DigestsAsync(differing, fine, algorithm, digestLength, cancellationToken).ConfigureAwait(false);
                var index = 0;
                foreach (var range in differing)
                {
                    for (var offset = range.Offset; offset < range.End; offset += fine, index++)
                    {
                        var length = Math.Min(fine, range.End - offset);
                        var (sourceZero, targetZero, equal) = Entry(sourceFine, targetFine, index, digestLength);
                        if (sourceZero)
                        {
                            if (!targetZero)
                            {
                                Unmaps.Add(offset, length);
                            }
                        }
                        else if (targetZero || !equal)
                        {
                            Copies.Add(offset, length);
                        }
                    }
                }
            }

            private static (bool SourceZero, bool TargetZero, bool Equal) Entry(byte[] source, byte[] target, int index, int digestLength)
            {
                var at = index * (1 + digestLength);
                var sourceEntry = source.AsSpan(at, 1 + digestLength);
                var targetEntry = target.AsSpan(at, 1 + digestLength);
                return (sourceEntry[0] == 0, targetEntry[0] == 0, sourceEntry.SequenceEqual(targetEntry));
            }

            // The runs of refinement blocks inside `cluster` that hold candidate bytes, in ascending order.
            private List<ByteRange> CandidateBlocks(RangeSet candidates, ByteRange cluster)
            {
                var blockSize = run.Options.RefinementBlockSize;
                _candidateBlocks.Clear();
                for (var i = FirstEndingAfter(candidates, cluster.Offset); i < candidates.Count && candidates[i].Offset < cluster.End; i++)
                {
                    var start = Math.Max(candidates[i].Offset, cluster.Offset) / blockSize * blockSize;
                    var end = Math.Min(cluster.End, (Math.Min(candidates[i].End, cluster.End) + blockSize - 1) / blockSize * blockSize);
                    if (_candidateBlocks.Count > 0 && _candidateBlocks[^1].End >= start)
                    {
                        _candidateBlocks[^1] = ByteRange.FromBounds(_candidateBlocks[^1].Offset, Math.Max(end, _candidateBlocks[^1].End));
                    }
                    else
                    {
                        _candidateBlocks.Add(ByteRange.FromBounds(start, end));
                    }
                }
                return _candidateBlocks;
            }

            private static ClusterState StateOf(ReadOnlySpan<byte> data) =>
                data.ContainsAnyExcept((byte)0) ? ClusterState.Data : ClusterState.Zero;

            // The digest of a data cluster: from the side's map, or computed from the bytes in hand.
            private ReadOnlySpan<byte> ClusterDigest(PlanSide side, long index, ReadOnlyMemory<byte> data, byte[] scratch)
            {
                if (side.Map is not null)
                {
                    return side.Map.GetChecksum(index);
                }
                ChecksumHasher.Hash(run.Options.Algorithm, data.Span, scratch);
                return scratch;
            }
        }
    }
}
