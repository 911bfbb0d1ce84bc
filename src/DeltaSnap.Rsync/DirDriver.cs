using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Rsync;

/// <summary>
/// <c>dir:/PATH</c> volumes: plain directory trees (like Incus's dir driver), so that a server with no ZFS or Btrfs
/// can be a source or a target of the rsync route. A volume <c>ROOT/NAME</c> keeps its snapshots and catalog in
/// <c>ROOT/.NAME.deltasnap</c>; snapshots are copies that share unchanged files with the volume (reflinks where the
/// file system can) or with the previous snapshot (hard links, <c>rsync --link-dest</c>), never with the live tree.
/// </summary>
public sealed class DirDriver : VolumeDriver
{
    /// <summary>The scheme, <c>dir</c>.</summary>
    public const string SchemeName = "dir";

    /// <summary>The identity kind of dir snapshots (a GUID recorded in the catalog).</summary>
    public const string IdentityKind = "dir-id";

    /// <summary>Creates a driver whose volumes are the directories below <paramref name="rootDirectory"/>.</summary>
    /// <exception cref="ArgumentException">The root is not an absolute path, or holds control characters or a <c>..</c> component.</exception>
    public DirDriver(string rootDirectory, ILoggerFactory? loggerFactory = null)
        : base(SchemeName, loggerFactory)
    {
        RootDirectory = VolumeDirectoryLayout.ValidateRoot(rootDirectory);
        CanReflink = Directory.Exists(RootDirectory) && FileCopy.CanReflink(RootDirectory);
        Rsync = RsyncPrograms.CreateRunner("rsync", Logger);
        Cp = RsyncPrograms.CreateRunner("cp", Logger);
    }

    /// <summary>The directory holding the volumes.</summary>
    public string RootDirectory { get; }

    /// <summary>Whether the root's file system can reflink: then snapshots are reflink copies and the volumes are copy-on-write targets.</summary>
    public bool CanReflink { get; }

    /// <summary>How snapshots of this driver's volumes are made.</summary>
    public SnapshotCopyMethod SnapshotMethod => CanReflink ? SnapshotCopyMethod.Reflink : SnapshotCopyMethod.HardLinkTree;

    /// <inheritdoc />
    public override DriverCapabilities Capabilities =>
        DriverCapabilities.FilesystemVolumes | DriverCapabilities.LiveStateComparison
        | (CanReflink ? DriverCapabilities.CopyOnWriteTarget : DriverCapabilities.StagedTrees);

    /// <inheritdoc />
    public override NameRules VolumeNameRules => VolumeDirectoryLayout.VolumeNames;

    /// <summary>The runner for <c>rsync</c> (rollbacks, hard-link snapshots).</summary>
    internal ExternalCommandRunner Rsync { get; }

    /// <summary>The runner for <c>cp</c> (reflink snapshots).</summary>
    internal ExternalCommandRunner Cp { get; }

    /// <inheritdoc />
    protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>(Directory.Exists(RootDirectory)
            ? Directory.GetDirectories(RootDirectory).Select(p => Path.GetFileName(p)!).Where(n => n.Length > 0 && n[0] != '.').Order(StringComparer.Ordinal).ToArray()
            : []);

    /// <inheritdoc />
    protected override Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken)
    {
        VolumeDirectoryLayout.ValidateVolumeName(name);
        return Task.FromResult(Directory.Exists(Path.Combine(RootDirectory, name)));
    }

    /// <inheritdoc />
    protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        VolumeDirectoryLayout.ValidateVolumeName(name);
        var path = Path.Combine(RootDirectory, name);
        return Directory.Exists(path)
            ? Task.FromResult<Volume>(new DirVolume(this, name))
            : throw new VolumeNotFoundException($"There is no directory {path} (volume dir:{path}).");
    }

    /// <inheritdoc />
    protected override Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken)
    {
        VolumeDirectoryLayout.ValidateVolumeName(name);
        var path = Path.Combine(RootDirectory, name);
        if (Path.Exists(path))
        {
            throw new DeltaSnapException($"Cannot create volume dir:{path}: it already exists.");
        }
        Directory.CreateDirectory(path);
        Directory.CreateDirectory(Path.Combine(VolumeDirectoryLayout.MetadataDirectory(RootDirectory, name), "snapshots"));
        return Task.FromResult<Volume>(new DirVolume(this, name));
    }

    /// <inheritdoc />
    protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        VolumeDirectoryLayout.ValidateVolumeName(name);
        var metadata = VolumeDirectoryLayout.MetadataDirectory(RootDirectory, name);
        if (Directory.Exists(metadata))
        {
            Directory.Delete(metadata, recursive: true);
        }
        var path = Path.Combine(RootDirectory, name);
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        return Task.CompletedTask;
    }
}
