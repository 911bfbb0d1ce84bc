using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Btrfs;

/// <summary>
/// Btrfs subvolumes as DeltaSnap volumes, through the <c>btrfs</c> command. The driver is rooted at a
/// directory on a Btrfs file system: each volume is a subvolume directly in that directory, named by its
/// directory entry (<c>btrfs:/mnt/data/vm1</c> is volume <c>vm1</c> of the driver rooted at <c>/mnt/data</c>).
/// Its read-only snapshots are subvolumes in <c>ROOT/.deltasnap-snapshots/VOLUME/SNAPSHOT</c> (see
/// <see cref="BtrfsDriverOptions.SnapshotDirectory"/>). Refresh is native: <c>btrfs send -p</c> into
/// <c>btrfs receive</c>, with the stream checked against the target's base before anything is written.
/// </summary>
public sealed class BtrfsDriver : VolumeDriver
{
    /// <summary>The URI scheme of Btrfs volume addresses.</summary>
    public const string SchemeName = "btrfs";

    /// <summary>The identity kind of Btrfs snapshots: the value is the subvolume UUID as <c>btrfs subvolume show</c> prints it.</summary>
    public const string IdentityKind = "btrfs-uuid";

    /// <summary>Names of the driver's own entries start with this in the root and in snapshot directories; volumes and snapshots may not.</summary>
    internal const string ReservedPrefix = ".";

    internal static readonly NameRules VolumeNames = new() { AllowSlash = false };

    /// <summary>Creates a driver over the volumes in <paramref name="rootDirectory"/>.</summary>
    /// <param name="rootDirectory">The directory holding the volumes' subvolumes, on a Btrfs file system.</param>
    /// <param name="options">Layout and program; null for the defaults.</param>
    /// <param name="loggerFactory">Where to log; null for no logging.</param>
    /// <exception cref="ArgumentException">The root directory is empty or the options are not usable.</exception>
    public BtrfsDriver(string rootDirectory, BtrfsDriverOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(SchemeName, loggerFactory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rootDirectory);
        Options = options ?? new BtrfsDriverOptions();
        Options.Validate();
        RootDirectory = Normalize(rootDirectory);
        SnapshotRoot = Normalize(Path.Combine(RootDirectory, Options.SnapshotDirectory));
        if (SnapshotRoot == RootDirectory)
        {
            throw new ArgumentException("The snapshot directory must not be the root directory itself.", nameof(options));
        }
        Commands = new ExternalCommandRunner(Options.Program, Logger, CommandEvents, environment: [new("TZ", "UTC")]);
    }

    /// <summary>The directory holding the volumes.</summary>
    public string RootDirectory { get; }

    /// <summary>The directory holding one snapshot directory per volume.</summary>
    public string SnapshotRoot { get; }

    /// <summary>The options the driver was created with.</summary>
    public BtrfsDriverOptions Options { get; }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities =>
        DriverCapabilities.FilesystemVolumes | DriverCapabilities.NativeStream | DriverCapabilities.RenameSnapshots |
        DriverCapabilities.KeepSnapshotsAfterBase | DriverCapabilities.CopyOnWriteTarget | DriverCapabilities.LiveStateComparison |
        DriverCapabilities.ReproducibleNativeStream | DriverCapabilities.NativeReceiveLeavesLiveState;

    /// <summary>Btrfs's own stream (<c>btrfs send</c>): <see cref="DeltaSnap.Delta.DeltaStreamPayloadKind.BtrfsSend"/>.</summary>
    public override DeltaSnap.Delta.DeltaStreamPayloadKind NativePayloadKind => DeltaSnap.Delta.DeltaStreamPayloadKind.BtrfsSend;

    /// <summary>Volume names are single directory entries: no <c>/</c>.</summary>
    public override NameRules VolumeNameRules => VolumeNames;

    /// <summary>Runs <c>btrfs</c> (C locale, times in UTC) through the shared runner and its streaming relay.</summary>
    internal ExternalCommandRunner Commands { get; }

    private static readonly ExternalCommandEvents CommandEvents = new()
    {
        Starting = Log.CommandStarting,
        Finished = static (logger, result, elapsed, bytes) => Log.CommandFinished(logger, result.CommandLine, result.ExitCode, elapsed.TotalMilliseconds, bytes),
    };

