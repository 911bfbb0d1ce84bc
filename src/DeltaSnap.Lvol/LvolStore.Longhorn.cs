using System.Buffers;
using System.Buffers.Binary;
using DeltaSnap.Checksums;
using DeltaSnap.Copy;
using DeltaSnap.Delta;
using DeltaSnap.Devices;

namespace DeltaSnap.Lvol;

public sealed partial class LvolStore
{
    private const string SnapshotChecksumXattr = LonghornXattrPrefix + "snapshot_checksum";
    private const string RangeChecksumsXattr = LonghornXattrPrefix + "range_checksums";
    private static uint _nextOperationId;

    /// <summary>
    /// The fragmap of lvol <paramref name="name"/> over the window <c>[offset, offset + size)</c>: one bit per cluster,
    /// set when the lvol's own layer holds it (<c>bdev_lvol_get_fragmap</c>). A size of 0 means up to the end of the lvol.
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EINVAL: the window is not cluster-aligned or lies outside the lvol.</exception>
    public LvolFragmap GetFragmap(string name, long offset = 0, long size = 0)
    {
        lock (_sync)
        {
            var node = Find(name);
            if (offset < 0 || size < 0 || (offset & (ClusterSize - 1)) != 0 || offset > node.Size)
            {
                throw new LvolException(LvolErrno.EINVAL, $"The fragmap window offset {offset} of lvol '{node.Name}' is not a cluster boundary inside it.");
            }
            var end = size == 0 ? node.Size : offset + size;
            if (end > node.Size || ((end & (ClusterSize - 1)) != 0 && end != node.Size))
            {
                throw new LvolException(LvolErrno.EINVAL, $"The fragmap window [{offset}, {end}) of lvol '{node.Name}' ({node.Size} bytes) does not end on a cluster boundary inside it.");
            }
            var first = offset >> ClusterShift;
            var count = ClusterCountOf(end) - first;
            var map = new AllocationMap(count);
            foreach (var (index, _) in node.Map.Enumerate(first, first + count))
            {
                map[index - first] = true;
            }
            return new LvolFragmap { ClusterSize = ClusterSize, ClusterCount = count, AllocatedClusters = map.AllocatedCount, Map = map };
        }
    }

    /// <summary>
    /// Computes and stores snapshot <paramref name="name"/>'s checksum (<c>bdev_lvol_register_snapshot_checksum</c>):
    /// CRC-64/ISO chained from 0 over the clusters its own layer holds, in cluster order. Returns it.
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EPERM: it is not a snapshot; EEXIST: a registration of it already runs; EBUSY: another operation holds it; EINTR: stopped.</exception>
    public async Task<ulong> RegisterSnapshotChecksumAsync(string name, CancellationToken cancellationToken = default)
    {
        var (map, node) = await ComputeLayerChecksumsAsync(name, cancellationToken).ConfigureAwait(false);
        var checksum = BinaryPrimitives.ReadUInt64BigEndian(map.VolumeChecksum);
        await SetChecksumXattrsAsync(node, [(SnapshotChecksumXattr, Encode(checksum))], cancellationToken).ConfigureAwait(false);
        Log.ChecksumsRegistered(_logger, node.Name, map.DataClusters + map.ZeroClusters, checksum);
        return checksum;
    }

    /// <summary>
    /// Computes and stores one CRC-64/ISO per cluster of snapshot <paramref name="name"/>'s own layer and the snapshot
    /// checksum, both in one pass over the data (<c>bdev_lvol_register_snapshot_range_checksums</c>).
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EPERM: it is not a snapshot; EEXIST: a registration of it already runs; EBUSY: another operation holds it; EINTR: stopped.</exception>
    public async Task<ulong> RegisterRangeChecksumsAsync(string name, CancellationToken cancellationToken = default)
    {
        var (map, node) = await ComputeLayerChecksumsAsync(name, cancellationToken).ConfigureAwait(false);
        var clusters = map.DataClusters + map.ZeroClusters;
        var encoded = new byte[8 + (clusters * 16)];
        BinaryPrimitives.WriteInt64LittleEndian(encoded, clusters);
        var pos = 8;
        for (long i = 0; i < map.Layout.ClusterCount; i++)
        {
            if (map.GetState(i) != ClusterState.Unallocated)
            {
                BinaryPrimitives.WriteInt64LittleEndian(encoded.AsSpan(pos), i);
                BinaryPrimitives.WriteUInt64LittleEndian(encoded.AsSpan(pos + 8), BinaryPrimitives.ReadUInt64BigEndian(map.GetChecksum(i)));
                pos += 16;
            }
        }
        var checksum = BinaryPrimitives.ReadUInt64BigEndian(map.VolumeChecksum);
        await SetChecksumXattrsAsync(node, [(RangeChecksumsXattr, encoded), (SnapshotChecksumXattr, Encode(checksum))], cancellationToken).ConfigureAwait(false);
        Log.ChecksumsRegistered(_logger, node.Name, clusters, checksum);
        return checksum;
    }

