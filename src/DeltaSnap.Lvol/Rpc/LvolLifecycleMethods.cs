using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DeltaSnap.Lvol;

/// <summary>
/// The store and lvol lifecycle methods: listing (<c>bdev_lvol_get_lvstores</c>, <c>bdev_lvol_get_lvols</c>,
/// <c>bdev_get_bdevs</c>), create, snapshot, clone, delete, rename, resize, inflate, decouple, set/detach parent,
/// extended attributes. Errors as in Longhorn's SPDK (see the package README).
/// </summary>
internal sealed class LvolLifecycleMethods(LvolNameResolver names)
{
    private const int InvalidParams = LvolRpcServer.InvalidParams;
    private const int InternalError = LvolRpcServer.InternalError;
    private static readonly SpdkJsonContext Json = SpdkJsonContext.Default;

    public void Register(IDictionary<string, RpcMethod> methods)
    {
        methods["bdev_lvol_get_lvstores"] = GetLvstores;
        methods["bdev_lvol_get_lvols"] = GetLvols;
        methods["bdev_get_bdevs"] = GetBdevs;
        methods["bdev_lvol_create"] = CreateAsync;
        methods["bdev_lvol_snapshot"] = SnapshotAsync;
        methods["bdev_lvol_clone"] = CloneAsync;
        methods["bdev_lvol_delete"] = DeleteAsync;
        methods["bdev_lvol_rename"] = RenameAsync;
        methods["bdev_lvol_resize"] = ResizeAsync;
        methods["bdev_lvol_inflate"] = (p, ct) => OnLvolAsync(p, (s, n) => s.InflateAsync(n, ct));
        methods["bdev_lvol_decouple_parent"] = (p, ct) => OnLvolAsync(p, (s, n) => s.DecoupleParentAsync(n, ct));
        methods["bdev_lvol_detach_parent"] = (p, ct) => OnLvolAsync(p, (s, n) => s.DetachParentAsync(n, ct));
        methods["bdev_lvol_set_parent"] = SetParentAsync;
        methods["bdev_lvol_set_xattr"] = SetXattrAsync;
        methods["bdev_lvol_get_xattr"] = GetXattr;
    }

    /// <summary>RFC 3339 UTC, as Longhorn's SPDK writes <c>creation_time</c>.</summary>
    internal static string CreationTime(LvolInfo info) =>
        info.CreatedUtc.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Clusters the store may hold: its capacity, or (unbounded) the clusters its file spans plus the free space of its file system.</summary>
    internal static long CapacityClusters(LvolStore store) =>
        store.CapacityClusters > 0 ? store.CapacityClusters : SaturatingAdd(store.TotalClusters, FreeDiskClusters(store));

