namespace DeltaSnap.Lvol;

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

    /// <summary>Each inconsistency, in words; empty when the store is consistent.</summary>
    public required IReadOnlyList<string> Problems { get; init; }

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
        try
        {
            image = ReadNewestImage().Image;
        }
        finally
        {
            _commitLock.Release();
        }
        return Check(image);
    }

    private LvolFsckReport Check(MetadataImage image)
    {
        var problems = new List<string>();
        var owners = new Dictionary<long, string>();
        bool Allocated(long p) => p >= 0 && p < image.PhysicalCount && (image.Bitmap[p >> 3] & (1 << (int)(p & 7))) != 0;

        void Claim(long p, string owner)
        {
            if (p < 0 || p >= image.PhysicalCount)
            {
                problems.Add($"{owner} maps physical cluster {p}, outside the store's {image.PhysicalCount} clusters.");
                return;
            }
            if (!Allocated(p))
            {
                problems.Add($"{owner} maps physical cluster {p}, which the allocation map marks free.");
            }
            if (owners.TryGetValue(p, out var other))
            {
                problems.Add($"Physical cluster {p} is used twice: by {other} and by {owner}.");
                return;
            }
            owners[p] = owner;
        }

        for (var p = image.MetadataStart; p < image.MetadataStart + image.MetadataCount; p++)
        {
            Claim(p, "the metadata");
        }

        var byUuid = new Dictionary<Guid, LvolRecord>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long mapped = 0;
        foreach (var r in image.Lvols)
        {
            if (!byUuid.TryAdd(r.Uuid, r))
            {
                problems.Add($"UUID {r.Uuid} is used by two lvols.");
            }
            if (!names.Add(r.Name))
            {
                problems.Add($"The name '{r.Name}' is used by two lvols.");
            }
        }
        foreach (var r in image.Lvols)
        {
            var owner = $"lvol '{r.Name}'";
            if (r.Size <= 0)
            {
                problems.Add($"{owner} has size {r.Size}.");
            }
            if (r.ParentUuid != Guid.Empty)
            {
                if (!byUuid.TryGetValue(r.ParentUuid, out var parent))
                {
                    problems.Add($"{owner} names parent {r.ParentUuid}, which does not exist.");
                }
                else if (!parent.IsSnapshot)
                {
                    problems.Add($"{owner} has parent '{parent.Name}', which is not a snapshot.");
                }
                var seen = new HashSet<Guid> { r.Uuid };
                for (var p = r.ParentUuid; p != Guid.Empty && byUuid.TryGetValue(p, out var ancestor); p = ancestor.ParentUuid)
                {
                    if (!seen.Add(p))
                    {
                        problems.Add($"{owner}'s parent chain has a cycle.");
                        break;
                    }
                }
            }
            var clusters = ClusterCountOf(r.Size);
            foreach (var (index, e) in r.Map.Enumerate())
            {
                if (index >= clusters)
                {
                    problems.Add($"{owner} maps logical cluster {index}, past its {clusters} clusters.");
                }
                if (e.Kind == ClusterKind.Zero)
                {
                    if (e.Physical != -1 || e.Valid is not null)
                    {
                        problems.Add($"{owner} has a malformed hole at cluster {index}.");
                    }
                    continue;
                }
                mapped++;
                Claim(e.Physical, $"{owner} (cluster {index})");
                if (e.Valid is not null && BlocksPerCluster % 64 != 0 && (e.Valid[^1] >> (BlocksPerCluster % 64)) != 0)
                {
                    problems.Add($"{owner} marks blocks past the end of cluster {index} valid.");
                }
            }
        }
        for (long p = 0; p < image.PhysicalCount; p++)
        {
            if (Allocated(p) && !owners.ContainsKey(p))
            {
                problems.Add($"Physical cluster {p} is marked allocated but nothing uses it (leaked).");
            }
        }
        long allocated = 0;
        for (long p = 0; p < image.PhysicalCount; p++)
        {
            if (Allocated(p))
            {
                allocated++;
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
        };
    }
}
