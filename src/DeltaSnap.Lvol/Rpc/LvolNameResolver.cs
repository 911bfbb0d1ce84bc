using System.Collections.Concurrent;
using DeltaSnap.Devices;

namespace DeltaSnap.Lvol;

/// <summary>
/// What an SPDK name stands for: an lvol by UUID (its bdev name), by <c>LVS/LVOL</c> alias, or by a name unique
/// across the stores served; a store by UUID or name; a bdev registered as a shallow copy destination.
/// Unknown names are -19 (<c>No such device</c>), as in SPDK.
/// </summary>
internal sealed class LvolNameResolver(LvolStore[] stores)
{
    private readonly ConcurrentDictionary<string, BlockDevice> _bdevs = new(StringComparer.Ordinal);

    public IReadOnlyList<LvolStore> Stores => stores;

    public bool RegisterBdev(string name, BlockDevice device) => _bdevs.TryAdd(name, device);

    public bool UnregisterBdev(string name) => _bdevs.TryRemove(name, out _);

    public bool TryGetBdev(string name, out BlockDevice device) => _bdevs.TryGetValue(name, out device!);

    /// <summary>The store and the lvol's name in it.</summary>
    /// <exception cref="JsonRpcErrorException">-19: no such lvol.</exception>
    public (LvolStore Store, string Name) Resolve(string name) =>
        TryResolve(name) ?? throw SpdkErrno.Sync(LvolErrno.ENODEV);

    /// <summary>The store and the lvol's name in it, or null when no lvol (or more than one) answers to the name.</summary>
    public (LvolStore Store, string Name)? TryResolve(string name)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var store = stores.FirstOrDefault(s => string.Equals(s.Name, name[..slash], StringComparison.Ordinal));
            return store?.TryGetLvol(name[(slash + 1)..]) is { } aliased ? (store, aliased.Name) : null;
        }
        (LvolStore, string)? found = null;
        foreach (var store in stores)
        {
            if (store.TryGetLvol(name) is { } info)
            {
                if (found is not null)
                {
                    return null; // a bare name that is not unique names no device
                }
                found = (store, info.Name);
            }
        }
        return found;
    }

    /// <summary>The store named by UUID or name; with neither, the only store served.</summary>
    /// <exception cref="JsonRpcErrorException">-22: both given, or neither while several stores are served; -19: no such store.</exception>
    public LvolStore StoreFor(string? uuid, string? name, bool requireOne)
    {
        if (uuid is not null && name is not null)
        {
            throw SpdkErrno.Sync(LvolErrno.EINVAL);
        }
        if (uuid is null && name is null)
        {
            return !requireOne || stores.Length == 1 ? stores[0] : throw SpdkErrno.Sync(LvolErrno.EINVAL);
        }
        return stores.FirstOrDefault(s => name is not null
                ? string.Equals(s.Name, name, StringComparison.Ordinal)
                : string.Equals(s.Uuid.ToString(), uuid, StringComparison.OrdinalIgnoreCase))
            ?? throw SpdkErrno.Sync(LvolErrno.ENODEV);
    }
}
