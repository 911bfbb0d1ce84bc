using DeltaSnap.Delta;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Tests.Replication;

/// <summary>
/// A backend with a native stream that lives in memory; it declares the payload kind it is given (LvolDiff unless
/// told), so two of them take the native route when their kinds match.
/// </summary>
internal class MemoryNativeDriver(string scheme, DriverCapabilities extra = DriverCapabilities.None,
    DeltaStreamPayloadKind payloadKind = DeltaStreamPayloadKind.LvolDiff) : VolumeDriver(scheme, null)
{
    public override DriverCapabilities Capabilities => DriverCapabilities.BlockVolumes | DriverCapabilities.NativeStream | extra;

    public override DeltaStreamPayloadKind NativePayloadKind => payloadKind;

    protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

    protected override Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();
}

/// <summary>The same backend as another .NET type: the route must not depend on the driver's type.</summary>
internal sealed class OtherMemoryNativeDriver(string scheme, DeltaStreamPayloadKind payloadKind)
    : MemoryNativeDriver(scheme, DriverCapabilities.None, payloadKind);

/// <summary>A volume whose snapshots are copies of its bytes; its native stream is those bytes.</summary>
internal sealed class MemoryNativeVolume(MemoryNativeDriver driver, string name) : Volume(driver, name, VolumeKind.Block)
{
    private readonly List<(SnapshotInfo Info, byte[] Data)> _snapshots = [];

    public byte[] Live { get; set; } = [];

    public int ReceiveCalls { get; private set; }

    /// <summary>The snapshot calls that changed the volume, in order: <c>rollback NAME</c>, <c>receive NAME</c>.</summary>
    public List<string> Events { get; } = [];

    protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => Task.FromResult((long)Live.Length);

    protected override Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new SnapshotLineage(_snapshots.Select(s => s.Info)));

    protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken)
    {
        var info = new SnapshotInfo(name, new SnapshotIdentity("mem", Guid.NewGuid().ToString("N")), options.CreatedUtc ?? DateTimeOffset.UtcNow)
        {
            ReceivedFrom = options.ReceivedFrom,
            Size = Live.Length,
        };
        _snapshots.Add((info, Live.ToArray()));
        return Task.FromResult(info);
    }

    protected override Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken)
    {
        _snapshots.RemoveAll(s => s.Info.Name == name);
        return Task.CompletedTask;
    }

    protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken)
    {
        Events.Add($"rollback {name}");
        Live = _snapshots.Single(s => s.Info.Name == name).Data.ToArray();
        return Task.CompletedTask;
    }

    protected override Task SendCoreAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions options, CancellationToken cancellationToken) =>
        destination.WriteAsync(_snapshots.Single(s => s.Info.Name == snapshot).Data, cancellationToken).AsTask();

    // Its stream is the bare bytes, with no header to check (the default header read returns none).
    protected override async Task<SnapshotInfo> ReceiveCoreAsync(Stream source, NativeReceiveRequest request, NativeStreamHeader? header, NativeReceiveTarget target, CancellationToken cancellationToken)
    {
        ReceiveCalls++;
        Events.Add($"receive {request.Snapshot.Name}");
        using var received = new MemoryStream();
        await source.CopyToAsync(received, cancellationToken);
        Live = received.ToArray();
        return await CreateSnapshotCoreAsync(request.Snapshot.Name,
            new SnapshotCreateOptions { CreatedUtc = request.Snapshot.CreatedUtc, ReceivedFrom = request.Snapshot.Identity }, cancellationToken);
    }
}
