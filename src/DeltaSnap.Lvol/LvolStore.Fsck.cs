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
            (image, _, fallback) = ReadNewestImage();
            fileLength = RandomAccess.GetLength(_file);
        }
        finally
        {
            _commitLock.Release();
        }
        // A fallback found when the store was opened stays damage until a commit rewrites the damaged slot.
        fallback ??= image.Sequence == MetadataFallback?.Sequence ? MetadataFallback : null;
        var report = Check(image, fileLength);
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

    /// <summary>Checks one metadata copy against itself and against the file's length.</summary>
    private LvolFsckReport Check(MetadataImage image, long fileLength)
    {
        var problems = new List<string>();
        var leaks = 0;
        const int MaxProblems = 100;
        // owner[p]: 0 nobody, -1 the metadata, i + 1 lvol i.
        var owners = new int[image.PhysicalCount];
        bool Allocated(long p) => p >= 0 && p < image.PhysicalCount && (image.Bitmap[p >> 3] & (1 << (int)(p & 7))) != 0;
        string OwnerName(int owner) => owner < 0 ? "the metadata" : $"lvol '{image.Lvols[owner - 1].Name}'";
        void Problem(string text)
        {
            if (problems.Count < MaxProblems)
            {
                problems.Add(text);
            }
        }

        void Claim(long p, int owner, string what)
        {
            if (p < 0 || p >= image.PhysicalCount)
            {
                Problem($"{what} maps physical cluster {p}, outside the store's {image.PhysicalCount} clusters.");
                return;
            }
            if (!Allocated(p))
            {
                Problem($"{what} maps physical cluster {p}, which the allocation map marks free.");
            }
            if (owners[p] != 0)
            {
                Problem($"Physical cluster {p} is used twice: by {OwnerName(owners[p])} and by {what}.");
                return;
            }
            owners[p] = owner;
        }

        void NeedFile(long end, string what)
        {
            if (end > fileLength)
            {
                Problem($"{what} lies past the end of the store file ({fileLength} bytes; it needs {end}): the file was cut short.");
            }
        }

        if (image.MetadataStart < 0 || image.MetadataCount <= 0 || image.MetadataStart > image.PhysicalCount - image.MetadataCount)
        {
            Problem($"The metadata extent ({image.MetadataCount} cluster(s) at {image.MetadataStart}) lies outside the store's {image.PhysicalCount} clusters.");
        }
        else
        {
            for (var p = image.MetadataStart; p < image.MetadataStart + image.MetadataCount; p++)
            {
                Claim(p, -1, "the metadata");
            }
        }

        var byUuid = new Dictionary<Guid, LvolRecord>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long mapped = 0;
        foreach (var r in image.Lvols)
        {
            if (!byUuid.TryAdd(r.Uuid, r))
            {
                Problem($"UUID {r.Uuid} is used by two lvols.");
            }
            if (!names.Add(r.Name))
            {
                Problem($"The name '{r.Name}' is used by two lvols.");
            }
        }
        for (var i = 0; i < image.Lvols.Count; i++)
        {
            var r = image.Lvols[i];
            var owner = $"lvol '{r.Name}'";
            if (r.Size <= 0 || r.Size > long.MaxValue - ClusterSize)
            {
                Problem($"{owner} has size {r.Size}.");
                continue;
            }
            if (r.ParentUuid != Guid.Empty)
            {
                if (!byUuid.TryGetValue(r.ParentUuid, out var parent))
                {
                    Problem($"{owner} names parent {r.ParentUuid}, which does not exist.");
                }
                else if (!parent.IsSnapshot)
                {
                    Problem($"{owner} has parent '{parent.Name}', which is not a snapshot.");
                }
                var seen = new HashSet<Guid> { r.Uuid };
                for (var p = r.ParentUuid; p != Guid.Empty && byUuid.TryGetValue(p, out var ancestor); p = ancestor.ParentUuid)
                {
                    if (!seen.Add(p))
                    {
                        Problem($"{owner}'s parent chain has a cycle.");
                        break;
                    }
                }
            }
            var clusters = ClusterCountOf(r.Size);
            foreach (var (index, e) in r.Map.Enumerate())
            {
                if (index >= clusters)
                {
                    Problem($"{owner} maps logical cluster {index}, past its {clusters} clusters.");
                    continue;
                }
                if (e.Kind == ClusterKind.Zero)
                {
                    if (e.Physical != -1 || e.Valid is not null)
                    {
                        Problem($"{owner} has a malformed hole at cluster {index}.");
                    }
                    continue;
                }
                mapped++;
                Claim(e.Physical, i + 1, $"{owner} (cluster {index})");
                var valid = e.ValidBlocks(BlocksPerCluster);
                if (valid.HasBitsPastEnd)
                {
                    Problem($"{owner} marks blocks past the end of cluster {index} valid.");
                }
                if (e.Physical >= 0 && e.Physical < image.PhysicalCount)
                {
                    // The blocks this cluster reads from the file must be in the file: reading past its end would return zeros.
                    var inVolume = (int)Math.Min(ClusterSize, ((r.Size - (index << ClusterShift) + BlockSize - 1) >> BlockShift) << BlockShift);
                    var readEnd = Math.Min(inVolume, valid.End << BlockShift);
                    if (readEnd > 0)
                    {
                        NeedFile(FileOffsetOf(e.Physical) + readEnd, $"{owner} (cluster {index}, physical cluster {e.Physical})");
                    }
                }
            }
        }
        var fatal = problems.Count;
        long allocated = 0;
        for (long p = 0; p < image.PhysicalCount; p++)
        {
            if (Allocated(p))
            {
                allocated++;
                if (owners[p] == 0)
                {
                    leaks++;
                    Problem($"Physical cluster {p} is marked allocated but nothing uses it (leaked).");
                }
            }
        }
        return new LvolFsckReport
        {
            Sequence = image.Sequence,
            LvolCount = image.Lvols.Count,
            AllocatedClusters = allocated,
            MappedClusters = mapped,
            MetadataClusters = image.MetadataCount,
            Problems = problems,
            Fatal = fatal,
        };
    }
}
