using System.Buffers;
using System.Text;

namespace DeltaSnap.Lvol;

public sealed partial class LvolStore
{
    internal const string ChecksumXattrPrefix = "deltasnap.checksums.";
    internal const string LonghornXattrPrefix = "deltasnap.lh.";

    /// <summary>Creates an lvol.</summary>
    /// <param name="name">Its name, unique in the store.</param>
    /// <param name="size">Its size in bytes.</param>
    /// <param name="thin">Allocate clusters on first write (true) or all now (false).</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    /// <exception cref="LvolException">EEXIST: the name is taken; EINVAL: a bad name or size; ENOSPC: no room for a thick lvol.</exception>
    public Task<LvolInfo> CreateLvolAsync(string name, long size, bool thin = true, CancellationToken cancellationToken = default)
    {
        ValidateLvolName(name);
        if (size <= 0)
        {
            throw new LvolException(LvolErrno.EINVAL, $"Cannot create lvol '{name}' of {size} bytes: the size must be positive.");
        }
        return StructuralAsync(() =>
        {
            EnsureNameFree(name);
            var node = new LvolNode(Guid.NewGuid(), name, size) { IsThin = thin, CreatedUtc = NowSeconds() };
            if (!thin)
            {
                AllocateAll(node.Map, 0, ClusterCountOf(size));
            }
            Add(node);
            Log.LvolCreated(_logger, name, size, thin);
            return Describe(node);
        }, cancellationToken);
    }

    /// <summary>
    /// Snapshots lvol <paramref name="lvolName"/>: the new read-only snapshot takes the lvol's cluster map (metadata
    /// only) and the lvol becomes an empty thin clone of it.
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EEXIST: the snapshot name is taken; EINVAL: the lvol is itself a snapshot.</exception>
    public Task<LvolInfo> SnapshotAsync(string lvolName, string snapshotName, LvolSnapshotOptions? options = null, CancellationToken cancellationToken = default)
    {
        ValidateLvolName(snapshotName);
        return StructuralAsync(() =>
        {
            var node = Find(lvolName);
            if (node.IsSnapshot)
            {
                throw new LvolException(LvolErrno.EINVAL, $"Lvol '{node.Name}' is a snapshot; snapshot its clone instead.");
            }
            EnsureNameFree(snapshotName);
            var snapshot = new LvolNode(Guid.NewGuid(), snapshotName, node.Size)
            {
                IsSnapshot = true,
                IsThin = node.IsThin,
                Parent = node.Parent,
                Map = node.Map,
                CreatedUtc = options?.CreatedUtc is { } t ? TruncateToSeconds(t) : NowSeconds(),
            };
            foreach (var (key, value) in options?.Xattrs ?? new Dictionary<string, byte[]>())
            {
                snapshot.Xattrs[key] = value.ToArray();
            }
            node.Map = new ClusterMap();
            node.Parent = snapshot;
            node.IsThin = true;
            Add(snapshot);
            Log.SnapshotCreated(_logger, node.Name, snapshotName);
            return Describe(snapshot);
        }, cancellationToken);
    }

    /// <summary>Creates a thin clone of snapshot <paramref name="snapshotName"/>.</summary>
    /// <exception cref="LvolException">ENOENT: no such snapshot; EINVAL: it is not a snapshot; EEXIST: the name is taken.</exception>
    public Task<LvolInfo> CloneAsync(string snapshotName, string cloneName, CancellationToken cancellationToken = default)
    {
        ValidateLvolName(cloneName);
        return StructuralAsync(() =>
        {
            var snapshot = Find(snapshotName);
            if (!snapshot.IsSnapshot)
            {
                throw new LvolException(LvolErrno.EINVAL, $"Lvol '{snapshot.Name}' is not a snapshot; only snapshots can be cloned.");
            }
            EnsureNameFree(cloneName);
            var clone = new LvolNode(Guid.NewGuid(), cloneName, snapshot.Size) { Parent = snapshot, IsThin = true, CreatedUtc = NowSeconds() };
            Add(clone);
            return Describe(clone);
        }, cancellationToken);
    }

    /// <summary>Renames an lvol.</summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EEXIST: the new name is taken.</exception>
    public Task RenameLvolAsync(string name, string newName, CancellationToken cancellationToken = default)
    {
        ValidateLvolName(newName);
        return StructuralAsync(() =>
        {
            var node = Find(name);
            if (node.Name == newName)
            {
                return 0;
            }
            EnsureNameFree(newName);
            _byName.Remove(node.Name);
            node.Name = newName;
            _byName.Add(newName, node);
            MarkDirty();
            return 0;
        }, cancellationToken);
    }

