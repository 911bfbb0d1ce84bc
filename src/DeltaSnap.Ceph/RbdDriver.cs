using DeltaSnap.Ceph.Diagnostics;
using DeltaSnap.Ceph.Interop;
using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Ceph;

/// <summary>
/// Ceph RBD images as DeltaSnap block volumes, reached in-process through librados and librbd. A volume is named
/// <c>pool/image</c> (or <c>pool/namespace/image</c>, or just <c>image</c> with <see cref="RbdDriverOptions.DefaultPool"/>);
/// its address is <c>rbd:pool/image</c>. The driver holds a cluster connection; dispose it to let go of it (devices
/// still open keep the connection until they are disposed). Drivers that one resolver's <c>rbd</c> backend opens share
/// one connection, which the last of them to be disposed shuts down; <see cref="ConnectAsync"/> makes a connection of
/// the driver's own.
/// </summary>
public sealed class RbdDriver : VolumeDriver
{
    /// <summary>The URI scheme of RBD volume addresses: <c>rbd:POOL/IMAGE</c>.</summary>
    public const string SchemeName = "rbd";
    private readonly RadosCluster _cluster;
    private int _released;

    /// <summary>A driver on <paramref name="cluster"/>, whose reference it takes over (and gives back when disposed).</summary>
    internal RbdDriver(RadosCluster cluster, RbdDriverOptions options, ILoggerFactory? loggerFactory)
        : base(SchemeName, loggerFactory)
    {
        _cluster = cluster;
        Options = options;
    }

    /// <summary>The options the driver was connected with.</summary>
    public RbdDriverOptions Options { get; }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities =>
        DriverCapabilities.BlockVolumes | DriverCapabilities.ChangedRanges | DriverCapabilities.Resize | DriverCapabilities.RenameSnapshots
        | DriverCapabilities.LiveStateComparison
        // The native stream is a function of the two snapshots (the extents RBD reports for them, in order), so a cut refresh
        // with a checkpoint directory resumes it; the contract test NativeStream_declaredReproducible_… holds it to that.
        | (Options.NativeStream ? DriverCapabilities.NativeStream | DriverCapabilities.NativeReceiveRestoresBase | DriverCapabilities.ReproducibleNativeStream : DriverCapabilities.None);

    /// <summary>
    /// The RBD diff stream (<c>rbd export-diff</c>): <see cref="DeltaSnap.Delta.DeltaStreamPayloadKind.RbdDiff"/>; used only
    /// when <see cref="RbdDriverOptions.NativeStream"/> is on.
    /// </summary>
    public override DeltaSnap.Delta.DeltaStreamPayloadKind NativePayloadKind => DeltaSnap.Delta.DeltaStreamPayloadKind.RbdDiff;

    /// <inheritdoc />
    public override NameRules VolumeNameRules => ImageNames;

    internal static NameRules ImageNames { get; } = new() { AllowSlash = true };

    /// <summary>Connects to the cluster the options name.</summary>
    /// <param name="options">Connection and creation settings; null for the defaults (<c>CEPH_CONF</c>, <c>client.admin</c>).</param>
    /// <param name="loggerFactory">Where to log; null for no logging.</param>
    /// <param name="cancellationToken">Cancels before connecting (a connect in progress runs to its timeout).</param>
    /// <exception cref="RbdException">The connection failed (no configuration, unreachable monitors, bad key, timeout).</exception>
    /// <exception cref="DllNotFoundException">librados.so.2 or librbd.so.1 is not installed.</exception>
    public static async Task<RbdDriver> ConnectAsync(RbdDriverOptions? options = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        options ??= new RbdDriverOptions();
        Validate(options);
        var cluster = await RadosCluster.ConnectAsync(options.Connection, CreateLogger(loggerFactory), cancellationToken).ConfigureAwait(false);
        cluster.TryAddReference();
        return new RbdDriver(cluster, options, loggerFactory);
    }

