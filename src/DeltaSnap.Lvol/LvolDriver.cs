using DeltaSnap.Drivers;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Lvol;

/// <summary>
/// The lvol backend: block volumes in an <see cref="LvolStore"/> (one file on local disk), addressed as
/// <c>lvol:STORE#VOLUME</c>. A volume is a writable lvol; its snapshots are the snapshot lvols named
/// <c>VOLUME@SNAPSHOT</c> on its parent chain. Same-backend refreshes use the store's own diff stream, which holds
/// exactly the 4 KiB blocks that changed between two snapshots (read from the cluster maps, not the data).
/// </summary>
public sealed class LvolDriver : VolumeDriver
{
    /// <summary>The URI scheme: <c>lvol</c>.</summary>
    public const string SchemeName = "lvol";

    /// <summary>The rules of volume names (see <see cref="VolumeNameRules"/>).</summary>
    internal static readonly NameRules VolumeNames = new() { MaxLength = 120 };

    private static readonly Dictionary<string, (LvolStore Store, int References)> OpenStores = new(StringComparer.Ordinal);
    private static readonly SemaphoreSlim OpenStoresLock = new(1, 1);
    private readonly bool _shared;
    private int _disposed;

    private LvolDriver(LvolStore store, bool shared, ILoggerFactory? loggerFactory)
        : base(SchemeName, loggerFactory)
    {
        Store = store;
        _shared = shared;
    }

    /// <summary>The store this driver's volumes live in.</summary>
    public LvolStore Store { get; }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities =>
        DriverCapabilities.BlockVolumes | DriverCapabilities.NativeStream | DriverCapabilities.ChangedRanges
        | DriverCapabilities.StoredChecksums | DriverCapabilities.RenameSnapshots | DriverCapabilities.Resize | DriverCapabilities.LiveStateComparison
        // The diff stream is a function of the two snapshots (their clusters in order, the snapshot's own creation time):
        // a cut refresh with a checkpoint directory resumes it (the contract test NativeStream_declaredReproducible_… holds it to that).
        | DriverCapabilities.ReproducibleNativeStream
        // A receive writes into a scratch clone of the base and moves the volume onto it only when complete (ReceiveCoreAsync).
        | DriverCapabilities.NativeReceiveLeavesLiveState;

    /// <summary>The store's own diff stream: <see cref="DeltaSnap.Delta.DeltaStreamPayloadKind.LvolDiff"/>.</summary>
    public override DeltaSnap.Delta.DeltaStreamPayloadKind NativePayloadKind => DeltaSnap.Delta.DeltaStreamPayloadKind.LvolDiff;

    /// <summary>Volume names: no '/', '@' or '#', up to 120 characters (a snapshot lvol is named <c>VOLUME@SNAPSHOT</c>).</summary>
    public override NameRules VolumeNameRules => VolumeNames;

    /// <summary>Snapshot names: as volume names.</summary>
    public override NameRules SnapshotNameRules => VolumeNames;

