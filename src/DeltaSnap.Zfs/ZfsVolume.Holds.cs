using DeltaSnap.Drivers;

namespace DeltaSnap.Zfs;

/// <summary>Holds: protecting the common base with the driver's hold tag (<c>zfs hold</c>/<c>zfs release</c>).</summary>
public sealed partial class ZfsVolume
{
    /// <summary>
    /// Protects <paramref name="snapshot"/> as the common base: holds it with <see cref="ZfsDriverOptions.HoldTag"/>
    /// and releases that tag from every other snapshot of this dataset. Refreshes do this on their own where
    /// the driver has <see cref="DriverCapabilities.ProtectBase"/>: the target after each received snapshot,
    /// the source after each send (keeping the base and the sent snapshot).
    /// </summary>
    /// <exception cref="NotSupportedException">The installed ZFS has no holds, or protection is turned off.</exception>
    public Task ProtectBaseAsync(string snapshot, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        if (!Driver.Has(DriverCapabilities.ProtectBase))
        {
            throw new NotSupportedException($"{Address}: the installed ZFS has no holds (or ZfsDriverOptions.BaseProtection is None), so the base cannot be protected.");
        }
        return ProtectAsync([snapshot], null, cancellationToken);
    }

    /// <summary>The snapshots of this dataset that carry at least one hold (any tag), by name.</summary>
    /// <exception cref="NotSupportedException">The installed ZFS has no holds.</exception>
    public async Task<IReadOnlyList<string>> GetHeldSnapshotsAsync(CancellationToken cancellationToken = default)
    {
        if (!Features.Holds)
        {
            throw new NotSupportedException($"{Address}: the installed ZFS has no holds.");
        }
        return (await ReadUserRefsAsync(cancellationToken).ConfigureAwait(false)).Where(p => p.Value > 0).Select(p => p.Key).ToArray();
    }

    /// <summary>Reads the hold counts and holds <paramref name="keep"/>; returns the counts, or null (logged) when either failed.</summary>
    private async Task<Dictionary<string, long>?> HoldForSendAsync(string[] keep, CancellationToken cancellationToken)
    {
        try
        {
            var userRefs = await ReadUserRefsAsync(cancellationToken).ConfigureAwait(false);
            await HoldAsync(keep, cancellationToken).ConfigureAwait(false);
            return userRefs;
        }
        catch (BackendCommandException e)
        {
            // A missing hold only weakens protection against other tools; the send goes on (and reports its own failure).
            Log.ProtectFailed(Logger, e, Dataset);
            return null;
        }
    }

    /// <summary>Releases this driver's hold tag from every snapshot of the dataset (before the dataset is destroyed).</summary>
    internal Task ReleaseAllOwnHoldsAsync(CancellationToken cancellationToken) =>
        Features.Holds ? ProtectAsync([], null, cancellationToken) : Task.CompletedTask;

    private async Task TryProtectAsync(IReadOnlyCollection<string> keep, IReadOnlyDictionary<string, long>? userRefs, CancellationToken cancellationToken)
    {
        try
        {
            await ProtectAsync(keep, userRefs, cancellationToken).ConfigureAwait(false);
        }
        catch (BackendCommandException e)
        {
            // The transfer itself succeeded; a missing hold only weakens protection against other tools.
            Log.ProtectFailed(Logger, e, Dataset);
        }
    }

    /// <summary>
    /// Holds the <paramref name="keep"/> snapshots with the driver's tag and releases it from all others.
    /// <paramref name="userRefs"/> are the snapshots' hold counts when the caller has just read them.
    /// </summary>
    private async Task ProtectAsync(IReadOnlyCollection<string> keep, IReadOnlyDictionary<string, long>? userRefs, CancellationToken cancellationToken)
    {
        userRefs ??= await ReadUserRefsAsync(cancellationToken).ConfigureAwait(false);
        // One `zfs hold` and one `zfs release` for all the snapshots (each command takes several), run together:
        // each waits for a transaction group to sync, and together they share one.
        var releases = userRefs.Where(p => p.Value > 0 && !keep.Contains(p.Key)).Select(p => p.Key).ToArray();
        await Task.WhenAll(HoldAsync(keep, cancellationToken), ReleaseAsync(releases, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Holds <paramref name="snapshots"/> with the driver's tag in one command; a snapshot that has the tag already is fine.</summary>
    private Task HoldAsync(IReadOnlyCollection<string> snapshots, CancellationToken cancellationToken) =>
        HoldOrReleaseAsync("hold", snapshots, static line => line.Contains("tag already exists", StringComparison.Ordinal), cancellationToken);

    /// <summary>Releases the driver's tag from <paramref name="snapshots"/> in one command; a snapshot without the tag, or gone, is fine.</summary>
    private Task ReleaseAsync(IReadOnlyCollection<string> snapshots, CancellationToken cancellationToken) =>
        HoldOrReleaseAsync("release", snapshots,
            static line => line.Contains("no such tag", StringComparison.Ordinal) || line.Contains("does not exist", StringComparison.Ordinal), cancellationToken);

    /// <summary>
    /// Runs <c>zfs hold|release TAG SNAPSHOT…</c>. The command handles each snapshot on its own (zfs-fuse and OpenZFS
    /// alike) and prints one line per snapshot it could not: the command fails only when a line is not
    /// <paramref name="harmless"/>.
    /// </summary>
    private async Task HoldOrReleaseAsync(string verb, IReadOnlyCollection<string> snapshots, Func<string, bool> harmless, CancellationToken cancellationToken)
    {
        if (snapshots.Count == 0)
        {
            return;
        }
        var tag = _driver.Options.HoldTag;
        List<string> arguments = [verb, tag];
        foreach (var snapshot in snapshots)
        {
            if (verb == "hold")
            {
                Log.Holding(Logger, FullName(snapshot), tag);
            }
            else
            {
                Log.Releasing(Logger, FullName(snapshot), tag);
            }
            arguments.Add(FullName(snapshot));
        }
        var result = await Zfs.TryRunAsync(arguments, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded && !result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).All(harmless))
        {
            result.ThrowIfFailed();
        }
    }

    private async Task<Dictionary<string, long>> ReadUserRefsAsync(CancellationToken cancellationToken)
    {
        var output = await Zfs.RunAsync(["get", "-H", "-p", "-r", "-d", "1", "-o", "name,value", "userrefs", Dataset], cancellationToken).ConfigureAwait(false);
        return ZfsProperties.ParseUserRefs(output, Dataset + "@");
    }
}
