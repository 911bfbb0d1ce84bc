using System.Buffers;
using DeltaSnap.Checksums;
using DeltaSnap.Copy;
using DeltaSnap.Delta;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Replication;

/// <summary>
/// The checksum route for block volumes of any backends: compare per-cluster checksums (stored ones where the
/// backend keeps them, only over the ranges the backend says changed where it can tell), refine differing
/// clusters to 4 KiB blocks, shallow-copy what differs into the target's live volume, read it back to
/// verify, and only then take the target snapshot.
/// </summary>
internal sealed class ChecksumTransfer(RefreshRun run) : SnapshotTransfer(run)
{
    private const string VerifyingStage = "verifying";

    public override async Task<SnapshotInfo> SendSnapshotAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, CancellationToken cancellationToken)
    {
        var bytes = await CopyIntoTargetLiveAsync(previous, previousOnTarget, snapshot, liveState: false, cancellationToken).ConfigureAwait(false);
        var created = await Run.Target.CreateSnapshotAsync(snapshot.Name,
            new SnapshotCreateOptions { CreatedUtc = snapshot.CreatedUtc, ReceivedFrom = snapshot.ReceivedFrom ?? snapshot.Identity },
            cancellationToken).ConfigureAwait(false);
        // Complete: the snapshot marks it. (Killed before this line, the next refresh finds the checkpoint's base
        // still the common base and compares the live state, which is already equal: nothing moves.)
        DeleteCheckpoint();
        Diagnostics.Log.SnapshotSent(Run.Logger, Run.Target.Address, snapshot.Name, bytes);
        return created;
    }

    public override async Task SendLiveStateAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo live, CancellationToken cancellationToken)
    {
        await CopyIntoTargetLiveAsync(previous, previousOnTarget, live, liveState: true, cancellationToken).ConfigureAwait(false);
        DeleteCheckpoint();
    }

    private void DeleteCheckpoint()
    {
        if (Run.Options.CheckpointDirectory is { } directory)
        {
            RefreshCheckpoint.Delete(directory, Run.Target.Address);
        }
    }

    // The target's live volume was written and then snapshotted: it already is the last snapshot.
    public override Task FinishWithoutLiveStateAsync(SnapshotInfo lastOnTarget, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Makes the target's live volume read like <paramref name="snapshot"/>; returns the bytes sent to it.</summary>
    private async Task<long> CopyIntoTargetLiveAsync(SnapshotInfo? previous, SnapshotInfo? previousOnTarget, SnapshotInfo snapshot, bool liveState, CancellationToken cancellationToken)
    {
        // A resumed copy: the live state is the base plus part of an earlier copy, so it is compared as it is.
        var resume = Run.Resume;
        Run.Resume = null;
        var options = Run.Options;
        var source = Run.Source;
        var target = Run.Target;
        var sourceDevice = await source.OpenDeviceAsync(snapshot.Name, writable: false, cancellationToken).ConfigureAwait(false);
        await using (sourceDevice.ConfigureAwait(false))
        {
            var size = sourceDevice.Length;
            if (await target.GetSizeAsync(cancellationToken).ConfigureAwait(false) != size)
            {
                if (!target.Driver.Has(DriverCapabilities.Resize))
                {
                    throw new DeltaSnapException($"{target.Address} is not {size} bytes like {source.Address}@{snapshot.Name}, and its backend cannot resize it.");
                }
                await target.ResizeAsync(size, cancellationToken).ConfigureAwait(false);
            }

            var targetDevice = await target.OpenDeviceAsync(null, writable: true, cancellationToken).ConfigureAwait(false);
            await using (targetDevice.ConfigureAwait(false))
            {
                var deltaOptions = options.Delta;
                var checksumOptions = new ClusterChecksumOptions
                {
                    ClusterSize = deltaOptions.ClusterSize,
                    Algorithm = deltaOptions.Algorithm,
                    MaxDegreeOfParallelism = deltaOptions.MaxDegreeOfParallelism,
                };
                var sourceMap = await source.GetStoredChecksumsAsync(snapshot.Name, checksumOptions, cancellationToken).ConfigureAwait(false);
                // After the rollback the target's live volume holds exactly its previous snapshot (not when resuming:
                // then its map is computed from the live device, which holds the partial copy).
                var targetMap = previousOnTarget is null || resume is not null
                    ? null
                    : await target.GetStoredChecksumsAsync(previousOnTarget.Name, checksumOptions, cancellationToken).ConfigureAwait(false);
                if (targetMap is not null && targetMap.Layout.VolumeSize != targetDevice.Length)
                {
                    targetMap = null;
                }
                // Where the source can say what changed since the snapshot the target holds, only that is compared. A
                // resumed copy towards the same snapshot wrote only inside those ranges, so they still bound what can
                // differ; towards another snapshot (the live state is captured anew each run) or after target snapshots
                // were deleted, everything is compared.
                var sameGoal = resume is null || (resume.ToIdentity == snapshot.Identity.ToString() && !Run.ResumeComparesEverything);
                var candidates = sameGoal && previous is not null && previousOnTarget is not null && source.Driver.Has(DriverCapabilities.ChangedRanges)
                    ? await source.GetChangedRangesAsync(previous.Name, snapshot.Name, cancellationToken).ConfigureAwait(false)
                    : null;
                if (resume is not null)
                {
                    Run.Resumed = true;
                }

                var label = liveState ? LiveStateLabel : snapshot.Name;
                var progress = Run.Progress;
                var clusterSize = deltaOptions.ClusterSize;
                progress?.Report(new RefreshProgress("comparing", label, 0, candidates?.TotalLength ?? size));
                var request = new DeltaPlanRequest
                {
                    Source = sourceDevice,
                    Target = targetDevice,
                    Options = deltaOptions,
                    SourceChecksums = sourceMap,
                    TargetChecksums = targetMap,
                    Candidates = candidates,
                    // Bytes compared: the clusters done, in the stage's unit (the last cluster may be short; it counts whole).
                    Progress = ProgressMapping.Map(progress, (DeltaPlanProgress p) =>
                        new RefreshProgress("comparing", label, p.ClustersDone * clusterSize, p.ClusterCount * clusterSize)),
                };
                var plan = await DeltaPlanner.PlanAsync(request, cancellationToken).ConfigureAwait(false);
                Run.AddRead(plan.SourceBytesRead + plan.TargetBytesRead);
                Run.AddClusters(plan.ClustersCompared, plan.ClustersDiffering);

                progress?.Report(new RefreshProgress("copying", label, 0, plan.BytesToCopy + plan.BytesToUnmap));
                var checkpoint = options.CheckpointDirectory is null ? null : new RefreshCheckpoint
                {
                    Source = source.Address,
                    Target = target.Address,
                    BaseName = previousOnTarget?.Name,
                    BaseIdentity = previousOnTarget?.Identity.ToString(),
                    ToName = snapshot.Name,
                    ToIdentity = snapshot.Identity.ToString(),
                    ToIsLiveState = liveState,
                    VolumeSize = size,
                    ClusterSize = deltaOptions.ClusterSize,
                    Algorithm = deltaOptions.Algorithm.ToString(),
                    SavedUtc = DateTimeOffset.UtcNow,
                };
                if (checkpoint is not null)
                {
                    // Durable before the first write: from here on a kill leaves a partial copy the next refresh continues.
                    await checkpoint.SaveAsync(options.CheckpointDirectory!, cancellationToken).ConfigureAwait(false);
                }
                Run.TargetLiveTouched = true;
                var sink = new BlockDeviceSink(targetDevice);
                var copy = ShallowCopyOperation.Start(sourceDevice, sink, ShallowCopyRequest.ForPlan(plan),
                    new ShallowCopyOptions { MaxDegreeOfParallelism = deltaOptions.MaxDegreeOfParallelism },
                    ProgressMapping.Map(progress, (ShallowCopyProgress p) => new RefreshProgress("copying", label, p.CopiedBytes + p.UnmappedBytes, p.TotalBytes)),
                    cancellationToken);
                if (checkpoint is null)
                {
                    await copy.Completion.ConfigureAwait(false);
                }
                else
                {
                    await CopyWithCheckpointsAsync(copy, sink, targetDevice, checkpoint, options.CheckpointDirectory!, options.CheckpointInterval).ConfigureAwait(false);
                }
                await targetDevice.FlushAsync(cancellationToken).ConfigureAwait(false);
                Run.AddRead(plan.BytesToCopy);
                Run.AddSent(sink.BytesWritten);
                Run.AddWritten(sink.BytesWritten);

                if (options.VerifyWholeVolume)
                {
                    progress?.Report(new RefreshProgress(VerifyingStage, label, 0, 2 * size));
                    var verifying = ProgressMapping.Map(progress, (long done) => new RefreshProgress(VerifyingStage, label, done, 2 * size));
                    await VerifyWholeAsync(sourceDevice, targetDevice, checksumOptions, snapshot, verifying, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var ranges = plan.CopyRanges.Union(plan.UnmapRanges);
                    progress?.Report(new RefreshProgress(VerifyingStage, label, 0, ranges.TotalLength));
                    var verifying = ProgressMapping.Map(progress, (long done) => new RefreshProgress(VerifyingStage, label, done, ranges.TotalLength));
                    await VerifyRangesAsync(sourceDevice, targetDevice, ranges, snapshot, verifying, cancellationToken).ConfigureAwait(false);
                }
                return sink.BytesWritten;
            }
        }
    }

    /// <summary>
    /// Waits for the copy while saving the checkpoint every <paramref name="interval"/> (the target flushed first, so
    /// what it records is durable). When the copy fails, what was written is flushed and recorded, and the partial copy
    /// is kept for the next refresh instead of being rolled back.
    /// </summary>
    private async Task CopyWithCheckpointsAsync(ShallowCopyOperation copy, BlockDeviceSink sink, BlockDevice targetDevice, RefreshCheckpoint checkpoint, string directory, TimeSpan interval)
    {
        using var stop = new CancellationTokenSource();
        var saving = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
            {
                await SaveProgressAsync(copy, sink, targetDevice, checkpoint, directory, stop.Token).ConfigureAwait(false);
            }
        }, CancellationToken.None);
        try
        {
            await copy.Completion.ConfigureAwait(false);
        }
        catch (Exception) when (!stop.IsCancellationRequested)
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await AwaitQuietlyAsync(saving).ConfigureAwait(false);
            Run.KeepPartialLive = true;
            try
            {
                using var limit = new CancellationTokenSource(Run.Options.CleanupTimeout);
                await SaveProgressAsync(copy, sink, targetDevice, checkpoint, directory, limit.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The last periodic checkpoint stands; the next refresh compares the live state whatever it holds.
                Diagnostics.Log.CleanupFailed(Run.Logger, e, Run.Target.Address, "record the partial copy in the resume checkpoint");
            }
            throw;
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await AwaitQuietlyAsync(saving).ConfigureAwait(false);
        }
    }

    private static async Task SaveProgressAsync(ShallowCopyOperation copy, BlockDeviceSink sink, BlockDevice targetDevice, RefreshCheckpoint checkpoint, string directory, CancellationToken cancellationToken)
    {
        var (written, cursor) = (sink.BytesWritten, copy.Checkpoint);
        await targetDevice.FlushAsync(cancellationToken).ConfigureAwait(false);
        await (checkpoint with { BytesWritten = written, Cursor = cursor, SavedUtc = DateTimeOffset.UtcNow }).SaveAsync(directory, cancellationToken).ConfigureAwait(false);
    }

    private static async Task AwaitQuietlyAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or DeltaSnapException)
        {
            // A periodic save that failed or was stopped; the copy's own outcome is what counts.
        }
    }

    /// <summary>Compares <paramref name="ranges"/> of the two devices; tells <paramref name="progress"/> the bytes of the ranges verified so far.</summary>
    private async Task VerifyRangesAsync(BlockDevice source, BlockDevice target, RangeSet ranges, SnapshotInfo snapshot, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        const int Chunk = 1 << 20;
        if (source is DigestingBlockDevice || target is DigestingBlockDevice)
        {
            // A device across a session digests its own bytes: compare digests of each piece, not the bytes.
            await VerifyRangesByDigestsAsync(source, target, ranges, Chunk, snapshot, progress, cancellationToken).ConfigureAwait(false);
            return;
        }
        long verified = 0;
        var a = ArrayPool<byte>.Shared.Rent(Chunk);
        var b = ArrayPool<byte>.Shared.Rent(Chunk);
        try
        {
            foreach (var range in ranges)
            {
                for (var offset = range.Offset; offset < range.End; offset += Chunk)
                {
                    var n = (int)Math.Min(Chunk, range.End - offset);
                    await source.ReadAsync(offset, a.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    await target.ReadAsync(offset, b.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    Run.AddRead(2L * n);
                    if (!a.AsSpan(0, n).SequenceEqual(b.AsSpan(0, n)))
                    {
                        throw new VerificationFailedException(
                            $"After copying {snapshot.Name} to {Run.Target.Address}, the target differs from the source in [{offset}, {offset + n}).");
                    }
                    verified += n;
                    progress?.Report(verified);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(a);
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    /// <summary>Verifies pieces of at most <paramref name="chunk"/> bytes by their whole digests, a batch of pieces per request.</summary>
    private async Task VerifyRangesByDigestsAsync(BlockDevice source, BlockDevice target, RangeSet ranges, int chunk, SnapshotInfo snapshot, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        long verified = 0;
        const int Batch = 64; // pieces per request: at most 64 MiB hashed on each side before an answer
        var algorithm = Run.Options.Delta.Algorithm == ChecksumAlgorithm.Crc32C ? ChecksumAlgorithm.Crc64Iso : Run.Options.Delta.Algorithm;
        var digestLength = ChecksumHasher.GetHashLength(algorithm);
        var pieces = new List<ByteRange>(Batch);
        var buffer = ArrayPool<byte>.Shared.Rent(chunk);
        try
        {
            foreach (var range in ranges)
            {
                for (var offset = range.Offset; offset < range.End; offset += chunk)
                {
                    pieces.Add(ByteRange.FromBounds(offset, Math.Min(offset + chunk, range.End)));
                    if (pieces.Count == Batch)
                    {
                        await VerifyPiecesAsync().ConfigureAwait(false);
                    }
                }
            }
            await VerifyPiecesAsync().ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        async Task VerifyPiecesAsync()
        {
            if (pieces.Count == 0)
            {
                return;
            }
            var expecting = DigestsAsync(source);
            var actual = await DigestsAsync(target).ConfigureAwait(false);
            var expected = await expecting.ConfigureAwait(false);
            for (var i = 0; i < pieces.Count; i++)
            {
                var at = i * (1 + digestLength);
                if (!expected.AsSpan(at, 1 + digestLength).SequenceEqual(actual.AsSpan(at, 1 + digestLength)))
                {
                    throw new VerificationFailedException(
                        $"After copying {snapshot.Name} to {Run.Target.Address}, the target differs from the source in {pieces[i]}.");
                }
                verified += pieces[i].Length;
            }
            pieces.Clear();
            progress?.Report(verified);
        }

        async Task<byte[]> DigestsAsync(BlockDevice device)
        {
            var digests = new byte[DigestingBlockDevice.GetDigestsLength(pieces, chunk, digestLength)];
            if (device is DigestingBlockDevice digesting)
            {
                await digesting.ReadBlockDigestsAsync(pieces, chunk, algorithm, digestLength, digests, cancellationToken).ConfigureAwait(false);
                return digests;
            }
            for (var i = 0; i < pieces.Count; i++)
            {
                var n = (int)pieces[i].Length;
                await device.ReadAsync(pieces[i].Offset, buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                Run.AddRead(n);
                DigestingBlockDevice.ComputeBlockDigests(buffer.AsSpan(0, n), chunk, algorithm, digestLength, digests.AsSpan(i * (1 + digestLength), 1 + digestLength));
            }
            return digests;
        }
    }

    /// <summary>
    /// Compares the two devices' whole content checksums (or, where a device is across a session, the digests of every
    /// 1 MiB piece, computed on its own machine); tells <paramref name="progress"/> the bytes of both devices checked so far.
    /// </summary>
    private async Task VerifyWholeAsync(BlockDevice source, BlockDevice target, ClusterChecksumOptions options, SnapshotInfo snapshot, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        if (source is DigestingBlockDevice || target is DigestingBlockDevice)
        {
            // A device across a session digests its whole content where it is: only the digests cross the wire.
            if (source.Length != target.Length)
            {
                throw new VerificationFailedException(
                    $"After copying {snapshot.Name} to {Run.Target.Address}, the target is {target.Length} bytes long, the source {source.Length}.");
            }
            var whole = new RangeSet([new ByteRange(0, source.Length)]);
            await VerifyRangesByDigestsAsync(source, target, whole, 1 << 20, snapshot, ProgressMapping.Map(progress, (long done) => 2 * done), cancellationToken).ConfigureAwait(false);
            return;
        }
        var clusterSize = options.ClusterSize;
        var sourceMap = await ClusterChecksums.ComputeAsync(source, options,
            ProgressMapping.Map(progress, (ChecksumProgress p) => p.ClustersDone * clusterSize), cancellationToken).ConfigureAwait(false);
        var sourceLength = source.Length;
        var targetMap = await ClusterChecksums.ComputeAsync(target, options,
            ProgressMapping.Map(progress, (ChecksumProgress p) => sourceLength + (p.ClustersDone * clusterSize)), cancellationToken).ConfigureAwait(false);
        Run.AddRead(source.Length + target.Length);
        if (!sourceMap.ContentEquals(targetMap))
        {
            throw new VerificationFailedException(
                $"After copying {snapshot.Name} to {Run.Target.Address}, the target's content checksum {Convert.ToHexStringLower(targetMap.ContentChecksum)} differs from the source's {Convert.ToHexStringLower(sourceMap.ContentChecksum)}.");
        }
    }
}

/// <summary>After a transfer the target did not hold what the source sent; the target snapshot was not taken.</summary>
public sealed class VerificationFailedException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public VerificationFailedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public VerificationFailedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public VerificationFailedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