    /// <summary>Sets an extended attribute.</summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EINVAL: an empty or overlong key.</exception>
    public Task SetXattrAsync(string name, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        ValidateXattrKey(key);
        var copy = value.ToArray();
        return StructuralAsync(() =>
        {
            Find(name).Xattrs[key] = copy;
            MarkDirty();
            return 0;
        }, cancellationToken);
    }

    /// <summary>Sets an extended attribute to a UTF-8 string (SPDK's <c>bdev_lvol_set_xattr</c>).</summary>
    public Task SetXattrAsync(string name, string key, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return SetXattrAsync(name, key, Encoding.UTF8.GetBytes(value), cancellationToken);
    }

    /// <summary>An extended attribute's value, or null when the lvol has none by that key.</summary>
    /// <exception cref="LvolException">ENOENT: no such lvol.</exception>
    public byte[]? GetXattr(string name, string key)
    {
        lock (_sync)
        {
            return Find(name).Xattrs.TryGetValue(key, out var value) ? value.ToArray() : null;
        }
    }

    /// <summary>Removes an extended attribute (nothing happens when it is not set).</summary>
    public Task RemoveXattrAsync(string name, string key, CancellationToken cancellationToken = default) =>
        StructuralAsync(() =>
        {
            if (Find(name).Xattrs.Remove(key))
            {
                MarkDirty();
            }
            return 0;
        }, cancellationToken);

    /// <summary>Grows (or shrinks) an lvol. Bytes that come into view read zeros.</summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EPERM: it is a snapshot; EINVAL: a size that is not positive; ENOSPC: no room for a thick lvol's clusters.</exception>
    public async Task ResizeLvolAsync(string name, long newSize, CancellationToken cancellationToken = default)
    {
        if (newSize <= 0)
        {
            throw new LvolException(LvolErrno.EINVAL, $"Cannot resize lvol '{name}' to {newSize} bytes: the size must be positive.");
        }
        ThrowIfDisposed();
        await _gate.EnterWriteAsync().ConfigureAwait(false);
        try
        {
            LvolNode node;
            long oldSize;
            var zeroTail = false;
            lock (_sync)
            {
                node = Find(name);
                if (node.IsSnapshot)
                {
                    throw new LvolException(LvolErrno.EPERM, $"Lvol '{node.Name}' is a snapshot; snapshots cannot be resized.");
                }
                RequireIdle(node);
                oldSize = node.Size;
                var oldCount = ClusterCountOf(oldSize);
                var newCount = ClusterCountOf(newSize);
                if (newSize < oldSize)
                {
                    foreach (var (index, e) in node.Map.Enumerate(newCount).ToList())
                    {
                        FreeEntry(e);
                        node.Map.Remove(index);
                    }
                }
                else if (newSize > oldSize)
                {
                    // Whole new clusters must read zeros even where a parent (larger before a shrink) has data.
                    for (var c = oldCount; c < newCount; c++)
                    {
                        if (CopyOnWritePlanner.PlanGrow(node.Map.Get(c), _reads.AnyDataBelow(node.Parent, c)) is { } hole)
                        {
                            node.Map.Set(c, hole);
                        }
                    }
                    if (!node.IsThin)
                    {
                        AllocateAll(node.Map, oldCount, newCount);
                    }
                    zeroTail = (oldSize & (ClusterSize - 1)) != 0;
                }
                node.Size = newSize;
                InvalidateChecksums(node);
                MarkDirty();
            }
            if (zeroTail)
            {
                // The bytes between the old end and the end of its cluster may hold data from before a shrink.
                var end = Math.Min(newSize, ((oldSize >> ClusterShift) + 1) << ClusterShift);
                var range = ByteRange.FromBounds(oldSize, end);
                if (GetDataRanges(node, range).Count > 0)
                {
                    await WriteLvolAsync(node, oldSize, new byte[(int)range.Length], cancellationToken).ConfigureAwait(false);
                }
            }
            await CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.ExitWrite();
        }
    }

