namespace DeltaSnap.Lvol;

/// <summary>
/// The newest metadata copy of an lvol store was damaged, so the store was opened on an older copy (or a metadata slot
/// is damaged and may have held a newer commit). The last commit(s) may be gone.
/// </summary>
/// <param name="Sequence">The sequence number of the copy that was used.</param>
/// <param name="LostSequence">The newest sequence number a damaged copy named, when it could be read; otherwise null.</param>
/// <param name="Damage">What is damaged and what was lost, in words.</param>
public sealed record LvolMetadataFallback(ulong Sequence, ulong? LostSequence, string Damage);

/// <summary>What <see cref="LvolStore.FsckAsync"/> found in the committed metadata.</summary>
public sealed record LvolFsckReport
{
    /// <summary>The sequence number of the metadata copy that was checked.</summary>
    public required ulong Sequence { get; init; }

    /// <summary>How many lvols the store holds.</summary>
    public required int LvolCount { get; init; }

    /// <summary>Physical clusters the allocation map marks in use.</summary>
    public required long AllocatedClusters { get; init; }

    /// <summary>Physical clusters lvols map.</summary>
    public required long MappedClusters { get; init; }

    /// <summary>Physical clusters the metadata copy occupies.</summary>
    public required long MetadataClusters { get; init; }

    /// <summary>Each inconsistency, in words; empty when the store is consistent. A fallback to an older metadata copy is one.</summary>
    public required IReadOnlyList<string> Problems { get; init; }

    /// <summary>When the newest metadata copy was damaged and an older one was checked instead: what was lost; otherwise null.</summary>
    public LvolMetadataFallback? MetadataFallback { get; init; }

    /// <summary>How many of <see cref="Problems"/> make the store unsafe to open (anything but leaked clusters).</summary>
    internal int Fatal { get; init; }

    /// <summary>Whether no problem was found.</summary>
    public bool IsConsistent => Problems.Count == 0;
}

public sealed partial class LvolStore
{
    /// <summary>
    /// Checks the committed metadata on disk: every mapped physical cluster is marked allocated and used once, no
    /// allocated cluster is leaked, parent links name existing snapshots without cycles, and every map entry lies
    /// within its lvol's size.
    /// </summary>
    public async Task<LvolFsckReport> FsckAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await _commitLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        MetadataImage image;
        LvolMetadataFallback? fallback;
        long fileLength;
        try
        {
            (image, _, fallback) = _journal.ReadNewest();
            fileLength = RandomAccess.GetLength(_file);
        }
        finally
        {
            _commitLock.Release();
        }
        // A fallback found when the store was opened stays damage until a commit rewrites the damaged slot.
        fallback ??= image.Sequence == MetadataFallback?.Sequence ? MetadataFallback : null;
        var report = MetadataCheck.Run(image, _geometry, fileLength);
        if (fallback is null)
        {
            return report;
        }
        return report with
        {
            Problems = [$"Metadata damaged, older copy in use: {fallback.Damage}.", .. report.Problems],
            MetadataFallback = fallback,
        };
    }
}
