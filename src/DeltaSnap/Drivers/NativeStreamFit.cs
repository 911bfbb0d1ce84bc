using DeltaSnap.Lineage;

namespace DeltaSnap.Drivers;

/// <summary>
/// The one decision whether a native stream fits the volume receiving it, made from the identities the driver read
/// from the stream's header and the target's lineage, before a byte reaches the backend. Every native driver used to
/// write it again with its own exception; <see cref="Volume.ReceiveAsync"/> now applies it for all of them.
/// </summary>
internal static class NativeStreamFit
{
    /// <summary>Throws <see cref="NativeStreamMismatchException"/> when the stream does not fit; returns the target base found in the lineage (null for a full stream).</summary>
    /// <param name="address">The receiving volume, for messages.</param>
    /// <param name="header">What the stream says it carries.</param>
    /// <param name="request">What the caller asked to receive, on top of which base.</param>
    /// <param name="lineage">The target's snapshots, oldest first.</param>
    /// <param name="canKeepSnapshotsAfterBase">The backend receives on top of a base that has newer snapshots (<see cref="DriverCapabilities.KeepSnapshotsAfterBase"/>).</param>
    public static SnapshotInfo? Check(string address, NativeStreamHeader header, NativeReceiveRequest request, SnapshotLineage lineage, bool canKeepSnapshotsAfterBase)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(lineage);
        var wanted = request.Snapshot;
        var latest = lineage.Latest?.Identity;
        var requestedBase = request.TargetBase?.Identity;

        // 1. The stream carries the snapshot asked for: by identity (the request's own or the one it was received
        //    from, where the kinds compare), and by name where the stream fixes the name.
        SnapshotIdentity[] candidates = [.. new[] { wanted.Identity, wanted.ReceivedFrom ?? default }.Where(i => !i.IsEmpty && i.Kind == header.To.Kind)];
        if (candidates.Length > 0 && !candidates.Any(i => Same(i, header.To)))
        {
            throw Mismatch(
                $"The stream into {address} carries snapshot {header.To}{Named(header.ToName)}, but the request is for '{wanted.Name}' ({string.Join(" or ", candidates)}).",
                header, requestedBase, latest);
        }
        if (header.ToName is { } toName && !string.Equals(toName, wanted.Name, StringComparison.Ordinal))
        {
            throw Mismatch(
                $"The stream into {address} creates snapshot '{Printable(toName)}' ({header.To}), but the request is for '{wanted.Name}'.",
                header, requestedBase, latest);
        }

        // 2. The name is free on the target.
        if (lineage.Find(wanted.Name) is { } existing)
        {
            throw Mismatch(
                $"{address} already has a snapshot named '{wanted.Name}' ({existing.Identity}); delete it before receiving {header.To}.",
                header, requestedBase, latest);
        }

        // 3. Full or incremental, as the request says.
        if (header.From is not { } from)
        {
            if (request.TargetBase is { } expected)
            {
                throw Mismatch(
                    $"The stream into {address} is a full stream, but the request expects an incremental from the target's '{expected.Name}' ({expected.Identity}).",
                    header, expected.Identity, latest);
            }
            return null;
        }
        if (request.TargetBase is not { } targetBase)
        {
            throw Mismatch(
                $"The stream into {address} is incremental from {from}{Named(header.FromName)}, but the request names no target base (a full stream was expected" +
                (lineage.Latest is { } newest ? $"; the target's newest is '{newest.Name}', {newest.Identity})." : ")."),
                header, null, latest);
        }

        // 4. The request's base is still the target's (same identity under that name) and is the stream's base.
        var local = lineage.Find(targetBase.Name);
        if (local is null || !Same(local.Identity, targetBase.Identity))
        {
            throw Mismatch(
                $"The stream into {address} is incremental from {from}, but the target " +
                (local is null ? $"has no snapshot '{targetBase.Name}' (the request's base)." : $"base '{targetBase.Name}' is now {local.Identity}, not the request's {targetBase.Identity}."),
                header, local?.Identity ?? targetBase.Identity, latest);
        }
        var streamBase = new SnapshotInfo(header.FromName ?? "base", from, DateTimeOffset.UnixEpoch) { ReceivedFrom = header.FromReceivedFrom };
        if (!IsSameAs(local, streamBase))
        {
            throw Mismatch(
                $"The stream into {address} is incremental from {from}{Named(header.FromName)}" +
                (header.FromReceivedFrom is { } fr ? $" (received from {fr})" : "") +
                $", but the target base '{local.Name}' is {local.Identity}" + (local.ReceivedFrom is { } r ? $", received from {r}." : "."),
                header, local.Identity, latest);
        }

        // 5. Nothing on the target is newer than the base (unless the backend keeps such snapshots: Btrfs).
        if (!canKeepSnapshotsAfterBase && lineage.Latest is { } last && last.Name != local.Name)
        {
            throw Mismatch(
                $"The stream into {address} is incremental from {from} ('{local.Name}'), but the target has newer snapshots (newest '{last.Name}', {last.Identity}); delete them first.",
                header, local.Identity, latest);
        }
        return local;
    }

    /// <summary>Equal identities: the same kind, and values equal ignoring case (UUIDs are written either way).</summary>
    internal static bool Same(SnapshotIdentity a, SnapshotIdentity b) =>
        !a.IsEmpty && !b.IsEmpty && string.Equals(a.Kind, b.Kind, StringComparison.Ordinal) && string.Equals(a.Value, b.Value, StringComparison.OrdinalIgnoreCase);

    /// <summary><see cref="SnapshotInfo.IsSameAs"/> with <see cref="Same"/>.</summary>
    private static bool IsSameAs(SnapshotInfo target, SnapshotInfo source) =>
        Same(target.Identity, source.Identity) ||
        (target.ReceivedFrom is { } from && (Same(from, source.Identity) || (source.ReceivedFrom is { } sourceFrom && Same(sourceFrom, from))));

    private static NativeStreamMismatchException Mismatch(string message, NativeStreamHeader header, SnapshotIdentity? targetBase, SnapshotIdentity? targetLatest) =>
        new(message + " Nothing was written.", header.From, header.To, targetBase, targetLatest);

    private static string Named(string? name) => name is null ? "" : $" ('{Printable(name)}')";

    private static string Printable(string text) => new([.. text.Take(80).Select(c => char.IsControl(c) ? '?' : c)]);
}
