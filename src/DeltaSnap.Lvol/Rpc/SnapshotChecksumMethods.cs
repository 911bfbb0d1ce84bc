using System.Text.Json;

namespace DeltaSnap.Lvol;

/// <summary>
/// Longhorn's snapshot methods for a delta rebuild: <c>bdev_lvol_get_fragmap</c>, the snapshot and range checksums
/// (register, get, stop). Errors as in Longhorn's SPDK (see the package README).
/// </summary>
internal sealed class SnapshotChecksumMethods(LvolNameResolver names)
{
    private static readonly SpdkJsonContext Json = SpdkJsonContext.Default;

    public void Register(IDictionary<string, RpcMethod> methods)
    {
        methods["bdev_lvol_get_fragmap"] = GetFragmap;
        methods["bdev_lvol_register_snapshot_checksum"] = (p, ct) => RegisterAsync(p, (s, n) => s.RegisterSnapshotChecksumAsync(n, ct));
        methods["bdev_lvol_register_snapshot_range_checksums"] = (p, ct) => RegisterAsync(p, (s, n) => s.RegisterRangeChecksumsAsync(n, ct));
        methods["bdev_lvol_get_snapshot_checksum"] = GetSnapshotChecksum;
        methods["bdev_lvol_get_snapshot_range_checksums"] = GetRangeChecksums;
        methods["bdev_lvol_stop_snapshot_checksum"] = StopSnapshotChecksum;
    }

    private Task<RpcReply> GetFragmap(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkFragmapParams);
        var (store, name) = names.Resolve(p.Name);
        if (p.Offset > long.MaxValue || p.Size > long.MaxValue)
        {
            throw SpdkErrno.Later(LvolRpcServer.InvalidParams, LvolErrno.EINVAL);
        }
        LvolFragmap fragmap;
        try
        {
            fragmap = store.GetFragmap(name, (long)p.Offset, (long)p.Size);
        }
        catch (LvolException e) when (e.Errno != LvolErrno.ENOENT)
        {
            throw SpdkErrno.Later(LvolRpcServer.InvalidParams, e.Errno);
        }
        return Task.FromResult(RpcReply.Of(new SpdkFragmap
        {
            ClusterSize = (ulong)fragmap.ClusterSize,
            NumClusters = (ulong)fragmap.ClusterCount,
            NumAllocatedClusters = (ulong)fragmap.AllocatedClusters,
            Fragmap = fragmap.Fragmap,
        }, Json.SpdkFragmap));
    }

    private async Task<RpcReply> RegisterAsync(JsonElement parameters, Func<LvolStore, string, Task<ulong>> register)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkNameParams);
        var (store, name) = names.Resolve(p.Name);
        try
        {
            await register(store, name).ConfigureAwait(false);
        }
        catch (LvolException e) when (e.Errno == LvolErrno.EEXIST)
        {
            throw SpdkErrno.Sync(LvolErrno.EEXIST); // a registration of this snapshot already runs
        }
        catch (LvolException e)
        {
            throw SpdkErrno.Later(LvolRpcServer.InternalError, e.Errno);
        }
        return RpcReply.True;
    }

    private Task<RpcReply> GetSnapshotChecksum(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkNameParams);
        var (store, name) = names.Resolve(p.Name);
        return Task.FromResult(RpcReply.Of(new SpdkSnapshotChecksum { Checksum = store.GetSnapshotChecksum(name) }, Json.SpdkSnapshotChecksum));
    }

    private Task<RpcReply> GetRangeChecksums(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkRangeChecksumsParams);
        var (store, name) = names.Resolve(p.Name);
        if (p.ClusterStartIndex > long.MaxValue || p.ClusterCount > long.MaxValue)
        {
            throw SpdkErrno.Sync(LvolErrno.EINVAL);
        }
        var list = store.GetRangeChecksums(name, (long)p.ClusterStartIndex, (long)p.ClusterCount)
            .Select(c => new SpdkRangeChecksum { ClusterIndex = (ulong)c.ClusterIndex, Checksum = c.Checksum }).ToList();
        return Task.FromResult(RpcReply.Of(list, Json.ListSpdkRangeChecksum));
    }

    private Task<RpcReply> StopSnapshotChecksum(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkNameParams);
        var (store, name) = names.Resolve(p.Name);
        return store.StopSnapshotChecksum(name)
            ? Task.FromResult(RpcReply.True)
            : throw SpdkErrno.Sync(LvolErrno.ESRCH);
    }
}