    /// <summary>Clusters the store can still allocate.</summary>
    internal static long FreeClusters(LvolStore store) =>
        store.CapacityClusters > 0
            ? Math.Max(0, store.CapacityClusters - store.UsedClusters)
            : SaturatingAdd(Math.Max(0, store.TotalClusters - store.UsedClusters), FreeDiskClusters(store));

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private static long FreeDiskClusters(LvolStore store)
    {
        try
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(store.Path)) ?? "/";
            return new DriveInfo(directory).AvailableFreeSpace / store.ClusterSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return 0;
        }
    }

    /// <summary>
    /// The size in bytes of <paramref name="sizeInMib"/> rounded up to whole clusters, refused at once when it
    /// cannot fit: -22 beyond what the store can ever hold, -28 when a thick lvol needs more clusters than are free.
    /// </summary>
    private static long CheckedSize(LvolStore store, ulong sizeInMib, bool thick, long currentClusters)
    {
        if (sizeInMib == 0)
        {
            throw SpdkErrno.Sync(LvolErrno.EINVAL);
        }
        var refusal = thick ? LvolErrno.ENOSPC : LvolErrno.EINVAL;
        if (sizeInMib > (ulong)(long.MaxValue >> 20))
        {
            throw SpdkErrno.Sync(refusal);
        }
        var bytes = (long)sizeInMib << 20;
        var clusters = (bytes / store.ClusterSize) + (bytes % store.ClusterSize != 0 ? 1 : 0);
        if (clusters > CapacityClusters(store) || (thick && clusters - currentClusters > FreeClusters(store)))
        {
            throw SpdkErrno.Sync(refusal);
        }
        return clusters * store.ClusterSize;
    }

    private Task<RpcReply> GetLvstores(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkLvstoreFilterParams);
        if (p.LvsUuid is not null)
        {
            throw RpcParameters.DecodeFailed();
        }
        IEnumerable<LvolStore> stores = p.Uuid is null && p.LvsName is null ? names.Stores : [names.StoreFor(p.Uuid, p.LvsName, requireOne: true)];
        var list = stores.Select(s =>
        {
            var total = (ulong)(s.CapacityClusters > 0 ? s.CapacityClusters : s.TotalClusters);
            return new SpdkLvstoreInfo
            {
                Uuid = s.Uuid.ToString(),
                Name = s.Name,
                BaseBdev = s.Path,
                TotalDataClusters = total,
                FreeClusters = total - Math.Min(total, (ulong)s.UsedClusters),
                BlockSize = LvolStore.BlockSize,
                ClusterSize = (ulong)s.ClusterSize,
            };
        }).ToList();
        return Task.FromResult(RpcReply.Of(list, Json.ListSpdkLvstoreInfo));
    }

    private Task<RpcReply> GetLvols(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkLvstoreFilterParams);
        if (p.Uuid is not null)
        {
            throw RpcParameters.DecodeFailed();
        }
        IEnumerable<LvolStore> stores = p.LvsUuid is null && p.LvsName is null ? names.Stores : [names.StoreFor(p.LvsUuid, p.LvsName, requireOne: true)];
        var list = stores.SelectMany(s => s.ListLvols().Select(l => new SpdkLvolInfo
        {
            Alias = $"{s.Name}/{l.Name}",
            Uuid = l.Uuid.ToString(),
            Name = l.Name,
            CreationTime = CreationTime(l),
            IsThinProvisioned = l.IsThin,
            IsSnapshot = l.IsSnapshot,
            IsClone = l.IsClone,
            Lvs = new SpdkLvsRef { Name = s.Name, Uuid = s.Uuid.ToString() },
        })).ToList();
        return Task.FromResult(RpcReply.Of(list, Json.ListSpdkLvolInfo));
    }

    private Task<RpcReply> GetBdevs(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkGetBdevsParams);
        IEnumerable<(LvolStore Store, LvolInfo Info)> lvols;
        if (p.Name is { } name)
        {
            var (store, lvol) = names.Resolve(name);
            lvols = [(store, store.TryGetLvol(lvol) ?? throw SpdkErrno.Sync(LvolErrno.ENODEV))];
        }
        else
        {
            lvols = names.Stores.SelectMany(s => s.ListLvols().Select(l => (s, l)));
        }
        var list = lvols.Select(x => new SpdkBdevInfo
        {
            Name = x.Info.Uuid.ToString(),
            Aliases = [$"{x.Store.Name}/{x.Info.Name}"],
            ProductName = "Logical Volume",
            BlockSize = LvolStore.BlockSize,
            NumBlocks = (ulong)((x.Info.Size + LvolStore.BlockSize - 1) / LvolStore.BlockSize),
            Uuid = x.Info.Uuid.ToString(),
            CreationTime = CreationTime(x.Info),
            DriverSpecific = new SpdkBdevDriverSpecific
            {
                Lvol = new SpdkBdevLvol
                {
                    LvolStoreUuid = x.Store.Uuid.ToString(),
                    BaseBdev = x.Store.Path,
                    BaseSnapshot = x.Info.ParentName,
                    ThinProvision = x.Info.IsThin,
                    NumAllocatedClusters = (ulong)x.Info.AllocatedClusters,
                    Snapshot = x.Info.IsSnapshot,
                    IsClone = x.Info.IsClone,
                    Clones = x.Info.Children.Count > 0 ? x.Info.Children : null,
                },
            },
        }).ToList();
        return Task.FromResult(RpcReply.Of(list, Json.ListSpdkBdevInfo));
    }

    private async Task<RpcReply> CreateAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkLvolCreateParams);
        if ((p.Uuid is null) == (p.LvsName is null))
        {
            throw SpdkErrno.Sync(LvolErrno.EINVAL);
        }
        var store = names.StoreFor(p.Uuid, p.LvsName, requireOne: true);
        var thin = p.ThinProvision ?? false;
        if (!IsValidName(p.LvolName))
        {
            throw SpdkErrno.Sync(LvolErrno.EINVAL);
        }
        if (store.TryGetLvol(p.LvolName) is not null)
        {
            throw SpdkErrno.Sync(LvolErrno.EEXIST);
        }
        var size = CheckedSize(store, p.SizeInMib, thick: !thin, currentClusters: 0);
        var info = await SpdkErrno.LaterAsync(InvalidParams, () => store.CreateLvolAsync(p.LvolName, size, thin, cancellationToken)).ConfigureAwait(false);
        return RpcReply.Of(info.Uuid.ToString(), Json.String);
    }

    private async Task<RpcReply> SnapshotAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkLvolSnapshotParams);
        var (store, name) = names.Resolve(p.LvolName);
        var xattrs = p.Xattrs?.ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetBytes(kv.Value), StringComparer.Ordinal);
        var info = await SpdkErrno.LaterAsync(InvalidParams,
            () => store.SnapshotAsync(name, p.SnapshotName, new LvolSnapshotOptions { Xattrs = xattrs }, cancellationToken)).ConfigureAwait(false);
        return RpcReply.Of(info.Uuid.ToString(), Json.String);
    }

    private async Task<RpcReply> CloneAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkLvolCloneParams);
        var (store, name) = names.Resolve(p.SnapshotName);
        if (p.CloneName is not { } cloneName || store.TryGetLvol(name) is not { IsSnapshot: true })
        {
            throw SpdkErrno.Later(InvalidParams, LvolErrno.EINVAL);
        }
        var info = await SpdkErrno.LaterAsync(InvalidParams, () => store.CloneAsync(name, cloneName, cancellationToken)).ConfigureAwait(false);
        return RpcReply.Of(info.Uuid.ToString(), Json.String);
    }

    private async Task<RpcReply> DeleteAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkNameParams);
        var (store, name) = names.Resolve(p.Name);
        if (store.TryGetLvol(name) is { IsSnapshot: true, Children.Count: > 1 })
        {
            throw SpdkErrno.Later(InternalError, LvolErrno.EPERM);
        }
        await SpdkErrno.LaterAsync(InternalError, () => store.DeleteLvolAsync(name, cancellationToken)).ConfigureAwait(false);
        return RpcReply.True;
    }

    private async Task<RpcReply> RenameAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkLvolRenameParams);
        var (store, name) = names.Resolve(p.OldName);
        if (!IsValidName(p.NewName))
        {
            throw SpdkErrno.Sync(LvolErrno.EINVAL);
        }
        await SpdkErrno.LaterAsync(InvalidParams, () => store.RenameLvolAsync(name, p.NewName, cancellationToken)).ConfigureAwait(false);
        return RpcReply.True;
    }

    private async Task<RpcReply> ResizeAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkLvolResizeParams);
        var (store, name) = names.Resolve(p.Name);
        var info = store.TryGetLvol(name) ?? throw SpdkErrno.Sync(LvolErrno.ENODEV);
        var size = CheckedSize(store, p.SizeInMib, thick: !info.IsThin, currentClusters: (info.Size + store.ClusterSize - 1) / store.ClusterSize);
        await SpdkErrno.LaterAsync(InvalidParams, () => store.ResizeLvolAsync(name, size, cancellationToken)).ConfigureAwait(false);
        return RpcReply.True;
    }

    private async Task<RpcReply> SetParentAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkSetParentParams);
        var (store, name) = names.Resolve(p.LvolName);
        var (parentStore, parent) = names.Resolve(p.ParentName);
        if (parentStore != store)
        {
            throw SpdkErrno.Later(InvalidParams, LvolErrno.EINVAL);
        }
        if (store.TryGetLvol(name) is { } info && string.Equals(info.ParentName, parent, StringComparison.Ordinal))
        {
            throw SpdkErrno.Later(InvalidParams, LvolErrno.EEXIST);
        }
        await SpdkErrno.LaterAsync(InvalidParams, () => store.SetParentAsync(name, parent, cancellationToken)).ConfigureAwait(false);
        return RpcReply.True;
    }

    private async Task<RpcReply> SetXattrAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkSetXattrParams);
        var (store, name) = names.Resolve(p.Name);
        await store.SetXattrAsync(name, p.XattrName, p.XattrValue, cancellationToken).ConfigureAwait(false);
        return RpcReply.True;
    }

    private Task<RpcReply> GetXattr(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkGetXattrParams);
        var (store, name) = names.Resolve(p.Name);
        var value = store.GetXattr(name, p.XattrName) ?? throw SpdkErrno.Sync(LvolErrno.ENOENT);
        return Task.FromResult(RpcReply.Of(Encoding.UTF8.GetString(value), Json.String));
    }

    private async Task<RpcReply> OnLvolAsync(JsonElement parameters, Func<LvolStore, string, Task> action)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkNameParams);
        var (store, name) = names.Resolve(p.Name);
        await SpdkErrno.LaterAsync(InvalidParams, () => action(store, name)).ConfigureAwait(false);
        return RpcReply.True;
    }

    private static bool IsValidName(string name)
    {
        try
        {
            LvolStore.ValidateLvolName(name);
            return true;
        }
        catch (LvolException)
        {
            return false;
        }
    }
}
