using DeltaSnap.Delta;
using DeltaSnap.Drivers;

namespace DeltaSnap.Remote;

/// <summary>
/// The client's view of a driver on the server: it reports the remote driver's scheme, capabilities, native payload kind
/// and naming rules (so the <see cref="DeltaSnap.Replication.Replicator"/> picks the same routes as for local volumes),
/// and forwards its calls as session requests. It adds <see cref="DriverCapabilities.StoredChecksums"/>: the server
/// computes a snapshot's checksum map where the volume is and sends the map (about 17 bytes per cluster), so a map never
/// costs the volume's bytes on the wire. For file system volumes it adds <see cref="DriverCapabilities.RemoteTrees"/>:
/// their trees are reached by running the tree synchronizer's server half on the server (<c>volume.treeServer</c>).
/// Disposing it releases the driver on the server.
/// </summary>
public sealed class RemoteVolumeDriver : VolumeDriver
{
    private readonly ClientSession _session;
    private readonly long _handle;
    private readonly DriverCapabilities _capabilities;
    private readonly DeltaStreamPayloadKind _payloadKind;
    private readonly NameRules _volumeNameRules;
    private readonly NameRules _snapshotNameRules;
    private int _disposed;

    internal RemoteVolumeDriver(ClientSession session, DriverMessage message)
        : base(message.Scheme, session.LoggerFactory)
    {
        _session = session;
        _handle = message.Handle;
        RemoteCapabilities = message.Capabilities;
        // File system volumes have no local path here: the rsync route reaches their trees through the session.
        _capabilities = message.Capabilities | DriverCapabilities.StoredChecksums
            | (message.Capabilities.HasFlag(DriverCapabilities.FilesystemVolumes) ? DriverCapabilities.RemoteTrees : DriverCapabilities.None);
        // Trees received aside reach the server through volume.receiveTree, which an older server does not know.
        if (!session.PeerSupports(ClientSession.ReceiveTreeFeature))
        {
            _capabilities &= ~DriverCapabilities.StagedTrees;
        }
        _payloadKind = (DeltaStreamPayloadKind)message.PayloadKind;
        _volumeNameRules = message.VolumeNameRules.ToRules();
        _snapshotNameRules = message.SnapshotNameRules.ToRules();
    }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities => _capabilities;

    /// <summary>The capabilities the driver on the server reports itself.</summary>
    public DriverCapabilities RemoteCapabilities { get; }

    /// <inheritdoc />
    public override DeltaStreamPayloadKind NativePayloadKind => _payloadKind;

    /// <inheritdoc />
    public override NameRules VolumeNameRules => _volumeNameRules;

    /// <inheritdoc />
    public override NameRules SnapshotNameRules => _snapshotNameRules;

    /// <summary>How the server is named in addresses and messages.</summary>
    public string PeerName => _session.PeerName;

    internal ClientSession Session => _session;

    internal long Handle => _handle;

    /// <inheritdoc />
    protected override async Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) =>
        (await _session.CallAsync(new ControlMessage { Op = "driver.list", Handle = _handle }, cancellationToken).ConfigureAwait(false)).Names ?? [];

    /// <inheritdoc />
    protected override async Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        var answer = await _session.CallAsync(new ControlMessage { Op = "driver.openVolume", Handle = _handle, Name = name }, cancellationToken).ConfigureAwait(false);
        return new RemoteVolume(this, answer.Volume ?? throw _session.Missing("driver.openVolume", "volume"));
    }

    /// <inheritdoc />
    protected override async Task<bool> VolumeExistsCoreAsync(string name, CancellationToken cancellationToken) =>
        (await _session.CallAsync(new ControlMessage { Op = "driver.exists", Handle = _handle, Name = name }, cancellationToken).ConfigureAwait(false)).Flag == true;

    /// <inheritdoc />
    protected override async Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken)
    {
        var answer = await _session.CallAsync(
            new ControlMessage { Op = "driver.createVolume", Handle = _handle, Name = name, Kind = options.Kind, Size = options.Size, Thin = options.Thin },
            cancellationToken).ConfigureAwait(false);
        return new RemoteVolume(this, answer.Volume ?? throw _session.Missing("driver.createVolume", "volume"));
    }

    /// <inheritdoc />
    protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken) =>
        _session.CallAsync(new ControlMessage { Op = "driver.deleteVolume", Handle = _handle, Name = name }, cancellationToken);

    /// <inheritdoc />
    protected override async ValueTask DisposeCoreAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _session.ReleaseAsync(_handle).ConfigureAwait(false);
        }
        await base.DisposeCoreAsync().ConfigureAwait(false);
    }
}
