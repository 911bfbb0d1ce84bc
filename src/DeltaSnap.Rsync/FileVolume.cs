using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Rsync;

/// <summary>
/// A <c>file:</c> volume: the image file itself is the live volume; snapshot <c>S</c> is the copy
/// <c>.NAME.deltasnap/snapshots/S.img</c> (reflink or sparse copy), listed in <c>catalog.json</c>.
/// </summary>
public sealed class FileVolume : Volume
{
    private readonly FileDriver _driver;
    private readonly SnapshotCatalog _catalog;

    internal FileVolume(FileDriver driver, string name)
        : base(driver, name, VolumeKind.Block)
    {
        _driver = driver;
        LivePath = Path.Combine(driver.RootDirectory, name);
        _catalog = new SnapshotCatalog(VolumeDirectoryLayout.MetadataDirectory(driver.RootDirectory, name), FileDriver.IdentityKind);
    }

    /// <inheritdoc />
    public override string Address => $"{FileDriver.SchemeName}:{LivePath}";

    /// <summary>The image file.</summary>
    public string LivePath { get; }

    private string SnapshotPath(string name) => Path.Combine(_catalog.MetadataDirectory, "snapshots", name + ".img");

    /// <inheritdoc />
    protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => Task.FromResult(new FileInfo(LivePath).Length);

    /// <inheritdoc />
    protected override Task ResizeCoreAsync(long size, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(LivePath, FileMode.Open, FileAccess.Write);
        RandomAccess.SetLength(handle, size);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override async Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken)
    {
        var entries = await _catalog.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new SnapshotLineage(entries.Where(e => File.Exists(SnapshotPath(e.Name))).OrderBy(e => e.Sequence)
            .Select(e => _catalog.ToInfo(e, new FileInfo(SnapshotPath(e.Name)).Length)));
    }

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken)
    {
        var entries = await _catalog.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (entries.Any(e => e.Name == name))
        {
            throw new DeltaSnapException($"Snapshot '{name}' of {Address} already exists.");
        }
        var final = SnapshotPath(name);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        var partial = final + ".partial";
        File.Delete(partial);
        SnapshotCopyMethod method;
        try
        {
            method = await FileCopy.CopyAsync(LivePath, partial, _driver.CanReflink, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Log.PartialCopyRemoving(Logger, Address, partial);
            File.Delete(partial);
            throw;
        }
        File.Move(partial, final, overwrite: true);
        var entry = SnapshotCatalog.NewEntry(name, options, entries, method);
        entries.Add(entry);
        await _catalog.WriteAsync(entries, cancellationToken).ConfigureAwait(false);
        Log.SnapshotCopied(Logger, Address, name, method.ToString());
        return _catalog.ToInfo(entry, new FileInfo(final).Length);
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
        File.Delete(SnapshotPath(name));
    }

    /// <summary>Replaces the image file by a copy (reflink or sparse) of the snapshot, through a rename.</summary>
    protected override async Task RollbackCoreAsync(string name, CancellationToken cancellationToken)
    {
        var path = await RequireSnapshotAsync(name, cancellationToken).ConfigureAwait(false);
        var replacement = Path.Combine(_catalog.MetadataDirectory, ".rollback.img");
        File.Delete(replacement);
        try
        {
            await FileCopy.CopyAsync(path, replacement, _driver.CanReflink, cancellationToken).ConfigureAwait(false);
            File.Move(replacement, LivePath, overwrite: true);
        }
        catch
        {
            File.Delete(replacement);
            throw;
        }
    }

    /// <inheritdoc />
    protected override async Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken)
    {
        var path = snapshot is null ? LivePath : await RequireSnapshotAsync(snapshot, cancellationToken).ConfigureAwait(false);
        return FileBlockDevice.Open(path, readOnly: !writable);
    }

    private async Task<string> RequireSnapshotAsync(string name, CancellationToken cancellationToken)
    {
        var entries = await _catalog.ReadAsync(cancellationToken).ConfigureAwait(false);
        var path = SnapshotPath(name);
        if (!entries.Any(e => e.Name == name) || !File.Exists(path))
        {
            throw new VolumeNotFoundException($"Snapshot '{name}' of {Address} does not exist.");
        }
        return path;
    }
}
