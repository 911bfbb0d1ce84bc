using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lineage;

namespace DeltaSnap.Rsync;

/// <summary>
/// A <c>dir:</c> volume: the live tree is the directory itself; snapshot <c>S</c> is the read-only (by convention)
/// copy <c>.NAME.deltasnap/snapshots/S</c>, listed with its identity, time and origin in <c>catalog.json</c>.
/// </summary>
/// <remarks>
/// Without reflinks, a refresh target receives each snapshot aside (<see cref="DriverCapabilities.StagedTrees"/>: one
/// <c>rsync --link-dest</c> into <c>.NAME.deltasnap/staging-…</c>, renamed into place when complete) and its live tree is
/// swapped in whole (<c>renameat2</c> with <c>RENAME_EXCHANGE</c>), sharing its files with the newest snapshot by hard
/// links, as hand-made <c>--link-dest</c> backups do; <c>live-shares-snapshot-files</c> in the metadata directory marks
/// such a volume, whose live tree is then never written in place (rollbacks swap in a new link tree too).
/// </remarks>
public sealed class DirVolume : Volume
{
    private readonly DirDriver _driver;
    private readonly SnapshotCatalog _catalog;

    internal DirVolume(DirDriver driver, string name)
        : base(driver, name, VolumeKind.Filesystem)
    {
        _driver = driver;
        LivePath = Path.Combine(driver.RootDirectory, name);
        _catalog = new SnapshotCatalog(VolumeDirectoryLayout.MetadataDirectory(driver.RootDirectory, name), DirDriver.IdentityKind);
    }

    /// <inheritdoc />
    public override string Address => $"{DirDriver.SchemeName}:{LivePath}";

    /// <summary>The live tree.</summary>
    public string LivePath { get; }

    private string SnapshotDirectory => Path.Combine(_catalog.MetadataDirectory, "snapshots");

    private string SnapshotPath(string name) => Path.Combine(SnapshotDirectory, name);

    /// <summary>Where a tree is received or built before it becomes a snapshot or the live tree (and where the old live tree goes to be removed).</summary>
    private const string StagingPrefix = "staging-";

    /// <summary>Present when the live tree may share files with snapshots (hard links): it is then never written in place.</summary>
    private string LiveSharesSnapshotFilesMarker => Path.Combine(_catalog.MetadataDirectory, "live-shares-snapshot-files");

    /// <summary>File system volumes report 0.</summary>
    protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => Task.FromResult(0L);

