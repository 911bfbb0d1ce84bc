using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Zfs;

/// <summary>
/// ZFS through the <c>zfs</c> command: datasets are file system volumes, zvols block volumes (where the
/// kernel module provides them). Snapshots are identified by their GUID and ordered by <c>createtxg</c>;
/// volumes refresh natively with <c>zfs send</c>/<c>zfs receive</c>. Open one with <see cref="OpenAsync"/>,
/// which detects what the installed ZFS can do (<see cref="Features"/>).
/// </summary>
public sealed class ZfsDriver : VolumeDriver
{
    /// <summary>The scheme of ZFS volume addresses: <c>zfs:POOL/DATASET</c>.</summary>
    public const string SchemeName = "zfs";

    /// <summary>The kind of <see cref="SnapshotIdentity"/> ZFS snapshots carry: their GUID in decimal.</summary>
    public const string GuidIdentityKind = "zfs-guid";

    /// <summary>The pool-level dataset under which read-only snapshot views are cloned (see <see cref="ZfsDriverOptions.SnapshotViews"/>).</summary>
    public const string ViewsDatasetName = "deltasnap-views";

    internal static readonly NameRules DatasetRules = new()
    {
        AllowSlash = true,
        // '%' marks ZFS's own hidden datasets (%recv); '@' and '#' separate snapshots and bookmarks.
        ForbiddenCharacters = NameRules.Snapshot.ForbiddenCharacters + "%=,",
    };

    private static readonly NameRules ZfsSnapshotRules = NameRules.Snapshot with { ForbiddenCharacters = NameRules.Snapshot.ForbiddenCharacters + "%=," };

    private ZfsDriver(ZfsDriverOptions options, ZfsFeatures features, ZfsCommandRunner zfs, ILoggerFactory? loggerFactory)
        : base(SchemeName, loggerFactory)
    {
        Options = options;
        Features = features;
        Zfs = zfs;
        // Not NativeReceiveRestoresBase: on zfs-fuse, `zfs receive -F -u` into a mounted dataset leaves writes made
        // since its newest snapshot visible (the contract test Refresh_targetLiveStateWrittenSinceBase_… shows it), so
        // the replicator rolls the target back first.
        // ReproducibleNativeStream: `zfs send` of the same snapshot pair writes the same bytes (checked on zfs-fuse and held
        // to it by the contract test NativeStream_declaredReproducible_…), so with a checkpoint directory a cut refresh
        // resumes its spooled stream even where the pool has no resume tokens (zfs-fuse); the spool's digest catches a
        // source that does not.
        var capabilities = DriverCapabilities.FilesystemVolumes | DriverCapabilities.NativeStream | DriverCapabilities.RenameSnapshots | DriverCapabilities.CopyOnWriteTarget
            | DriverCapabilities.ReproducibleNativeStream;
        if (features.Zvols)
        {
            capabilities |= DriverCapabilities.BlockVolumes | DriverCapabilities.Resize;
        }
        if (features.ResumableStreams)
        {
            capabilities |= DriverCapabilities.ResumableStream;
        }
        if (features.Holds && options.BaseProtection == ZfsBaseProtection.Hold)
        {
            capabilities |= DriverCapabilities.ProtectBase;
        }
        Capabilities = capabilities;
    }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities { get; }

    /// <summary>ZFS's own stream: <see cref="DeltaSnap.Delta.DeltaStreamPayloadKind.ZfsSend"/>.</summary>
    public override DeltaSnap.Delta.DeltaStreamPayloadKind NativePayloadKind => DeltaSnap.Delta.DeltaStreamPayloadKind.ZfsSend;

    /// <inheritdoc />
    public override NameRules VolumeNameRules => DatasetRules;

    /// <inheritdoc />
    public override NameRules SnapshotNameRules => ZfsSnapshotRules;

    /// <summary>The options the driver was opened with.</summary>
    public ZfsDriverOptions Options { get; }

    /// <summary>What the installed ZFS can do.</summary>
    public ZfsFeatures Features { get; }