    /// <inheritdoc />
    protected override async Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(RootDirectory))
        {
            return [];
        }
        var candidates = new DirectoryInfo(RootDirectory).EnumerateDirectories()
            .Where(d => d.LinkTarget is null && !d.Name.StartsWith(ReservedPrefix, StringComparison.Ordinal) && Normalize(d.FullName) != SnapshotRoot)
            .Select(d => d.Name)
            .Where(IsAcceptableName)
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToArray();
        var infos = await ShowManyAsync(candidates.Select(n => Path.Combine(RootDirectory, n)).ToArray(), cancellationToken).ConfigureAwait(false);
        return candidates.Where((_, i) => infos[i] is not null).ToArray();

        bool IsAcceptableName(string name)
        {
            try
            {
                VolumeNameRules.Validate(name);
                return true;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }
    }

    /// <inheritdoc />
    protected override async Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        var volume = CreateVolumeObject(name);
        if (await TryShowAsync(volume.LivePath, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new VolumeNotFoundException($"There is no Btrfs subvolume at {volume.LivePath} (volume {Scheme}:{volume.LivePath}).");
        }
        return volume;
    }

    /// <inheritdoc />
    protected override async Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken)
    {
        var volume = CreateVolumeObject(name);
        return await TryShowAsync(volume.LivePath, cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <inheritdoc />
    protected override async Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken)
    {
        var volume = CreateVolumeObject(name);
        if (Path.Exists(volume.LivePath))
        {
            throw new DeltaSnapException($"Cannot create Btrfs volume {volume.LivePath}: the path already exists.");
        }
        if (!Directory.Exists(RootDirectory))
        {
            throw new VolumeNotFoundException($"Cannot create Btrfs volume {volume.LivePath}: the directory {RootDirectory} does not exist.");
        }
        await Commands.RunAsync(["-q", "subvolume", "create", volume.LivePath], cancellationToken).ConfigureAwait(false);
        return volume;
    }

    /// <inheritdoc />
    protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken) =>
        CreateVolumeObject(name).DeleteAsync(cancellationToken);

    /// <summary>The volume object for a validated name, its paths checked (no traversal, no symbolic links).</summary>
    internal BtrfsVolume CreateVolumeObject(string name)
    {
        RejectReserved(name, "volume name");
        var live = ChildPath(RootDirectory, name, "volume");
        var snapshots = ChildPath(SnapshotRoot, name, "volume's snapshot directory");
        if (live == SnapshotRoot || SnapshotRoot.StartsWith(live + "/", StringComparison.Ordinal))
        {
            throw new ArgumentException($"The volume name '{name}' is the snapshot directory's.", nameof(name));
        }
        return new BtrfsVolume(this, name, live, snapshots);
    }

    /// <summary>Rejects names the driver reserves for its own entries (a leading '.').</summary>
    internal static void RejectReserved(string name, string what)
    {
        if (name.StartsWith(ReservedPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The {what} '{name}' starts with '{ReservedPrefix}', which DeltaSnap reserves for its own entries.", nameof(name));
        }
    }

    /// <summary>
    /// <paramref name="parent"/>/<paramref name="name"/>, resolved and checked to be a direct child of the parent
    /// (no traversal) and not a symbolic link (which could point out of it).
    /// </summary>
    internal static string ChildPath(string parent, string name, string what)
    {
        var full = Normalize(Path.Combine(parent, name));
        if (Path.GetDirectoryName(full) != parent || Path.GetFileName(full) != name)
        {
            throw new ArgumentException($"The {what} name '{name}' leads out of {parent}.", nameof(name));
        }
        var info = new FileInfo(full);
        if (info.Exists || Directory.Exists(full))
        {
            if (info.LinkTarget is not null || new DirectoryInfo(full).LinkTarget is not null)
            {
                throw new ArgumentException($"The {what} path {full} is a symbolic link; DeltaSnap follows none.", nameof(name));
            }
        }
        return full;
    }

    /// <summary>Reads a subvolume's information (the ioctl, else <c>btrfs subvolume show</c>); null when the path does not exist or is not a subvolume.</summary>
    internal async Task<BtrfsSubvolumeInfo?> TryShowAsync(string path, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(path))
        {
            return null;
        }
        if (Options.ReadSubvolumeInfoDirectly)
        {
            switch (SubvolumeInfoIoctl.TryRead(path, out var direct))
            {
                case SubvolumeInfoIoctl.Outcome.Subvolume:
                    return direct;
                case SubvolumeInfoIoctl.Outcome.NotSubvolume:
                    return null;
                default:
                    break;
            }
        }
        var result = await Commands.TryRunAsync(["subvolume", "show", path], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return IsNotSubvolume(result) ? null : throw result.ToException();
        }
        try
        {
            return BtrfsSubvolumeInfo.Parse(result.StandardOutput);
        }
        catch (FormatException e)
        {
            throw new DeltaSnapException($"Could not read `btrfs subvolume show {path}`: {e.Message}", e);
        }
    }

    /// <summary>Runs <see cref="TryShowAsync"/> for several paths, a few at a time; results in the same order.</summary>
    internal async Task<BtrfsSubvolumeInfo?[]> ShowManyAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var results = new BtrfsSubvolumeInfo?[paths.Count];
        await Parallel.ForAsync(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = Options.LineageParallelism, CancellationToken = cancellationToken },
            async (i, ct) => results[i] = await TryShowAsync(paths[i], ct).ConfigureAwait(false)).ConfigureAwait(false);
        return results;
    }

    private static bool IsNotSubvolume(ExternalCommandResult e) =>
        e.ExitCode > 0 && (e.StandardError.Contains("not a btrfs subvolume", StringComparison.OrdinalIgnoreCase) ||
        e.StandardError.Contains("not a subvolume", StringComparison.OrdinalIgnoreCase) ||
        e.StandardError.Contains("No such file or directory", StringComparison.OrdinalIgnoreCase) ||
        e.StandardError.Contains("not a btrfs filesystem", StringComparison.OrdinalIgnoreCase));

    internal static string Normalize(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
}
