namespace DeltaSnap.Lineage;

/// <summary>
/// Decides a refresh from the source's and the target's lineages (pure logic, no I/O), the way Incus's
/// refresh copy does and with the fixes its users asked for: the base is found by identity, a target that
/// shares nothing is never wiped silently, leftovers of interrupted refreshes are cleaned up.
/// </summary>
public static class RefreshPlanner
{
    /// <summary>Plans a refresh of <paramref name="target"/> from <paramref name="source"/>.</summary>
    /// <param name="source">The source volume's lineage.</param>
    /// <param name="target">The target volume's lineage.</param>
    /// <param name="options">Choices; null for the defaults.</param>
    /// <param name="canKeepSnapshotsAfterBase">Whether the target's backend can keep snapshots newer than the base while receiving (ZFS cannot).</param>
    /// <exception cref="NoCommonBaseException">Both sides have snapshots but share none, and <see cref="RefreshPlanOptions.AllowFullResend"/> is off.</exception>
    public static RefreshPlan Plan(SnapshotLineage source, SnapshotLineage target, RefreshPlanOptions? options = null, bool canKeepSnapshotsAfterBase = false)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        options ??= new RefreshPlanOptions();
        var sourceLeftovers = source.Temporary;
        var targetLeftovers = target.Temporary;
        var sourceSnapshots = source.WithoutTemporary();
        var targetSnapshots = target.WithoutTemporary();
        var captureLive = !options.SnapshotsOnly;

        var common = SnapshotLineage.FindCommonBase(sourceSnapshots, targetSnapshots);
        if (common is null)
        {
            if (targetSnapshots.Count > 0 && !options.AllowFullResend)
            {
                throw new NoCommonBaseException(
                    $"The source and the target both have snapshots but share none (target has {targetSnapshots.Count}, newest '{targetSnapshots.Latest!.Name}'). " +
                    "Refusing to overwrite the target; delete it and copy again, or allow a full resend.");
            }
            var toSend = Filter(sourceSnapshots.ToList(), targetSnapshots, options);
            return new RefreshPlan
            {
                Kind = RefreshKind.Full,
                TargetSnapshotsToDelete = targetSnapshots.Reverse().ToArray(),
                SnapshotsToSend = toSend,
                CaptureLiveState = captureLive || toSend.Count == 0,
                SourceLeftovers = sourceLeftovers,
                TargetLeftovers = targetLeftovers,
            };
        }

        var (sourceBase, targetBase) = common.Value;
        var baseIndex = targetSnapshots.IndexOf(targetBase);
        var keep = options.KeepTargetOnlySnapshots && canKeepSnapshotsAfterBase;
        var toDelete = keep
            ? []
            : targetSnapshots.Skip(baseIndex + 1).Reverse().ToArray();
        var newer = sourceSnapshots.Skip(sourceSnapshots.IndexOf(sourceBase) + 1).ToList();
        var send = Filter(newer, targetSnapshots, options);
        var upToDate = send.Count == 0 && !captureLive && toDelete.Length == 0;
        return new RefreshPlan
        {
            Kind = upToDate ? RefreshKind.UpToDate : RefreshKind.Incremental,
            SourceBase = sourceBase,
            TargetBase = targetBase,
            TargetSnapshotsToDelete = toDelete,
            RollBackTargetToBase = !upToDate && !keep,
            SnapshotsToSend = send,
            CaptureLiveState = captureLive,
            SourceLeftovers = sourceLeftovers,
            TargetLeftovers = targetLeftovers,
        };
    }

    private static List<SnapshotInfo> Filter(List<SnapshotInfo> candidates, SnapshotLineage target, RefreshPlanOptions options)
    {
        if (options.OnlyNewerThanTargetLatest && target.Latest is { } latest)
        {
            return candidates.Where(s => s.CreatedUtc > latest.CreatedUtc).ToList();
        }
        return candidates;
    }
}

/// <summary>A refresh was refused: both sides have snapshots but share none, so an incremental is impossible and a full send would destroy the target.</summary>
public sealed class NoCommonBaseException : DeltaSnapException
{
    /// <summary>Creates the exception.</summary>
    public NoCommonBaseException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NoCommonBaseException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public NoCommonBaseException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
