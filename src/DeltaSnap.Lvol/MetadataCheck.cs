namespace DeltaSnap.Lvol;

/// <summary>
/// The consistency check of one metadata copy (what fsck reports, and what open uses to skip a copy that is intact
/// but inconsistent): every mapped physical cluster is marked allocated and used once, no allocated cluster is
/// leaked, parent links name existing snapshots without cycles, every map entry lies within its lvol's size, and
/// every block a cluster reads from the file is in the file.
/// </summary>
internal static class MetadataCheck
{
    /// <summary>Checks one metadata copy against itself and against the file's length.</summary>
    public static LvolFsckReport Run(MetadataImage image, StoreGeometry geometry, long fileLength)
    {
        var problems = new List<string>();
        var leaks = 0;
        const int MaxProblems = 100;
        // owner[p]: 0 nobody, -1 the metadata, i + 1 lvol i.
        var owners = new int[image.PhysicalCount];
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
            if (!image.IsAllocated(p))
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
            if (r.Size <= 0 || r.Size > long.MaxValue - geometry.ClusterSize)
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
            var clusters = geometry.ClusterCountOf(r.Size);
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
                var valid = e.ValidBlocks(geometry.BlocksPerCluster);
                if (valid.HasBitsPastEnd)
                {
                    Problem($"{owner} marks blocks past the end of cluster {index} valid.");
                }
                if (e.Physical >= 0 && e.Physical < image.PhysicalCount)
                {
                    // The blocks this cluster reads from the file must be in the file: reading past its end would return zeros.
                    var inVolume = (int)Math.Min(geometry.ClusterSize, ((r.Size - (index << geometry.ClusterShift) + LvolStore.BlockSize - 1) >> StoreGeometry.BlockShift) << StoreGeometry.BlockShift);
                    var readEnd = Math.Min(inVolume, valid.End << StoreGeometry.BlockShift);
                    if (readEnd > 0)
                    {
                        NeedFile(geometry.FileOffsetOf(e.Physical) + readEnd, $"{owner} (cluster {index}, physical cluster {e.Physical})");
                    }
                }
            }
        }
        var fatal = problems.Count;
        long allocated = 0;
        for (long p = 0; p < image.PhysicalCount; p++)
        {
            if (image.IsAllocated(p))
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
