using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lineage;

namespace DeltaSnap.Rsync;

/// <summary>
/// A <c>dir:</c> volume: the live tree is the directory itself; snapshot <c>S</c> is the read-only (by convention)
/// copy <c>.NAME.deltasnap/snapshots/S</c>, listed with its identity, time and origin in <c>catalog.json</c>.
/// </summary>
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
        var final = SnapshotPath(name);
        RemoveIfPresent(final); // a copy left by a crash before its catalog entry was written
        var partial = Path.Combine(SnapshotDirectory, ".partial-" + name);
        RemoveIfPresent(partial);
        var previous = entries.OrderByDescending(e => e.Sequence).Select(e => SnapshotPath(e.Name)).FirstOrDefault(Directory.Exists);
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
        Directory.Move(partial, final);
        var entry = SnapshotCatalog.NewEntry(name, options, entries, _driver.SnapshotMethod);
        entries.Add(entry);
        await _catalog.WriteAsync(entries, cancellationToken).ConfigureAwait(false);
        Log.SnapshotCopied(Logger, Address, name, entry.Method.ToString());
        return _catalog.ToInfo(entry, null);
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
    /// Makes the live tree equal to the snapshot with <c>rsync --delete</c> (changed files are replaced, not
    /// written in place, so the snapshot's files are never touched).
    /// </summary>
    protected override async Task RollbackCoreAsync(string name, CancellationToken cancellationToken)
    {
        var path = await RequireSnapshotAsync(name, cancellationToken).ConfigureAwait(false);
        var result = await RsyncPrograms.RunAsync(_driver.Rsync,
            ["--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids", "--sparse", "--delete", "--modify-window=-1", "--", path + "/", LivePath + "/"],
            Logger, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw RsyncPrograms.Failure(result, $"rolling {Address} back to {name}", isRsync: true);
        }
    }

    /// <inheritdoc />
    protected override async Task<string> GetPathCoreAsync(string? snapshot, CancellationToken cancellationToken) =>
        snapshot is null ? LivePath : await RequireSnapshotAsync(snapshot, cancellationToken).ConfigureAwait(false);

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