    /// <summary>
    /// Makes lvol <paramref name="lvolName"/> an empty thin clone of snapshot <paramref name="snapshotName"/> (its own
    /// clusters are freed): it then reads exactly as the snapshot does. The lvol keeps its name and UUID.
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol or snapshot; EINVAL: the lvol is a snapshot or the target is not.</exception>
    public Task RollbackAsync(string lvolName, string snapshotName, CancellationToken cancellationToken = default) =>
        StructuralAsync(() =>
        {
            var node = Find(lvolName);
            var snapshot = Find(snapshotName);
            if (node.IsSnapshot || !snapshot.IsSnapshot)
            {
                throw new LvolException(LvolErrno.EINVAL, $"Cannot roll '{node.Name}' back to '{snapshot.Name}': the first must be a writable lvol and the second a snapshot.");
            }
            RequireIdle(node);
            foreach (var (_, e) in node.Map.Enumerate())
            {
                FreeEntry(e);
            }
            node.Map = new ClusterMap();
            node.Parent = snapshot;
            node.Size = snapshot.Size;
            node.IsThin = true;
            InvalidateChecksums(node);
            MarkDirty();
            return 0;
        }, cancellationToken);

    /// <summary>
    /// Deletes an lvol. A snapshot with one child is merged into it: the child takes the snapshot's clusters where it
    /// has none (metadata only; only a cluster the child wrote in part takes a copy of the blocks it lacks). The
    /// child's stored checksums are invalidated when its map changes.
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EBUSY: it is open, held by an operation, or a snapshot with several clones.</exception>
    public async Task DeleteLvolAsync(string name, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await _gate.EnterWriteAsync().ConfigureAwait(false);
        try
        {
            LvolNode node;
            LvolNode? child;
            var jobs = new List<CopyJob>();
            lock (_sync)
            {
                node = Find(name);
                if (node.OpenDevices > 0)
                {
                    throw new LvolException(LvolErrno.EBUSY, $"Lvol '{node.Name}' is open ({node.OpenDevices} device(s)); close it first.");
                }
                RequireIdle(node);
                var children = ChildrenOf(node);
                if (children.Count > 1)
                {
                    throw new LvolException(LvolErrno.EBUSY, $"Snapshot '{node.Name}' has {children.Count} clones ({string.Join(", ", children.Select(c => c.Name))}); delete all but one first.");
                }
                child = children.Count == 1 ? children[0] : null;
                if (child is not null)
                {
                    RequireIdle(child);
                    foreach (var (index, xe) in node.Map.Enumerate())
                    {
                        if (_copyOnWrite.PlanMergeCopy(xe, child.Map.Get(index), inChild: index < ClusterCountOf(child.Size)) is { Blocks: { } blocks } step)
                        {
                            jobs.Add(new CopyJob(step.Source, step.Entry.Physical, blocks));
                        }
                    }
                }
            }
            await RunCopiesAsync(jobs, cancellationToken).ConfigureAwait(false);
            lock (_sync)
            {
                if (child is null)
                {
                    foreach (var (_, e) in node.Map.Enumerate())
                    {
                        FreeEntry(e);
                    }
                }
                else
                {
                    MergeInto(node, child);
                    child.Parent = node.Parent;
                    DropRedundantHoles(child);
                }
                _byUuid.Remove(node.Uuid);
                _byName.Remove(node.Name);
                node.ChecksumCancellation?.Cancel();
                MarkDirty();
            }
            Log.LvolDeleted(_logger, node.Name, child?.Name);
            await CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.ExitWrite();
        }
    }

    /// <summary>Allocates every cluster of the lvol, copying what its parents hold, and drops the parent.</summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EBUSY: held by an operation; ENOSPC: no room.</exception>
    public Task InflateAsync(string name, CancellationToken cancellationToken = default) =>
        CopyingAsync(name, node =>
        {
            var fills = new List<FillJob>();
            var copies = new List<CopyJob>();
            for (long c = 0; c < ClusterCountOf(node.Size); c++)
            {
                if (_copyOnWrite.PlanInflate(node.Map.Get(c), _reads.AnyDataBelow(node.Parent, c)) is { } step)
                {
                    Apply(node, c, step, copies, fills);
                }
            }
            return (fills, copies, () =>
            {
                node.Parent = null;
                node.IsThin = false;
            });
        }, cancellationToken);

