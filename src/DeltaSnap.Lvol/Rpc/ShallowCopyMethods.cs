using System.Text.Json;
using DeltaSnap.Devices;

namespace DeltaSnap.Lvol;

/// <summary>
/// The shallow copy methods: <c>bdev_lvol_start_shallow_copy</c>, <c>bdev_lvol_start_range_shallow_copy</c> and
/// <c>bdev_lvol_check_shallow_copy</c>. As in Longhorn's SPDK, a copy that cannot run (a writable source, a too
/// small destination, a busy source, a cluster index past the end) still gets an operation id; its status then
/// reads <c>error</c>.
/// </summary>
internal sealed class ShallowCopyMethods(LvolNameResolver names, ShallowCopyRegistry operations)
{
    /// <summary>The most clusters one range shallow copy may list.</summary>
    public const int MaxRangeClusters = 256;

    private static readonly SpdkJsonContext Json = SpdkJsonContext.Default;

    public void Register(IDictionary<string, RpcMethod> methods)
    {
        methods["bdev_lvol_start_shallow_copy"] = StartShallowCopy;
        methods["bdev_lvol_start_range_shallow_copy"] = StartRangeShallowCopy;
        methods["bdev_lvol_check_shallow_copy"] = CheckShallowCopy;
    }

    private Task<RpcReply> StartShallowCopy(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkShallowCopyParams);
        var (store, source) = names.Resolve(p.SrcLvolName);
        var destination = OpenDestination(p.DstBdevName) ?? throw SpdkErrno.Later(LvolRpcServer.InvalidParams, LvolErrno.ENODEV);
        var id = Start(destination, () => store.StartShallowCopy(source, destination.Device),
            () => store.GetFragmap(source).AllocatedClusters);
        return Task.FromResult(RpcReply.Of(new SpdkOperationId { OperationId = id }, Json.SpdkOperationId));
    }

    private Task<RpcReply> StartRangeShallowCopy(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkRangeShallowCopyParams);
        if (p.Clusters.Length > MaxRangeClusters)
        {
            throw RpcParameters.DecodeFailed();
        }
        if (p.Clusters.Length == 0)
        {
            throw SpdkErrno.Sync(LvolErrno.EINVAL);
        }
        var (store, source) = names.Resolve(p.SrcLvolName);
        var destination = OpenDestination(p.DstBdevName) ?? throw SpdkErrno.Sync(LvolErrno.ENODEV);
        // An index past the end is reported through the status, as any other precondition.
        var clusters = p.Clusters.Select(c => c > long.MaxValue ? -1 : (long)c).ToArray();
        var id = Start(destination, () => store.StartRangeShallowCopy(source, destination.Device, clusters), () => clusters.Length);
        return Task.FromResult(RpcReply.Of(new SpdkOperationId { OperationId = id }, Json.SpdkOperationId));
    }

    private Task<RpcReply> CheckShallowCopy(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = RpcParameters.Decode(parameters, Json.SpdkOperationId);
        var status = operations.TryRead(p.OperationId) ?? throw SpdkErrno.Sync(LvolErrno.ENODEV);
        return Task.FromResult(RpcReply.Of(status, Json.SpdkShallowCopyStatus));
    }

    private uint Start(Destination destination, Func<DeltaSnap.Copy.ShallowCopyOperation> start, Func<long> totalClusters)
    {
        if (destination.Unusable is { } unusable)
        {
            return operations.AddFailed(unusable, SafeTotal(totalClusters));
        }
        DeltaSnap.Copy.ShallowCopyOperation operation;
        try
        {
            operation = start();
        }
        catch (LvolException e)
        {
            destination.Opened?.Dispose();
            return operations.AddFailed(e.Errno, SafeTotal(totalClusters));
        }
        catch
        {
            destination.Opened?.Dispose();
            throw;
        }
        if (destination.Opened is { } opened)
        {
            _ = operation.Completion.ContinueWith(_ => opened.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return operations.Add(operation);
    }

    private static long SafeTotal(Func<long> totalClusters)
    {
        try
        {
            return totalClusters();
        }
        catch (LvolException)
        {
            return 0;
        }
    }

    /// <summary>A registered bdev, or an lvol of a served store opened for writing (null: no such bdev).</summary>
    private Destination? OpenDestination(string name)
    {
        if (names.TryGetBdev(name, out var registered))
        {
            return new Destination(registered, null, null);
        }
        if (names.TryResolve(name) is not var (store, lvol))
        {
            return null;
        }
        try
        {
            var opened = store.OpenDevice(lvol, writable: true);
            return new Destination(opened, opened, null);
        }
        catch (LvolException e) when (e.Errno == LvolErrno.ENOENT)
        {
            return null;
        }
        catch (LvolException e)
        {
            return new Destination(null!, null, e.Errno); // a destination that cannot be written: reported through the status
        }
    }

    private sealed record Destination(BlockDevice Device, BlockDevice? Opened, LvolErrno? Unusable);
}