    internal ZfsCommandRunner Zfs { get; }

    /// <summary>Opens a driver: checks the options and detects the installed ZFS's features (once per process and program). Creates nothing.</summary>
    /// <param name="options">Where the volumes live and how to treat them; null for the defaults.</param>
    /// <param name="loggerFactory">Where to log; null for no logging.</param>
    /// <param name="cancellationToken">Cancels the detection.</param>
    /// <exception cref="ArgumentException">The root or the hold tag breaks the naming rules.</exception>
    /// <exception cref="BackendCommandException">The <c>zfs</c> program cannot be run.</exception>
    public static async Task<ZfsDriver> OpenAsync(ZfsDriverOptions? options = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        options ??= new ZfsDriverOptions();
        if (options.Root is not null)
        {
            DatasetRules.Validate(options.Root, "root dataset");
        }
        NameRules.Snapshot.Validate(options.HoldTag, "hold tag");
        ArgumentException.ThrowIfNullOrEmpty(options.ZfsProgram);
        var logger = (loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger<ZfsDriver>();
        var zfs = new ZfsCommandRunner(options.ZfsProgram, logger);
        var features = await ZfsFeatures.DetectOnceAsync(zfs, cancellationToken).ConfigureAwait(false);
        if (options.Zvols is { } zvols)
        {
            features = features with { Zvols = zvols };
        }
        Log.FeaturesDetected(logger, options.ZfsProgram, features);
        return new ZfsDriver(options, features, zfs, loggerFactory);
    }

    /// <summary>The dataset a volume name stands for (the name under <see cref="ZfsDriverOptions.Root"/>, or itself).</summary>
    internal string DatasetOf(string name) => Options.Root is { } root ? root + "/" + name : name;

    /// <inheritdoc />
    protected override async Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken)
    {
        List<string> arguments = ["list", "-H", "-o", "name", "-t", Features.Zvols ? "filesystem,volume" : "filesystem"];
        if (Options.Root is { } root)
        {
            arguments.AddRange(["-r", root]);
        }
        var output = await Zfs.RunAsync(arguments, cancellationToken).ConfigureAwait(false);
        var names = new List<string>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0 || IsView(line))
            {
                continue; // pool roots and DeltaSnap's own snapshot views are not volumes
            }
            if (Options.Root is { } r)
            {
                if (line.Length > r.Length && line.StartsWith(r + "/", StringComparison.Ordinal))
                {
                    names.Add(line[(r.Length + 1)..]);
                }
            }
            else
            {
                names.Add(line);
            }
        }
        return names;
    }

    /// <inheritdoc />
    protected override async Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken) =>
        await TypeOfAsync(DatasetOf(name), cancellationToken).ConfigureAwait(false) is not null;

    /// <inheritdoc />
    protected override async Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        var dataset = DatasetOf(name);
        var type = await TypeOfAsync(dataset, cancellationToken).ConfigureAwait(false);
        return type switch
        {
            "filesystem" => new ZfsVolume(this, name, dataset, VolumeKind.Filesystem),
            "volume" => new ZfsVolume(this, name, dataset, VolumeKind.Block),
            null => throw new VolumeNotFoundException($"The ZFS dataset '{dataset}' does not exist."),
            _ => throw new VolumeNotFoundException($"'{dataset}' is a ZFS {type}, not a file system or a volume."),
        };
    }

    /// <inheritdoc />
    protected override async Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken)
    {
        var dataset = DatasetOf(name);
        if (options.Kind == VolumeKind.Block)
        {
            List<string> arguments = ["create"];
            if (options.Thin)
            {
                arguments.Add("-s");
            }
            arguments.AddRange(["-V", options.Size.ToString(System.Globalization.CultureInfo.InvariantCulture), dataset]);
            await Zfs.RunAsync(arguments, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await Zfs.RunAsync(["create", dataset], cancellationToken).ConfigureAwait(false);
        }
        return new ZfsVolume(this, name, dataset, options.Kind);
    }

    /// <inheritdoc />
    protected override async Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        var dataset = DatasetOf(name);
        if (await TypeOfAsync(dataset, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new VolumeNotFoundException($"The ZFS dataset '{dataset}' does not exist.");
        }
        // Our own holds and snapshot views would keep the snapshots alive; other tools' holds still refuse.
        var volume = new ZfsVolume(this, name, dataset, VolumeKind.Filesystem);
        await volume.ReleaseAllOwnHoldsAsync(cancellationToken).ConfigureAwait(false);
        await DestroyViewsAsync(origin => origin.StartsWith(dataset + "@", StringComparison.Ordinal) || origin.StartsWith(dataset + "/", StringComparison.Ordinal),
            dataset, cancellationToken).ConfigureAwait(false);
        await Zfs.RunRetryingBusyAsync(["destroy", "-r", dataset], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The <c>type</c> of a dataset, or null when it does not exist.</summary>
    internal async Task<string?> TypeOfAsync(string dataset, CancellationToken cancellationToken)
    {
        var result = await Zfs.TryRunAsync(["get", "-H", "-p", "-o", "value", "type", dataset], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return result.SaysNotFound() ? null : throw result.ToException();
        }
        return result.StandardOutput.Trim();
    }

    /// <summary>The dataset under which snapshot views of <paramref name="dataset"/>'s pool are cloned.</summary>
    internal static string ViewsRootOf(string dataset)
    {
        var slash = dataset.IndexOf('/', StringComparison.Ordinal);
        return (slash < 0 ? dataset : dataset[..slash]) + "/" + ViewsDatasetName;
    }

    /// <summary>Destroys the snapshot views in <paramref name="dataset"/>'s pool whose origin matches.</summary>
    internal async Task DestroyViewsAsync(Func<string, bool> originMatches, string dataset, CancellationToken cancellationToken)
    {
        var root = ViewsRootOf(dataset);
        var result = await Zfs.TryRunAsync(["list", "-H", "-o", "name,origin,mounted", "-r", "-d", "1", root], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return; // no views in this pool
        }
        foreach (var line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length == 3 && fields[1] != "-" && originMatches(fields[1]))
            {
                Log.ViewDestroying(Logger, fields[0], fields[1]);
                await DestroyViewAsync(fields[0], mounted: fields[2] == "yes", cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>How long the unmount and destroy of a snapshot view, and its mount, retry while zfs-fuse says busy.</summary>
    internal static readonly TimeSpan ViewBusyRetryTime = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Destroys snapshot view <paramref name="view"/>: unmounts it first when <paramref name="mounted"/>, then destroys
    /// it, each retried while the dataset is busy (for up to <see cref="ViewBusyRetryTime"/>).
    /// </summary>
    /// <remarks>
    /// The separate unmount is for zfs-fuse: right after a reader of 1 GiB closed its view, <c>zfs unmount</c> and then
    /// <c>zfs destroy</c> took 0.15–0.19 s; <c>zfs destroy</c> alone unmounted through umount(8), said the dataset was
    /// busy, and took 0.5 s with its retry. On OpenZFS the two steps are what <c>zfs destroy</c> does anyway.
    /// </remarks>
    internal async Task DestroyViewAsync(string view, bool mounted, CancellationToken cancellationToken)
    {
        if (mounted)
        {
            // A failure here (already unmounted by someone else, say) is left to the destroy to report.
            await Zfs.TryRunRetryingBusyAsync(["unmount", view], cancellationToken, ViewBusyRetryTime).ConfigureAwait(false);
        }
        await Zfs.RunRetryingBusyAsync(["destroy", view], cancellationToken, ViewBusyRetryTime).ConfigureAwait(false);
    }

    private static bool IsView(string dataset)
    {
        var slash = dataset.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return false;
        }
        var rest = dataset[(slash + 1)..];
        return rest == ViewsDatasetName || rest.StartsWith(ViewsDatasetName + "/", StringComparison.Ordinal);
    }
}