    /// <inheritdoc />
    protected override async Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken)
    {
        var entries = await _catalog.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new SnapshotLineage(entries.Where(e => Directory.Exists(SnapshotPath(e.Name))).OrderBy(e => e.Sequence).Select(e => _catalog.ToInfo(e, null)));
    }

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken)
    {
        var entries = await _catalog.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (entries.Any(e => e.Name == name))
        {
            throw new DeltaSnapException($"Snapshot '{name}' of {Address} already exists.");
        }
        Directory.CreateDirectory(SnapshotDirectory);
        RemoveIfPresent(SnapshotPath(name)); // a copy left by a crash before its catalog entry was written
        var partial = Path.Combine(SnapshotDirectory, ".partial-" + name);
        RemoveIfPresent(partial);
        var previous = entries.OrderByDescending(e => e.Sequence).Select(e => SnapshotPath(e.Name)).FirstOrDefault(Directory.Exists);
        // Read before the copy begins: a live tree with no entry changed since is equal to this snapshot.
        var clock = LinkedTrees.ReadClock(Path.Combine(_catalog.MetadataDirectory, "clock"));
        try
        {
            await CopyTreeAsync(LivePath, partial, previous, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Log.PartialCopyRemoving(Logger, Address, partial);
            RemoveIfPresent(partial);
            throw;
        }
        return await CommitSnapshotAsync(name, partial, options, entries, _driver.SnapshotMethod, clock, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Renames a complete copy into place, then records it in the catalog (a copy without its entry is removed by the next one of that name).</summary>
    private async Task<SnapshotInfo> CommitSnapshotAsync(string name, string copy, SnapshotCreateOptions options, List<CatalogEntry> entries, SnapshotCopyMethod method,
        long? liveClock, CancellationToken cancellationToken)
    {
        var final = SnapshotPath(name);
        RemoveIfPresent(final); // a copy left by a crash before its catalog entry was written
        Directory.Move(copy, final);
        var entry = SnapshotCatalog.NewEntry(name, options, entries, method) with { LiveClock = liveClock };
        entries.Add(entry);
        await _catalog.WriteAsync(entries, cancellationToken).ConfigureAwait(false);
        Log.SnapshotCopied(Logger, Address, name, entry.Method.ToString());
        return _catalog.ToInfo(entry, null);
    }

    /// <summary>
    /// Has the tree written into a fresh staging directory beside the snapshots, hard-linking from the newest snapshot;
    /// then renames it into place as snapshot <paramref name="snapshot"/>, or swaps it in as the live tree. Staging
    /// directories that a killed refresh left are removed first; a failed write removes its own.
    /// </summary>
    protected override async Task<SnapshotInfo?> ReceiveTreeCoreAsync(string? snapshot, SnapshotCreateOptions options, Func<TreeStaging, CancellationToken, Task> write,
        CancellationToken cancellationToken)
    {
        var entries = await _catalog.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (snapshot is not null && entries.Any(e => e.Name == snapshot))
        {
            throw new DeltaSnapException($"Snapshot '{snapshot}' of {Address} already exists.");
        }
        var staging = NewStaging();
        var previous = entries.OrderByDescending(e => e.Sequence).Select(e => SnapshotPath(e.Name)).FirstOrDefault(Directory.Exists);
        try
        {
            await write(new TreeStaging(staging, previous), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Log.PartialCopyRemoving(Logger, Address, staging);
            RemoveIfPresent(staging);
            throw;
        }
        if (snapshot is not null)
        {
            Directory.CreateDirectory(SnapshotDirectory);
            return await CommitSnapshotAsync(snapshot, staging, options, entries, SnapshotCopyMethod.HardLinkTree, null, cancellationToken).ConfigureAwait(false);
        }
        await ReplaceLiveTreeAsync(staging, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>Removes staging directories left by killed refreshes, and makes a fresh one.</summary>
    private string NewStaging()
    {
        Directory.CreateDirectory(_catalog.MetadataDirectory);
        foreach (var leftover in Directory.EnumerateDirectories(_catalog.MetadataDirectory, StagingPrefix + "*"))
        {
            Log.PartialCopyRemoving(Logger, Address, leftover);
            RemoveIfPresent(leftover);
        }
        var staging = Path.Combine(_catalog.MetadataDirectory, StagingPrefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(staging);
        return staging;
    }

    /// <summary>
    /// <c>cp -a MODE TREE</c> into a fresh staging directory, returned; removed again when the copy fails
    /// (<paramref name="what"/> names the copy in the error).
    /// </summary>
    private async Task<string> CopyToStagingAsync(string tree, string mode, string what, CancellationToken cancellationToken)
    {
        var staging = NewStaging();
        try
        {
            Directory.Delete(staging);
            var copy = await RsyncPrograms.RunAsync(_driver.Cp, ["-a", mode, "--no-target-directory", "--", tree, staging], Logger, cancellationToken).ConfigureAwait(false);
            if (!copy.Succeeded)
            {
                throw RsyncPrograms.Failure(copy, what, isRsync: false);
            }
            return staging;
        }
        catch
        {
            RemoveIfPresent(staging);
            throw;
        }
    }

    /// <summary>
    /// Makes the complete tree <paramref name="staging"/> the live tree: swapped in atomically, the old tree then removed.
    /// Where the two cannot be swapped (the live tree is a mount point or on another file system, which also means it
    /// cannot share files with the snapshots), it is copied into the live tree instead.
    /// </summary>
    private async Task ReplaceLiveTreeAsync(string staging, CancellationToken cancellationToken)
    {
        // Marked before the swap, so that a crash right after it still finds the live tree marked.
        if (!File.Exists(LiveSharesSnapshotFilesMarker))
        {
            await File.WriteAllBytesAsync(LiveSharesSnapshotFilesMarker, [], cancellationToken).ConfigureAwait(false);
        }
        if (!LinkedTrees.TryExchange(staging, LivePath))
        {
            var result = await RsyncPrograms.RunAsync(_driver.Rsync,
                ["--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids", "--sparse", "--delete", "--modify-window=-1", "--", staging + "/", LivePath + "/"],
                Logger, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                throw RsyncPrograms.Failure(result, $"copying the received tree into the live tree of {Address}", isRsync: true);
            }
        }
        // Now the old live tree (or the copied one): not part of the volume any more.
        RemoveIfPresent(staging);
    }

    /// <inheritdoc />
    protected override async Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken)
    {
        var entries = await _catalog.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (entries.RemoveAll(e => e.Name == name) == 0)
        {
            throw new VolumeNotFoundException($"Snapshot '{name}' of {Address} does not exist.");
        }
        await _catalog.WriteAsync(entries, cancellationToken).ConfigureAwait(false);
        RemoveIfPresent(SnapshotPath(name));
    }

    /// <summary>
    /// Makes the live tree equal to the snapshot. A live tree that shares files with snapshots is left alone when it
    /// still is a linked copy of this one, and otherwise replaced by a new linked copy (never written in place); any
    /// other live tree is updated with <c>rsync --delete</c> (changed files are replaced, not written in place, so the
    /// snapshot's files are never touched).
    /// </summary>
    protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken) =>
        RestoreAsync(name, linked: File.Exists(LiveSharesSnapshotFilesMarker), justReceived: false, cancellationToken);

    /// <summary>
    /// Makes a received snapshot the live tree: on a volume that receives trees aside (no reflinks), a linked copy
    /// swapped in, as a received live state is (so the live tree shares the snapshot's files); otherwise a rollback.
    /// </summary>
    protected override Task PromoteCoreAsync(string snapshot, CancellationToken cancellationToken) =>
        Driver.Has(DriverCapabilities.StagedTrees)
            ? RestoreAsync(snapshot, linked: true, justReceived: true, cancellationToken)
            : RestoreAsync(snapshot, File.Exists(LiveSharesSnapshotFilesMarker), justReceived: false, cancellationToken);

    /// <summary>
    /// Makes the live tree equal to snapshot <paramref name="name"/>: a linked copy swapped in (<paramref name="linked"/>;
    /// no comparison first when the snapshot was <paramref name="justReceived"/>, which the live tree cannot be a copy of),
    /// or rsync into the live tree.
    /// </summary>
    private async Task RestoreAsync(string name, bool linked, bool justReceived, CancellationToken cancellationToken)
    {
        var path = await RequireSnapshotAsync(name, cancellationToken).ConfigureAwait(false);
        if (linked)
        {
            if (!justReceived && File.Exists(LiveSharesSnapshotFilesMarker) && LinkedTrees.IsLinkedCopy(LivePath, path, cancellationToken))
            {
                return;
            }
            // cp -al: directories made with their modes, owners, times, xattrs and ACLs; everything else hard-linked.
            var staging = await CopyToStagingAsync(path, "--link", $"linking a copy of snapshot {name} of {Address}", cancellationToken).ConfigureAwait(false);
            await ReplaceLiveTreeAsync(staging, cancellationToken).ConfigureAwait(false);
            return;
        }
        var result = await RsyncPrograms.RunAsync(_driver.Rsync,
            ["--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids", "--sparse", "--delete", "--modify-window=-1", "--", path + "/", LivePath + "/"],
            Logger, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw RsyncPrograms.Failure(result, $"rolling {Address} back to {name}", isRsync: true);
        }
    }

    /// <summary>
    /// True when no entry of the live tree changed since the snapshot was copied from it (change times older than the
    /// clock read before the copy began), or when the live tree shares its files with snapshots and still is a linked
    /// copy of this one. (Assumes the wall clock is not set back meanwhile.)
    /// </summary>
    protected override async Task<bool> IsLiveStateUnchangedCoreAsync(string snapshot, CancellationToken cancellationToken)
    {
        var entries = await _catalog.ReadAsync(cancellationToken).ConfigureAwait(false);
        var entry = entries.FirstOrDefault(e => e.Name == snapshot);
        var path = SnapshotPath(snapshot);
        if (entry is null || !Directory.Exists(path))
        {
            return false;
        }
        if (entry.LiveClock is { } clock && LinkedTrees.IsUnchangedSince(LivePath, clock, cancellationToken))
        {
            return true;
        }
        return File.Exists(LiveSharesSnapshotFilesMarker) && LinkedTrees.IsLinkedCopy(LivePath, path, cancellationToken);
    }

    /// <summary>
    /// A snapshot's tree, or the live tree. The caller may write the live tree (a pull's rsync, a server's
    /// <c>rsync --server</c>, a program restoring the replica), and rsync changes a file's mode, owner or times in place:
    /// so a live tree that shares files with snapshots is first replaced by a copy of its own (a full copy, once), and
    /// the snapshots stay as they were. The refresh's own staged flow never asks for it. (<see cref="LivePath"/> is the
    /// directory itself, as it is.)
    /// </summary>
    protected override async Task<string> GetPathCoreAsync(string? snapshot, CancellationToken cancellationToken)
    {
        if (snapshot is not null)
        {
            return await RequireSnapshotAsync(snapshot, cancellationToken).ConfigureAwait(false);
        }
        if (File.Exists(LiveSharesSnapshotFilesMarker))
        {
            await UnshareLiveTreeAsync(cancellationToken).ConfigureAwait(false);
        }
        return LivePath;
    }

    /// <summary>
    /// Replaces a live tree that shares files with snapshots by a copy of its own (<c>cp -a</c>, reflinks where the file
    /// system has them), swapped in atomically; the marker goes only after the swap, so a crash leaves at worst a
    /// copy done twice.
    /// </summary>
    private async Task UnshareLiveTreeAsync(CancellationToken cancellationToken)
    {
        var staging = await CopyToStagingAsync(LivePath, "--reflink=auto", $"copying the live tree of {Address} apart from its snapshots' files", cancellationToken)
            .ConfigureAwait(false);
        try
        {
            // A live tree that cannot be swapped (a mount point, another file system) was copied into, never linked.
            LinkedTrees.TryExchange(staging, LivePath);
        }
        finally
        {
            RemoveIfPresent(staging);
        }
        File.Delete(LiveSharesSnapshotFilesMarker);
    }

    private async Task<string> RequireSnapshotAsync(string name, CancellationToken cancellationToken)
    {
        var entries = await _catalog.ReadAsync(cancellationToken).ConfigureAwait(false);
        var path = SnapshotPath(name);
        if (!entries.Any(e => e.Name == name) || !Directory.Exists(path))
        {
            throw new VolumeNotFoundException($"Snapshot '{name}' of {Address} does not exist.");
        }
        return path;
    }

    private async Task CopyTreeAsync(string source, string destination, string? previousSnapshot, CancellationToken cancellationToken)
    {
        ExternalCommandResult result;
        bool isRsync;
        if (_driver.CanReflink)
        {
            // cp -a keeps hard links, links, modes, owners, times, xattrs and ACLs; --reflink=always fails rather than copy data.
            isRsync = false;
            result = await RsyncPrograms.RunAsync(_driver.Cp, ["-a", "--reflink=always", "--no-target-directory", "--", source, destination],
                Logger, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            List<string> arguments = ["--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids", "--sparse", "--modify-window=-1"];
            if (previousSnapshot is not null)
            {
                arguments.Add("--link-dest=" + previousSnapshot);
            }
            arguments.AddRange(["--", source + "/", destination + "/"]);
            isRsync = true;
            result = await RsyncPrograms.RunAsync(_driver.Rsync, arguments, Logger, cancellationToken).ConfigureAwait(false);
        }
        if (!result.Succeeded)
        {
            throw RsyncPrograms.Failure(result, $"copying {source} to the snapshot directory {destination}", isRsync);
        }
    }

    private static void RemoveIfPresent(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
