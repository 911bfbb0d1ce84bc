using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Rsync;

/// <summary>
/// <c>file:/PATH</c> volumes: a sparse image file as a block volume, so that the checksum route joins lvol, RBD and
/// image files. A volume <c>ROOT/NAME</c> keeps its snapshots and catalog in <c>ROOT/.NAME.deltasnap</c>; snapshots
/// are reflink copies where the file system supports FICLONE, full sparse copies (SEEK_DATA/SEEK_HOLE) otherwise
/// (<see cref="SnapshotMethod"/>, also recorded per snapshot in the catalog).
/// </summary>
public sealed class FileDriver : VolumeDriver
{
    /// <summary>The scheme, <c>file</c>.</summary>
    public const string SchemeName = "file";

    /// <summary>The identity kind of file snapshots (a GUID recorded in the catalog).</summary>
    public const string IdentityKind = "file-id";

    /// <summary>Creates a driver whose volumes are the image files in <paramref name="rootDirectory"/>.</summary>
    /// <exception cref="ArgumentException">The root is not an absolute path, or holds control characters or a <c>..</c> component.</exception>
    public FileDriver(string rootDirectory, ILoggerFactory? loggerFactory = null)
        : base(SchemeName, loggerFactory)
    {
        RootDirectory = VolumeDirectoryLayout.ValidateRoot(rootDirectory);
        CanReflink = Directory.Exists(RootDirectory) && FileCopy.CanReflink(RootDirectory);
    }

    /// <summary>The directory holding the image files.</summary>
    public string RootDirectory { get; }

    /// <summary>Whether the root's file system can reflink (FICLONE).</summary>
    public bool CanReflink { get; }

    /// <summary>How snapshots are made: <see cref="SnapshotCopyMethod.Reflink"/> or <see cref="SnapshotCopyMethod.SparseCopy"/>.</summary>
    public SnapshotCopyMethod SnapshotMethod => CanReflink ? SnapshotCopyMethod.Reflink : SnapshotCopyMethod.SparseCopy;

    /// <inheritdoc />
    public override DriverCapabilities Capabilities => DriverCapabilities.BlockVolumes | DriverCapabilities.Resize;

    /// <inheritdoc />
    public override NameRules VolumeNameRules => VolumeDirectoryLayout.VolumeNames;


    /// <inheritdoc />
    protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>(Directory.Exists(RootDirectory)
            ? Directory.GetFiles(RootDirectory).Select(p => Path.GetFileName(p)!).Where(n => n.Length > 0 && n[0] != '.').Order(StringComparer.Ordinal).ToArray()
            : []);

    /// <inheritdoc />
    protected override Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken)
    {
        VolumeDirectoryLayout.ValidateVolumeName(name);
        return Task.FromResult(File.Exists(Path.Combine(RootDirectory, name)));
    }

    /// <inheritdoc />
    protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        VolumeDirectoryLayout.ValidateVolumeName(name);
        var path = Path.Combine(RootDirectory, name);
        return File.Exists(path)
            ? Task.FromResult<Volume>(new FileVolume(this, name))
            : throw new VolumeNotFoundException($"There is no image file {path} (volume file:{path}).");
    }

    /// <inheritdoc />
    protected override async Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken)
    {
        VolumeDirectoryLayout.ValidateVolumeName(name);
        var path = Path.Combine(RootDirectory, name);
        if (Path.Exists(path))
        {
            throw new DeltaSnapException($"Cannot create volume file:{path}: it already exists.");
        }
        Directory.CreateDirectory(Path.Combine(VolumeDirectoryLayout.MetadataDirectory(RootDirectory, name), "snapshots"));
        await FileBlockDevice.Create(path, options.Size).DisposeAsync().ConfigureAwait(false);
        return new FileVolume(this, name);
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
        File.Delete(Path.Combine(RootDirectory, name));
        return Task.CompletedTask;
    }
}