    /// <summary>The registered snapshot checksum (<c>bdev_lvol_get_snapshot_checksum</c>).</summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; ENODEV: no checksum registered (or it was invalidated by a change of the cluster map), Longhorn's answer for that.</exception>
    public ulong GetSnapshotChecksum(string name)
    {
        lock (_sync)
        {
            var node = Find(name);
            return node.Xattrs.TryGetValue(SnapshotChecksumXattr, out var value)
                ? BinaryPrimitives.ReadUInt64LittleEndian(value)
                : throw new LvolException(LvolErrno.ENODEV, $"Lvol '{node.Name}' has no registered snapshot checksum.");
        }
    }

    /// <summary>
    /// The registered checksums of the clusters <c>[clusterStart, clusterStart + clusterCount)</c> of the snapshot
    /// (<c>bdev_lvol_get_snapshot_range_checksums</c>): exactly one entry per cluster of the window, in order, with
    /// 0 for a cluster the snapshot does not hold (as Longhorn answers: a caller that compares the indices one side
    /// returns must see the clusters the other side alone holds).
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol or no range checksums registered; EINVAL: the window reaches outside the lvol.</exception>
    public IReadOnlyList<LvolClusterChecksum> GetRangeChecksums(string name, long clusterStart, long clusterCount)
    {
        lock (_sync)
        {
            var node = Find(name);
            var clusters = ClusterCountOf(node.Size);
            if (clusterStart < 0 || clusterCount < 0 || clusterStart > clusters || clusterCount > clusters - clusterStart)
            {
                throw new LvolException(LvolErrno.EINVAL, $"The cluster window {clusterStart}+{clusterCount} lies outside lvol '{node.Name}' ({clusters} clusters).");
            }
            if (!node.Xattrs.TryGetValue(RangeChecksumsXattr, out var encoded))
            {
                throw new LvolException(LvolErrno.ENOENT, $"Lvol '{node.Name}' has no registered range checksums.");
            }
            var count = BinaryPrimitives.ReadInt64LittleEndian(encoded);
            var end = clusterStart + clusterCount;
            // Entries are in cluster order: binary-search the first one in the window.
            long lo = 0, hi = count;
            while (lo < hi)
            {
                var mid = (lo + hi) >>> 1;
                if (IndexAt(mid) < clusterStart)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
            var result = new List<LvolClusterChecksum>((int)clusterCount);
            for (var cluster = clusterStart; cluster < end; cluster++)
            {
                if (lo < count && IndexAt(lo) == cluster)
                {
                    result.Add(new LvolClusterChecksum(cluster, BinaryPrimitives.ReadUInt64LittleEndian(encoded.AsSpan((int)(8 + (lo * 16) + 8)))));
                    lo++;
                }
                else
                {
                    result.Add(new LvolClusterChecksum(cluster, 0));
                }
            }
            return result;

            long IndexAt(long i) => BinaryPrimitives.ReadInt64LittleEndian(encoded.AsSpan((int)(8 + (i * 16))));
        }
    }

    /// <summary>Stops a running checksum registration of <paramref name="name"/> (<c>bdev_lvol_stop_snapshot_checksum</c>); false when none runs.</summary>
    /// <exception cref="LvolException">ENOENT: no such lvol.</exception>
    public bool StopSnapshotChecksum(string name)
    {
        lock (_sync)
        {
            var node = Find(name);
            if (node.ChecksumCancellation is not { } cancellation)
            {
                return false;
            }
            cancellation.Cancel();
            Log.ChecksumStopped(_logger, node.Name);
            return true;
        }
    }

    /// <summary>
    /// Starts copying the clusters snapshot <paramref name="source"/> holds in its own layer to <paramref name="destination"/>
    /// at the same offsets (<c>bdev_lvol_start_shallow_copy</c>).
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EPERM: the source is writable; EINVAL: the destination is smaller; EBUSY: another operation holds the source.</exception>
    public ShallowCopyOperation StartShallowCopy(string source, BlockDevice destination) => StartCopy(source, destination, null);

    /// <summary>
    /// Starts a range shallow copy (<c>bdev_lvol_start_range_shallow_copy</c>): each listed cluster is copied when the
    /// source holds it in its own layer, and unmapped on the destination when it does not.
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EPERM: the source is writable; EINVAL: the destination is smaller or a cluster index is outside the source; EBUSY: another operation holds the source.</exception>
    public ShallowCopyOperation StartRangeShallowCopy(string source, BlockDevice destination, IReadOnlyList<long> clusters)
    {
        ArgumentNullException.ThrowIfNull(clusters);
        return StartCopy(source, destination, clusters);
    }

    /// <summary>
    /// The byte ranges that may differ between snapshot <paramref name="baseName"/> (null: an empty volume) and lvol
    /// <paramref name="name"/>: what the layers on the path between them hold, down to the 4 KiB blocks a layer wrote.
    /// The cost grows with what changed, not with the volume's size.
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol.</exception>
    public RangeSet GetChangedRanges(string? baseName, string name)
    {
        lock (_sync)
        {
            var node = Find(name);
            var baseNode = baseName is null ? null : Find(baseName);
            var baseChain = new HashSet<LvolNode>();
            for (var n = baseNode; n is not null; n = n.Parent)
            {
                baseChain.Add(n);
            }
            var layers = new List<LvolNode>();
            LvolNode? common = null;
            for (var n = node; n is not null; n = n.Parent)
            {
                if (baseChain.Contains(n))
                {
                    common = n;
                    break;
                }
                layers.Add(n);
            }
            for (var n = baseNode; n is not null && n != common; n = n.Parent)
            {
                layers.Add(n);
            }
            var ranges = new List<ByteRange>();
            foreach (var layer in layers)
            {
                var limit = Math.Min(layer.Size, node.Size);
                foreach (var (index, e) in layer.Map.Enumerate(0, ClusterCountOf(limit)))
                {
                    var clusterStart = index << ClusterShift;
                    if (e.Kind == ClusterKind.Zero || e.Valid is null || e.Opaque)
                    {
                        ranges.Add(ByteRange.FromBounds(clusterStart, Math.Min(limit, clusterStart + ClusterSize)));
                        continue;
                    }
                    foreach (var (first, count) in e.ValidBlocks(BlocksPerCluster).Runs())
                    {
                        var start = clusterStart + ((long)first << BlockShift);
                        if (start < limit)
                        {
                            ranges.Add(ByteRange.FromBounds(start, Math.Min(limit, start + ((long)count << BlockShift))));
                        }
                    }
                }
            }
            return new RangeSet(ranges);
        }
    }

    /// <summary>The clusters of <c>[first, end)</c> the lvol's own layer holds, ascending.</summary>
    internal List<long> OwnClusters(LvolNode node, long first, long end)
    {
        lock (_sync)
        {
            return node.Map.Enumerate(first, Math.Min(end, ClusterCountOf(node.Size))).Select(x => x.Index).ToList();
        }
    }

    /// <summary>Opens a read-only view of the lvol whose allocation is its own layer's.</summary>
    internal BlockDevice OpenLayerDevice(LvolNode node) => new LvolLayerDevice(this, node);

    internal LvolNode FindNode(string name)
    {
        lock (_sync)
        {
            return Find(name);
        }
    }

    private async Task<(ClusterChecksums Map, LvolNode Node)> ComputeLayerChecksumsAsync(string name, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        LvolNode node;
        CancellationTokenSource cancellation;
        lock (_sync)
        {
            node = Find(name);
            if (!node.IsSnapshot)
            {
                throw new LvolException(LvolErrno.EPERM, $"Lvol '{node.Name}' is not a snapshot; checksums are registered for snapshots only.");
            }
            if (node.ChecksumCancellation is not null)
            {
                throw new LvolException(LvolErrno.EEXIST, $"A checksum registration of '{node.Name}' already runs.");
            }
            RequireIdle(node);
            cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            node.BusyWith = "checksum registration";
            node.ChecksumCancellation = cancellation;
        }
        try
        {
            var options = new ClusterChecksumOptions
            {
                ClusterSize = ClusterSize,
                Algorithm = ChecksumAlgorithm.Crc64Iso,
                MaxDegreeOfParallelism = Math.Clamp(Environment.ProcessorCount, 1, 4),
            };
            using var device = OpenLayerDevice(node);
            var map = await ClusterChecksums.ComputeAsync(device, options, cancellationToken: cancellation.Token).ConfigureAwait(false);
            lock (_sync)
            {
                // From here a stop request finds nothing running; one that came before wins.
                node.ChecksumCancellation = null;
                cancellation.Token.ThrowIfCancellationRequested();
            }
            return (map, node);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new LvolException(LvolErrno.EINTR, $"The checksum registration of '{node.Name}' was stopped.", e);
        }
        finally
        {
            lock (_sync)
            {
                node.BusyWith = null;
                node.ChecksumCancellation = null;
            }
            cancellation.Dispose();
        }
    }

    private Task<int> SetChecksumXattrsAsync(LvolNode node, (string Key, byte[] Value)[] values, CancellationToken cancellationToken) =>
        StructuralAsync(() =>
        {
            if (!_byUuid.ContainsKey(node.Uuid))
            {
                throw LvolException.NotFound($"Lvol '{node.Name}'");
            }
            foreach (var (key, value) in values)
            {
                node.Xattrs[key] = value;
            }
            return 0;
        }, cancellationToken);

    private static byte[] Encode(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    private ShallowCopyOperation StartCopy(string source, BlockDevice destination, IReadOnlyList<long>? clusters)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ThrowIfDisposed();
        LvolNode node;
        List<long> work;
        lock (_sync)
        {
            node = Find(source);
            if (!node.IsSnapshot)
            {
                throw new LvolException(LvolErrno.EPERM, $"Lvol '{node.Name}' is writable; a shallow copy needs a read-only snapshot as its source.");
            }
            if (destination.IsReadOnly)
            {
                throw new LvolException(LvolErrno.EPERM, "The shallow copy destination is read-only.");
            }
            if (destination.Length < node.Size)
            {
                throw new LvolException(LvolErrno.EINVAL, $"The destination ({destination.Length} bytes) is smaller than snapshot '{node.Name}' ({node.Size} bytes).");
            }
            if (destination is LvolBlockDevice { Node: var target } && target == node)
            {
                throw new LvolException(LvolErrno.EINVAL, $"Snapshot '{node.Name}' cannot be shallow-copied onto itself.");
            }
            RequireIdle(node);
            var count = ClusterCountOf(node.Size);
            if (clusters is null)
            {
                work = node.Map.Enumerate(0, count).Select(x => x.Index).ToList();
            }
            else
            {
                foreach (var c in clusters)
                {
                    if (c < 0 || c >= count)
                    {
                        throw new LvolException(LvolErrno.EINVAL, $"Cluster {c} is outside snapshot '{node.Name}' ({count} clusters).");
                    }
                }
                work = [.. clusters];
            }
            // Held until the operation is no longer in progress (checked by state, so a caller that awaited the
            // operation's completion finds the source free at once).
            node.BusyWith = "the start of a shallow copy";
        }
        // The source reports its own layer as allocated: a listed cluster the snapshot holds is copied whole (zeros
        // included: DetectZeros is off, so the destination allocates it as the source does); one it does not hold is
        // unmapped on the destination.
        var layer = new LvolLayerDevice(this, node);
        ShallowCopyOperation operation;
        try
        {
            var request = ShallowCopyRequest.ForClusters(new ClusterLayout(node.Size, ClusterSize), work);
            operation = ShallowCopyOperation.Start(layer, new BlockDeviceSink(destination), request,
                new ShallowCopyOptions { DetectZeros = false, MaxDegreeOfParallelism = Math.Clamp(Environment.ProcessorCount, 1, 4) });
        }
        catch
        {
            lock (_sync)
            {
                node.BusyWith = null;
            }
            layer.Dispose();
            throw;
        }
        lock (_sync)
        {
            node.RunningCopy = operation;
            node.BusyWith = null;
        }
        var id = Interlocked.Increment(ref _nextOperationId);
        _ = operation.Completion.ContinueWith(t =>
        {
            lock (_sync)
            {
                if (node.RunningCopy == operation)
                {
                    node.RunningCopy = null;
                }
            }
            layer.Dispose();
            if (operation.Error is { } error)
            {
                Log.ShallowCopyFailed(_logger, error, id, node.Name);
            }
            else
            {
                Log.ShallowCopyFinished(_logger, id, node.Name, operation.CopiedClusters, operation.UnmappedClusters, operation.TotalClusters);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return operation;
    }

}