    /// <exception cref="ArgumentOutOfRangeException">The object size order is out of range.</exception>
    /// <exception cref="ArgumentException">The default pool's name breaks the rules.</exception>
    internal static void Validate(RbdDriverOptions options)
    {
        if (options.ObjectSizeOrder is < 12 or > 25)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ObjectSizeOrder, "The object size order must be from 12 (4 KiB) to 25 (32 MiB).");
        }
        if (options.DefaultPool is not null)
        {
            NameRules.Snapshot.Validate(options.DefaultPool, "pool name");
        }
    }

    internal static ILogger CreateLogger(ILoggerFactory? loggerFactory) =>
        (loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger<RbdDriver>();

    /// <inheritdoc />
    protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) =>
        Task.Run<IReadOnlyList<string>>(() =>
        {
            var pools = Options.DefaultPool is { } pool ? [pool] : _cluster.ListPools();
            var names = new List<string>();
            foreach (var p in pools)
            {
                cancellationToken.ThrowIfCancellationRequested();
                IReadOnlyList<string> images;
                try
                {
                    images = ListImages(_cluster.GetIoContext(p, null), p);
                }
                catch (RbdException e) when (Options.DefaultPool is null && e.Errno is LinuxErrno.Enoent or LinuxErrno.Eperm)
                {
                    continue; // a pool without RBD images, or one this client may not read
                }
                names.AddRange(images.Select(i => $"{p}/{i}"));
            }
            return names;
        }, cancellationToken);

    /// <inheritdoc />
    protected override async Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        var location = Parse(name);
        await RunAsync(location, null, readOnly: true, static _ => 0, cancellationToken).ConfigureAwait(false);
        return new RbdVolume(this, name, location);
    }

    /// <inheritdoc />
    protected override async Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken)
    {
        var location = Parse(name);
        try
        {
            await RunAsync(location, null, readOnly: true, static _ => 0, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (VolumeNotFoundException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    protected override async Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken)
    {
        var location = Parse(name);
        await Task.Run(() =>
        {
            var io = GetIoContext(location);
            var order = Options.ObjectSizeOrder;
            var r = LibRbd.Create2(io, location.Image, (ulong)options.Size, (ulong)Options.ImageFeatures, ref order);
            if (r == -LinuxErrno.Eexist && IsHalfCreated(location))
            {
                // librbd lists an image in the pool's directory before it writes its header: a creation killed in
                // between (ours or `rbd create`'s) leaves a name that can neither be opened nor created again.
                // rbd_remove clears what it left.
                Log.HalfCreatedImageRemoving(Logger, location.ToString());
                RadosCluster.Check(LibRbd.Remove(io, location.Image), $"rbd_remove({location})");
                order = Options.ObjectSizeOrder;
                r = LibRbd.Create2(io, location.Image, (ulong)options.Size, (ulong)Options.ImageFeatures, ref order);
            }
            RadosCluster.Check(r, $"rbd_create2({location})");
            Log.ImageCreated(Logger, location.ToString(), options.Size, (ulong)Options.ImageFeatures, order);
        }, cancellationToken).ConfigureAwait(false);
        return new RbdVolume(this, name, location);
    }

    /// <summary>Whether the image is listed but has no header to open: what an interrupted creation leaves.</summary>
    private bool IsHalfCreated(RbdLocation location)
    {
        try
        {
            OpenImage(location, null, readOnly: true).Dispose();
            return false;
        }
        catch (VolumeNotFoundException)
        {
            return true;
        }
    }

    /// <inheritdoc />
    protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        var location = Parse(name);
        return Task.Run(() =>
        {
            var io = GetIoContext(location);
            try
            {
                using var image = OpenImage(location, null, readOnly: false);
                foreach (var snapshot in image.ListSnapshots())
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    image.RemoveSnapshot(snapshot.Name);
                }
                image.RemoveTrashedSnapshots(); // removals a killed process left half-done would keep the image
            }
            catch (VolumeNotFoundException) when (LibRbd.Remove(io, location.Image) == 0)
            {
                // A half-created image (listed, no header): rbd_remove cleared it.
                Log.ImageRemoved(Logger, location.ToString());
                return;
            }
            RadosCluster.Check(LibRbd.Remove(io, location.Image), $"rbd_remove({location})");
            Log.ImageRemoved(Logger, location.ToString());
        }, cancellationToken);
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeCoreAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            Log.Disconnecting(Logger, _cluster.ClientId);
            _cluster.Dispose();
        }
        await base.DisposeCoreAsync().ConfigureAwait(false);
    }

    /// <summary>Opens the image (or a snapshot of it); ENOENT becomes <see cref="VolumeNotFoundException"/>.</summary>
    internal RbdImage OpenImage(RbdLocation location, string? snapshot, bool readOnly)
    {
        try
        {
            return RbdImage.Open(GetIoContext(location), location.DisplayPool, location.Image, snapshot, readOnly || snapshot is not null);
        }
        catch (RbdException e) when (e.Errno == LinuxErrno.Enoent)
        {
            throw new VolumeNotFoundException(
                snapshot is null ? $"There is no RBD image {location}." : $"There is no RBD image {location} or no snapshot {snapshot} of it.", e);
        }
    }

    /// <summary>Opens the image, runs <paramref name="action"/> on a pool thread, closes the image.</summary>
    internal Task<T> RunAsync<T>(RbdLocation location, string? snapshot, bool readOnly, Func<RbdImage, T> action, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            using var image = OpenImage(location, snapshot, readOnly);
            cancellationToken.ThrowIfCancellationRequested();
            return action(image);
        }, cancellationToken);

    /// <summary>Splits and checks a volume name.</summary>
    internal RbdLocation Parse(string name)
    {
        var parts = name.Split('/');
        return parts.Length switch
        {
            1 when Options.DefaultPool is { } pool => new RbdLocation(pool, null, parts[0]),
            1 => throw new ArgumentException($"The RBD volume name '{name}' names no pool: use pool/image (or set a default pool).", nameof(name)),
            2 => new RbdLocation(parts[0], null, parts[1]),
            3 => new RbdLocation(parts[0], parts[1], parts[2]),
            _ => throw new ArgumentException($"The RBD volume name '{name}' has too many parts: use pool/image or pool/namespace/image.", nameof(name)),
        };
    }

    private RadosIoContextHandle GetIoContext(RbdLocation location)
    {
        try
        {
            return _cluster.GetIoContext(location.Pool, location.Namespace);
        }
        catch (RbdException e) when (e.Errno == LinuxErrno.Enoent)
        {
            throw new VolumeNotFoundException($"There is no Ceph pool '{location.Pool}' (for {location}).", e);
        }
    }

    private static unsafe List<string> ListImages(RadosIoContextHandle io, string pool)
    {
        nuint max = 64;
        while (true)
        {
            var specs = new LibRbd.ImageSpec[(int)max];
            fixed (LibRbd.ImageSpec* p = specs)
            {
                var n = max;
                var r = LibRbd.List2(io, p, ref n);
                if (r == -LinuxErrno.Erange)
                {
                    max = Math.Max(n, max * 2);
                    continue;
                }
                RadosCluster.Check(r, $"rbd_list2({pool})");
                var names = new List<string>((int)n);
                try
                {
                    for (var i = 0; i < (int)n; i++)
                    {
                        names.Add(System.Runtime.InteropServices.Marshal.PtrToStringUTF8(p[i].Name) ?? "");
                    }
                }
                finally
                {
                    LibRbd.ImageSpecListCleanup(p, n);
                }
                names.Sort(StringComparer.Ordinal);
                return names;
            }
        }
    }
}

/// <summary>Where an image lives: pool, optional namespace, image name.</summary>
internal readonly record struct RbdLocation(string Pool, string? Namespace, string Image)
{
    /// <summary>The pool as <c>rbd</c> commands print it (with the namespace).</summary>
    public string DisplayPool => Namespace is null ? Pool : $"{Pool}/{Namespace}";

    public override string ToString() => $"{DisplayPool}/{Image}";
}
