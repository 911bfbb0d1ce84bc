namespace DeltaSnap.Lvol;

public sealed partial class LvolStore
{
    /// <summary>
    /// Makes the in-memory state durable through the metadata journal: under the state lock the copy is serialized to
    /// clusters the committed copy does not use; then (commit lock only, I/O goes on) it is written and synced with
    /// the data written before, and the other slot names it; only then are the clusters freed since the last commit
    /// reusable.
    /// </summary>
    internal async Task CommitAsync(CancellationToken cancellationToken)
    {
        await _commitLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            PendingCommit? commit;
            lock (_sync)
            {
                commit = _journal.Prepare(_clusters, Name, Ordered());
            }
            if (commit is null)
            {
                _journal.Sync("sync data");
                return;
            }
            try
            {
                _journal.Write(commit);
            }
            catch (Exception e)
            {
                lock (_sync)
                {
                    _journal.Abort(commit, _clusters);
                }
                Log.CommitFailed(_logger, e, Path);
                throw e is LvolException ? e : IoFailure($"Cannot write the metadata of lvol store {Path}", e);
            }
            lock (_sync)
            {
                _journal.Complete(commit, _clusters);
            }
        }
        finally
        {
            _commitLock.Release();
        }
    }

    /// <summary>Records a change of the in-memory state (call under the state lock): the next commit writes it.</summary>
    internal void MarkDirty() => _journal.MarkDirty();

    internal static LvolException IoFailure(string what, Exception e) =>
        e.HResult == 28 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
            ? new LvolException(LvolErrno.ENOSPC, $"{what}: no space left on the device.", e)
            : new LvolException(LvolErrno.EIO, $"{what}: {e.Message}", e);

    /// <summary>Loads the newest intact metadata copy (on open): the store's name, its allocator, its lvols.</summary>
    private void LoadNewestMetadata()
    {
        var (image, fallback) = _journal.Load();
        if (fallback is not null)
        {
            Log.MetadataFallback(_logger, Path, image.Sequence, fallback.Damage);
        }
        MetadataFallback = fallback;
        Name = image.Name;
        _clusters = ClusterAllocator.FromBitmap(image.Bitmap, image.PhysicalCount, _clusters.Capacity);
        // The copy passed the check (unique UUIDs and names, parents that exist, no parent cycle), so these cannot fail.
        foreach (var r in image.Lvols)
        {
            var node = new LvolNode(r.Uuid, r.Name, r.Size)
            {
                IsSnapshot = r.IsSnapshot,
                IsThin = r.IsThin,
                CreatedUtc = r.CreatedUtc,
                Map = r.Map,
            };
            foreach (var (k, v) in r.Xattrs)
            {
                node.Xattrs[k] = v;
            }
            _byUuid.Add(node.Uuid, node);
            _byName.Add(node.Name, node);
        }
        foreach (var r in image.Lvols)
        {
            if (r.ParentUuid != Guid.Empty)
            {
                _byUuid[r.Uuid].Parent = _byUuid[r.ParentUuid];
            }
        }
    }
}