    /// <summary>
    /// Opens the store at <paramref name="storePath"/>. Drivers opened on the same path in one process share the
    /// store (a store file is locked to one process); it is closed when the last of them is disposed.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no store at that path.</exception>
    /// <exception cref="LvolException">EBUSY: another process has the store open.</exception>
    /// <exception cref="CorruptDataException">The file is not a valid store.</exception>
    public static async Task<LvolDriver> OpenAsync(string storePath, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(storePath);
        var key = Path.GetFullPath(storePath);
        await OpenStoresLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (OpenStores.TryGetValue(key, out var open))
            {
                OpenStores[key] = (open.Store, open.References + 1);
                return new LvolDriver(open.Store, shared: true, loggerFactory);
            }
            var store = await LvolStore.OpenAsync(key, loggerFactory, cancellationToken).ConfigureAwait(false);
            OpenStores[key] = (store, 1);
            return new LvolDriver(store, shared: true, loggerFactory);
        }
        finally
        {
            OpenStoresLock.Release();
        }
    }

    /// <summary>Opens the store at <paramref name="storePath"/> (synchronously; see <see cref="OpenAsync"/>).</summary>
    public static LvolDriver Open(string storePath, ILoggerFactory? loggerFactory = null) =>
        OpenAsync(storePath, loggerFactory).GetAwaiter().GetResult();

    /// <summary>Creates a new store file and opens it.</summary>
    /// <exception cref="LvolException">EEXIST: the file exists.</exception>
    public static async Task<LvolDriver> CreateStoreAsync(string storePath, int clusterSize = ClusterLayout.DefaultClusterSize, ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(storePath);
        var store = await LvolStore.CreateAsync(storePath, new LvolStoreOptions { ClusterSize = clusterSize }, loggerFactory, cancellationToken).ConfigureAwait(false);
        await store.DisposeAsync().ConfigureAwait(false);
        return await OpenAsync(storePath, loggerFactory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates a new store file and opens it (synchronously; see <see cref="CreateStoreAsync"/>).</summary>
    public static LvolDriver CreateStore(string storePath, int clusterSize = ClusterLayout.DefaultClusterSize, ILoggerFactory? loggerFactory = null) =>
        CreateStoreAsync(storePath, clusterSize, loggerFactory).GetAwaiter().GetResult();

    /// <summary>A driver over a store the caller opened and keeps ownership of (disposing the driver leaves it open).</summary>
    public static LvolDriver FromStore(LvolStore store, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        return new LvolDriver(store, shared: false, loggerFactory);
    }

    /// <inheritdoc />
    protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>(Store.ListLvols().Where(l => !l.IsSnapshot && !l.Name.Contains('@', StringComparison.Ordinal)).Select(l => l.Name).ToArray());

    /// <inheritdoc />
    protected override Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(Store.TryGetLvol(name) is { IsSnapshot: false });

    /// <inheritdoc />
    protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        var info = Store.TryGetLvol(name);
        if (info is null || info.IsSnapshot || !string.Equals(info.Name, name, StringComparison.Ordinal))
        {
            throw new VolumeNotFoundException($"The lvol store {Store.Path} has no volume named '{name}'.");
        }
        return Task.FromResult<Volume>(new LvolVolume(this, name));
    }

    /// <inheritdoc />
    protected override async Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken)
    {
        await Store.CreateLvolAsync(name, options.Size, options.Thin, cancellationToken).ConfigureAwait(false);
        return new LvolVolume(this, name);
    }

    /// <inheritdoc />
    protected override async Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        var info = Store.TryGetLvol(name);
        if (info is null || info.IsSnapshot)
        {
            throw new VolumeNotFoundException($"The lvol store {Store.Path} has no volume named '{name}'.");
        }
        foreach (var leftover in Store.ListLvols().Where(l => !l.IsSnapshot && l.Name.StartsWith(name + LvolVolume.ReceivingInfix, StringComparison.Ordinal)))
        {
            await Store.DeleteLvolAsync(leftover.Name, cancellationToken).ConfigureAwait(false);
        }
        var chain = new List<string>();
        for (var parent = info.ParentName; parent is not null; parent = Store.GetLvol(parent).ParentName)
        {
            chain.Add(parent);
        }
        await Store.DeleteLvolAsync(name, cancellationToken).ConfigureAwait(false);
        foreach (var snapshot in chain)
        {
            // The volume's own snapshots, newest first, as long as nothing else (a clone) depends on them.
            var current = Store.TryGetLvol(snapshot);
            if (current is null || !current.Name.StartsWith(name + "@", StringComparison.Ordinal) || current.Children.Count > 0)
            {
                break;
            }
            await Store.DeleteLvolAsync(snapshot, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeCoreAsync()
    {
        await base.DisposeCoreAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || !_shared)
        {
            return;
        }
        var key = Store.Path;
        LvolStore? close = null;
        await OpenStoresLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (OpenStores.TryGetValue(key, out var open))
            {
                if (open.References <= 1)
                {
                    OpenStores.Remove(key);
                    close = open.Store;
                }
                else
                {
                    OpenStores[key] = (open.Store, open.References - 1);
                }
            }
        }
        finally
        {
            OpenStoresLock.Release();
        }
        if (close is not null)
        {
            await close.DisposeAsync().ConfigureAwait(false);
        }
    }
}