    /// <summary>
    /// Removes one level of parentage: clusters the parent holds and the lvol lacks are copied into the lvol, and its
    /// parent becomes the grandparent.
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EINVAL: it has no parent; EBUSY: held by an operation; ENOSPC: no room.</exception>
    public Task DecoupleParentAsync(string name, CancellationToken cancellationToken = default) =>
        CopyingAsync(name, node =>
        {
            var parent = node.Parent ?? throw new LvolException(LvolErrno.EINVAL, $"Lvol '{node.Name}' has no parent to decouple from.");
            var copies = new List<CopyJob>();
            var fills = new List<FillJob>();
            foreach (var (index, pe) in parent.Map.Enumerate(0, ClusterCountOf(node.Size)).ToList())
            {
                if (_copyOnWrite.PlanDecouple(node.Map.Get(index), pe) is { } step)
                {
                    Apply(node, index, step, copies, fills);
                }
            }
            return (fills, copies, () => node.Parent = parent.Parent);
        }, cancellationToken);

    /// <summary>
    /// Makes snapshot <paramref name="parentName"/> the parent of lvol <paramref name="lvolName"/> (Longhorn's
    /// <c>bdev_lvol_set_parent</c>): the lvol's own clusters keep their data, its unallocated clusters read from the
    /// new parent.
    /// </summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EINVAL: the parent is not a snapshot, has another size, is the lvol or its descendant, or the lvol is thick and not a clone.</exception>
    public Task SetParentAsync(string lvolName, string parentName, CancellationToken cancellationToken = default) =>
        CopyingAsync(lvolName, node =>
        {
            var parent = Find(parentName);
            if (!parent.IsSnapshot)
            {
                throw new LvolException(LvolErrno.EINVAL, $"Lvol '{parent.Name}' is not a snapshot; only a snapshot can be a parent.");
            }
            if (parent.Size != node.Size)
            {
                throw new LvolException(LvolErrno.EINVAL, $"Snapshot '{parent.Name}' ({parent.Size} bytes) and lvol '{node.Name}' ({node.Size} bytes) differ in size.");
            }
            if (node.Parent is null && !node.IsThin)
            {
                throw new LvolException(LvolErrno.EINVAL, $"Lvol '{node.Name}' is thick and not a clone; only thin lvols take a parent.");
            }
            for (var p = parent; p is not null; p = p.Parent)
            {
                if (p == node)
                {
                    throw new LvolException(LvolErrno.EINVAL, $"Snapshot '{parent.Name}' descends from '{node.Name}'; it cannot become its parent.");
                }
            }
            return (MaterializeFills(node), [], () => node.Parent = parent);
        }, cancellationToken);

    /// <summary>Removes the lvol's parent without copying: its own clusters keep their data, the rest reads zeros.</summary>
    /// <exception cref="LvolException">ENOENT: no such lvol; EINVAL: it has no parent.</exception>
    public Task DetachParentAsync(string name, CancellationToken cancellationToken = default) =>
        CopyingAsync(name, node =>
        {
            if (node.Parent is null)
            {
                throw new LvolException(LvolErrno.EINVAL, $"Lvol '{node.Name}' has no parent to detach.");
            }
            return (MaterializeFills(node), [], () => node.Parent = null);
        }, cancellationToken);

    /// <summary>The lvols that <paramref name="node"/> is the parent of.</summary>
    internal List<LvolNode> ChildrenOf(LvolNode node) => _byUuid.Values.Where(n => n.Parent == node).ToList();

    internal void InvalidateChecksums(LvolNode node)
    {
        foreach (var key in node.Xattrs.Keys.Where(k => k.StartsWith(ChecksumXattrPrefix, StringComparison.Ordinal) || k.StartsWith(LonghornXattrPrefix, StringComparison.Ordinal)).ToList())
        {
            node.Xattrs.Remove(key);
            MarkDirty();
        }
    }

    internal static void RequireIdle(LvolNode node)
    {
        if (node.BusyWith is { } what)
        {
            throw new LvolException(LvolErrno.EBUSY, $"Lvol '{node.Name}' is busy: {what} is running on it.");
        }
        if (node.RunningCopy is { State: DeltaSnap.Copy.ShallowCopyState.InProgress })
        {
            throw new LvolException(LvolErrno.EBUSY, $"Lvol '{node.Name}' is busy: a shallow copy is reading it.");
        }
    }

    private async Task<T> StructuralAsync<T>(Func<T> mutate, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        await _gate.EnterWriteAsync().ConfigureAwait(false);
        try
        {
            T result;
            lock (_sync)
            {
                result = mutate();
                MarkDirty();
            }
            await CommitAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            _gate.ExitWrite();
        }
    }

