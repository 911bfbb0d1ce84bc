using System.Collections;

namespace DeltaSnap.Lineage;

/// <summary>A volume's snapshots, oldest first, as its backend orders them (ZFS createtxg, Btrfs generation, creation time).</summary>
public sealed class SnapshotLineage : IReadOnlyList<SnapshotInfo>
{
    private readonly SnapshotInfo[] _snapshots;

    /// <summary>Creates a lineage from snapshots already in order, oldest first.</summary>
    /// <exception cref="ArgumentException">Two snapshots share a name.</exception>
    public SnapshotLineage(IEnumerable<SnapshotInfo> snapshotsOldestFirst)
    {
        ArgumentNullException.ThrowIfNull(snapshotsOldestFirst);
        _snapshots = snapshotsOldestFirst.ToArray();
        var duplicate = _snapshots.GroupBy(s => s.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            ThrowHelper.ThrowArgument(nameof(snapshotsOldestFirst), $"Snapshot name '{duplicate.Key}' appears twice in one lineage.");
        }
    }

    /// <summary>A lineage with no snapshots.</summary>
    public static SnapshotLineage Empty { get; } = new([]);

    /// <inheritdoc />
    public int Count => _snapshots.Length;

    /// <inheritdoc />
    public SnapshotInfo this[int index] => _snapshots[index];

    /// <summary>The newest snapshot, or null.</summary>
    public SnapshotInfo? Latest => _snapshots.Length == 0 ? null : _snapshots[^1];

    /// <summary>The snapshots that are not temporary snapshots of a refresh.</summary>
    public SnapshotLineage WithoutTemporary() => new(_snapshots.Where(s => !s.IsTemporary));

    /// <summary>The temporary snapshots (leftovers of refreshes that were interrupted).</summary>
    public IReadOnlyList<SnapshotInfo> Temporary => _snapshots.Where(s => s.IsTemporary).ToArray();

    /// <summary>The snapshot named <paramref name="name"/>, or null.</summary>
    public SnapshotInfo? Find(string name) => Array.Find(_snapshots, s => s.Name == name);

    /// <summary>The position of <paramref name="snapshot"/> (by name), or -1.</summary>
    public int IndexOf(SnapshotInfo snapshot) => Array.FindIndex(_snapshots, s => s.Name == snapshot?.Name);

    /// <summary>
    /// The newest snapshot of <paramref name="source"/> that <paramref name="target"/> also holds, matched by
    /// identity (never by name alone), with its counterpart on the target; null when they share none.
    /// </summary>
    public static (SnapshotInfo Source, SnapshotInfo Target)? FindCommonBase(SnapshotLineage source, SnapshotLineage target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        for (var i = source.Count - 1; i >= 0; i--)
        {
            var s = source[i];
            if (s.IsTemporary)
            {
                continue;
            }
            foreach (var t in target._snapshots)
            {
                if (!t.IsTemporary && t.IsSameAs(s))
                {
                    return (s, t);
                }
            }
        }
        return null;
    }

    /// <inheritdoc />
    public IEnumerator<SnapshotInfo> GetEnumerator() => ((IEnumerable<SnapshotInfo>)_snapshots).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