    /// <summary>
    /// Runs a structural change that copies data: the plan (under the lock) allocates what it needs, records the
    /// copies and returns the metadata change to apply after them. Copies only write clusters the committed metadata
    /// does not read (new clusters, or blocks a cluster does not hold yet), so a crash at any point leaves the last
    /// committed state intact.
    /// </summary>
    private async Task CopyingAsync(string name, Func<LvolNode, (List<FillJob> Fills, List<CopyJob> Copies, Action Apply)> plan, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        await _gate.EnterWriteAsync().ConfigureAwait(false);
        try
        {
            LvolNode node;
            ClusterMap before;
            List<FillJob> fills;
            List<CopyJob> copies;
            Action apply;
            lock (_sync)
            {
                node = Find(name);
                RequireIdle(node);
                // Plan against a copy of the map so a failure (ENOSPC) leaves the lvol as it was.
                before = node.Map;
                node.Map = Copy(before);
                var allocatedBefore = new HashSet<long>(before.Enumerate().Where(x => x.Entry.Kind == ClusterKind.Data).Select(x => x.Entry.Physical));
                try
                {
                    (fills, copies, apply) = plan(node);
                }
                catch
                {
                    foreach (var (_, e) in node.Map.Enumerate())
                    {
                        if (e.Kind == ClusterKind.Data && !allocatedBefore.Contains(e.Physical))
                        {
                            _clusters.FreeNow(e.Physical);
                        }
                    }
                    node.Map = before;
                    throw;
                }
            }
            try
            {
                await RunCopiesAsync(copies, cancellationToken).ConfigureAwait(false);
                foreach (var fill in fills)
                {
                    await FillFromBelowAsync(fill, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                lock (_sync)
                {
                    var kept = new HashSet<long>(before.Enumerate().Where(x => x.Entry.Kind == ClusterKind.Data).Select(x => x.Entry.Physical));
                    foreach (var (_, e) in node.Map.Enumerate())
                    {
                        if (e.Kind == ClusterKind.Data && !kept.Contains(e.Physical))
                        {
                            _clusters.FreeNow(e.Physical);
                        }
                    }
                    node.Map = before;
                }
                throw;
            }
            lock (_sync)
            {
                apply();
                DropRedundantHoles(node);
                InvalidateChecksums(node);
                MarkDirty();
            }
            await CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.ExitWrite();
        }
    }

    /// <summary>Plans filling every partial, non-opaque cluster of <paramref name="node"/> from below, so it no longer depends on its parent.</summary>
    private List<FillJob> MaterializeFills(LvolNode node)
    {
        var fills = new List<FillJob>();
        var copies = new List<CopyJob>();
        foreach (var (index, e) in node.Map.Enumerate().ToList())
        {
            if (_copyOnWrite.PlanMaterialize(e) is { } step)
            {
                Apply(node, index, step, copies, fills);
            }
        }
        return fills;
    }

    /// <summary>Removes explicit holes that hide nothing (no layer below holds data there any more).</summary>
    private void DropRedundantHoles(LvolNode node)
    {
        foreach (var (index, _) in node.Map.Enumerate().Where(x => x.Entry.Kind == ClusterKind.Zero).ToList())
        {
            if (!_reads.AnyDataBelow(node.Parent, index))
            {
                node.Map.Remove(index);
            }
        }
    }

    /// <summary>Merges the map of <paramref name="snapshot"/> (being deleted) into its only child (the copies are done).</summary>
    private void MergeInto(LvolNode snapshot, LvolNode child)
    {
        var changed = false;
        var childClusters = ClusterCountOf(child.Size);
        foreach (var (index, xe) in snapshot.Map.Enumerate().ToList())
        {
            var step = _copyOnWrite.PlanMerge(xe, child.Map.Get(index), inChild: index < childClusters);
            if (step.FreeSnapshotCluster)
            {
                FreeEntry(xe);
            }
            if (step.Child is { } merged)
            {
                child.Map.Set(index, merged);
                changed = true;
            }
        }
        if (changed)
        {
            InvalidateChecksums(child);
        }
    }

    /// <summary>Carries out one cluster's step of a plan: allocates its physical cluster if it needs one, records its copy or fill, sets the entry.</summary>
    private void Apply(LvolNode node, long cluster, ClusterStep step, List<CopyJob> copies, List<FillJob> fills)
    {
        var e = Allocate(step);
        if (step.Blocks is { } blocks)
        {
            if (step.Source >= 0)
            {
                copies.Add(new CopyJob(step.Source, e.Physical, blocks));
            }
            else
            {
                fills.Add(new FillJob(node.Parent, cluster, e.Physical, blocks));
            }
        }
        node.Map.Set(cluster, e);
    }

    /// <summary>The step's entry, with a newly allocated physical cluster when the step needs one.</summary>
    private ClusterEntry Allocate(ClusterStep step) => step.Allocate ? step.Entry with { Physical = _clusters.Allocate() } : step.Entry;

    private async Task RunCopiesAsync(List<CopyJob> jobs, CancellationToken cancellationToken)
    {
        if (jobs.Count == 0)
        {
            return;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(ClusterSize);
        try
        {
            foreach (var job in jobs)
            {
                foreach (var (first, count) in job.Blocks.Runs())
                {
                    var memory = buffer.AsMemory(0, count << BlockShift);
                    await ReadFileAsync(memory, FileOffsetOf(job.Source) + (first << BlockShift), cancellationToken).ConfigureAwait(false);
                    await WriteFileAsync(memory, FileOffsetOf(job.Target) + (first << BlockShift), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task FillFromBelowAsync(FillJob job, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ClusterSize);
        try
        {
            foreach (var (first, count) in job.Blocks.Runs())
            {
                var memory = buffer.AsMemory(0, count << BlockShift);
                var segments = new List<ReadSegment>();
                lock (_sync)
                {
                    _reads.ResolveCluster(job.Below, job.Cluster, first << BlockShift, (first + count) << BlockShift, segments);
                }
                await ReadSegmentsAsync(segments, memory, cancellationToken).ConfigureAwait(false);
                await WriteFileAsync(memory, FileOffsetOf(job.Target) + (first << BlockShift), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static ClusterMap Copy(ClusterMap map)
    {
        var copy = new ClusterMap();
        foreach (var (index, e) in map.Enumerate())
        {
            copy.Set(index, e with { Valid = e.Valid?.ToArray() });
        }
        return copy;
    }

    private void AllocateAll(ClusterMap map, long first, long end)
    {
        var allocated = new List<long>();
        try
        {
            for (var c = first; c < end; c++)
            {
                if (_copyOnWrite.PlanThick(map.Get(c)) is { } step)
                {
                    var e = Allocate(step);
                    allocated.Add(e.Physical);
                    map.Set(c, e);
                }
            }
        }
        catch
        {
            foreach (var p in allocated)
            {
                _clusters.FreeNow(p);
            }
            throw;
        }
    }

    private void FreeEntry(ClusterEntry e)
    {
        if (e.Kind == ClusterKind.Data)
        {
            _clusters.Free(e.Physical);
        }
    }

    private void Add(LvolNode node)
    {
        _byUuid.Add(node.Uuid, node);
        _byName.Add(node.Name, node);
        MarkDirty();
    }

    private void EnsureNameFree(string name)
    {
        if (_byName.ContainsKey(name))
        {
            throw new LvolException(LvolErrno.EEXIST, $"An lvol named '{name}' already exists in store {Name}.");
        }
    }

    private static void ValidateXattrKey(string key)
    {
        if (string.IsNullOrEmpty(key) || Encoding.UTF8.GetByteCount(key) > MaxNameBytes || key.Any(char.IsControl))
        {
            throw new LvolException(LvolErrno.EINVAL, $"'{key}' is not a valid extended attribute name.");
        }
    }

    internal static DateTimeOffset NowSeconds() => TruncateToSeconds(DateTimeOffset.UtcNow);

    internal static DateTimeOffset TruncateToSeconds(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
    }

    /// <summary>Copy <see cref="Blocks"/> of physical cluster <see cref="Source"/> to the same blocks of <see cref="Target"/>.</summary>
    private readonly record struct CopyJob(long Source, long Target, BlockBitmap Blocks);

    /// <summary>Write into <see cref="Blocks"/> of physical cluster <see cref="Target"/> what logical cluster <see cref="Cluster"/> reads from <see cref="Below"/> down.</summary>
    private readonly record struct FillJob(LvolNode? Below, long Cluster, long Target, BlockBitmap Blocks);
}
