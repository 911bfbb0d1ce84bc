using System.Buffers;
using System.Collections.Concurrent;
using DeltaSnap.Checksums;
using DeltaSnap.Delta;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Remote;

/// <summary>The server's half of one session: the handshake, then each request run on its own task, authorised first.</summary>
internal sealed class ServerSession
{
    private static readonly HashSet<string> UploadOps = ["device.write", "volume.receive", "volume.storeChecksums"];
    private static readonly HashSet<string> DownloadOps = ["device.read", "device.allocated", "device.digests", "volume.send", "volume.changedRanges", "volume.checksums"];

    // Data both ways on the request's channel: the client's to a program's standard input, the program's standard output back.
    private static readonly HashSet<string> DuplexOps = ["volume.treeServer", "volume.receiveTree"];

    private readonly VolumeResolver _resolver;
    private readonly VolumeServerOptions _options;
    private readonly PeerIdentity _peer;
    private readonly ILogger _logger;
    private readonly SessionConnection _connection;
    private readonly ConcurrentDictionary<long, HandleEntry> _handles = new();
    private readonly ConcurrentDictionary<long, CancellationTokenSource> _running = new();
    private readonly ConcurrentDictionary<long, Task> _tasks = new();
    private readonly TaskCompletionSource<ControlMessage> _hello = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextHandle;
    private int _inFlight;
    private bool _established;

    private ServerSession(VolumeResolver resolver, VolumeServerOptions options, PeerIdentity peer, SessionConnection connection, ILogger logger)
    {
        _resolver = resolver;
        _options = options;
        _peer = peer;
        _connection = connection;
        _logger = logger;
    }

    public static async Task RunAsync(VolumeResolver resolver, VolumeServerOptions options, Stream stream, PeerIdentity peer, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger<VolumeServer>();
        var connection = new SessionConnection(stream, peer.Name, options.MaxMessageBytes, options.HeartbeatInterval, options.PeerTimeout, logger);
        var session = new ServerSession(resolver, options, peer, connection, logger);
        connection.ControlReceived = session.OnControl;
        connection.SessionEnded = failure => session._hello.TrySetException(
            failure is null ? new SessionException(SessionErrorReason.ConnectionLost, $"{peer.Name} left before its hello.") : connection.Ended(failure));
        try
        {
            await session.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            using (cancellationToken.Register(() => _ = connection.CloseAsync("server shutting down")))
            {
                await connection.Completion.ConfigureAwait(false);
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            await session.ReleaseAllAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HandshakeTimeout);
        try
        {
            await _connection.WriteBannerAsync(_options.AnnouncedFeatures, timeout.Token).ConfigureAwait(false);
            var (version, _) = await _connection.ReadBannerAsync(timeout.Token).ConfigureAwait(false);
            if (version != SessionConnection.ProtocolVersion)
            {
                throw new SessionException(SessionErrorReason.Incompatible, $"{_peer.Name} speaks session protocol version {version}; this server speaks {SessionConnection.ProtocolVersion}.");
            }
            _connection.Start();
            var hello = await _hello.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            var offered = (hello.Compression ?? ["none"]).Select(ClientSession.Parse).ToList();
            var chosen = offered.FirstOrDefault(c => c is { } value && _options.Compression.Contains(value));
            if (hello.Version != SessionConnection.ProtocolVersion || chosen is null)
            {
                var why = chosen is null
                    ? $"no compression in common: the client offers {string.Join(", ", hello.Compression ?? [])}, the server accepts {string.Join(", ", _options.Compression.Select(ClientSession.Name))}"
                    : $"the client's hello names version {hello.Version}";
                await _connection.SendControlAsync(new ControlMessage { Type = "error", Id = 0, ErrorType = typeof(SessionException).FullName, Message = why, Reason = "Incompatible" },
                    timeout.Token).ConfigureAwait(false);
                throw new SessionException(SessionErrorReason.Incompatible, $"Session with {_peer.Name} refused: {why}.");
            }
            _connection.Compression = chosen.Value;
            _connection.SetBandwidthLimit(_options.BandwidthLimit);
            _established = true;
            await _connection.SendControlAsync(new ControlMessage
            {
                Type = "welcome",
                Version = SessionConnection.ProtocolVersion,
                Features = [.. _options.AnnouncedFeatures],
                Compression = [ClientSession.Name(chosen.Value)],
                MaxConcurrentRequests = _options.MaxConcurrentRequests,
                Schemes = _resolver.Schemes.ToArray(),
            }, timeout.Token).ConfigureAwait(false);
            Log.SessionEstablished(_logger, _peer.Name, SessionConnection.ProtocolVersion, chosen.Value);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SessionException(SessionErrorReason.Timeout, $"The handshake with {_peer.Name} did not complete within {_options.HandshakeTimeout.TotalSeconds:0.#} s.", e);
        }
    }

    private void OnControl(ControlMessage message)
    {
        switch (message.Type)
        {
            case "hello" when !_established:
                _hello.TrySetResult(message);
                return;
            case "request" when _established:
                Start(message);
                return;
            case "cancel" when _established:
                if (_running.TryGetValue(message.Id, out var cts))
                {
                    try
                    {
                        cts.Cancel();
                    }
                    catch (ObjectDisposedException)
                    {
                    }
                }
                return;
            default:
                throw new SessionException(SessionErrorReason.ProtocolViolation, $"{_peer.Name} sent a '{message.Type}' message {(_established ? "" : "before the handshake ended")}.");
        }
    }

    private void Start(ControlMessage request)
    {
        // Ids are unique among the requests in flight (the client counts up, but concurrent requests may arrive out of order).
        if (request.Id <= 0 || request.Id > uint.MaxValue || _running.ContainsKey(request.Id))
        {
            throw new SessionException(SessionErrorReason.ProtocolViolation, $"{_peer.Name} sent request id {request.Id}, which is out of range or in flight already.");
        }
        if (Interlocked.Increment(ref _inFlight) > _options.MaxConcurrentRequests)
        {
            throw new SessionException(SessionErrorReason.ProtocolViolation, $"{_peer.Name} has more than {_options.MaxConcurrentRequests} requests in flight.");
        }
        var op = request.Op ?? "";
        var channel = UploadOps.Contains(op) || DownloadOps.Contains(op) || DuplexOps.Contains(op) ? _connection.OpenChannel((uint)request.Id) : null;
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_connection.Ending);
        _running[request.Id] = cts;
        _tasks[request.Id] = Task.Run(() => HandleAsync(request, channel, cts));
    }

    private async Task HandleAsync(ControlMessage request, DataChannel? channel, CancellationTokenSource cts)
    {
        var op = request.Op ?? "";
        Log.RequestReceived(_logger, request.Id, op, _peer.Name);
        ControlMessage? reply = null;
        try
        {
            reply = await DispatchAsync(op, request, channel, cts.Token).ConfigureAwait(false);
            reply.Type = "ok";
            reply.Id = request.Id;
        }
        catch (Exception e) when (_connection.Failure is null)
        {
            Log.RequestFailed(_logger, request.Id, op, _peer.Name, e.Message);
            reply = RemoteErrors.ToMessage(request.Id, e);
            if (channel is not null && (DownloadOps.Contains(op) || DuplexOps.Contains(op)))
            {
                try
                {
                    await _connection.SendDataErrorAsync(channel.Id, e, CancellationToken.None).ConfigureAwait(false);
                }
                catch (SessionException)
                {
                    // The session ended meanwhile.
                }
            }
        }
        catch (Exception e)
        {
            Log.RequestFailed(_logger, request.Id, op, _peer.Name, e.Message);
        }
        finally
        {
            // Released before the answer goes out: the client may send its next request as soon as it has the answer.
            _running.TryRemove(request.Id, out _);
            _tasks.TryRemove(request.Id, out _);
            cts.Dispose();
            if (channel is not null)
            {
                _connection.CloseChannel(channel);
            }
            Interlocked.Decrement(ref _inFlight);
        }
        if (reply is not null)
        {
            try
            {
                await _connection.SendControlAsync(reply, CancellationToken.None).ConfigureAwait(false);
            }
            catch (SessionException)
            {
                // The session ended meanwhile.
            }
        }
    }

    // ---- operations ----

    private async Task<ControlMessage> DispatchAsync(string op, ControlMessage r, DataChannel? channel, CancellationToken ct)
    {
        switch (op)
        {
            case "volume.open":
            {
                var address = Required(r.Address, "address");
                Authorize(op, address, VolumeAccess.Read);
                return new ControlMessage { Volume = Register(await _resolver.OpenVolumeAsync(address, ct).ConfigureAwait(false), address, ownsDriver: true) };
            }
            case "volume.create":
            {
                var address = Required(r.Address, "address");
                Authorize(op, address, VolumeAccess.Write);
                var volume = await _resolver.CreateVolumeAsync(address, CreateOptions(r), ct).ConfigureAwait(false);
                return new ControlMessage { Volume = Register(volume, address, ownsDriver: true) };
            }
            case "volume.exists":
            {
                var address = Required(r.Address, "address");
                Authorize(op, address, VolumeAccess.Read);
                var parsed = _resolver.ParseAddress(address);
                var driver = await _resolver.OpenDriverAsync(parsed.Scheme, parsed.Location, ct).ConfigureAwait(false);
                await using (driver.ConfigureAwait(false))
                {
                    return new ControlMessage { Flag = await driver.VolumeExistsAsync(parsed.Name, ct).ConfigureAwait(false) };
                }
            }
            case "driver.open":
            {
                var scheme = Required(r.Scheme, "scheme");
                var location = Required(r.Location, "location");
                var address = $"{scheme}:{location}";
                Authorize(op, address, VolumeAccess.Read);
                var driver = await _resolver.OpenDriverAsync(scheme, location, ct).ConfigureAwait(false);
                return new ControlMessage { Driver = Describe(driver, Add(new DriverEntry(driver, address, scheme, location))) };
            }
            case "driver.list":
            {
                var entry = Get<DriverEntry>(r);
                // The location, not the volume the driver came with: reading one volume does not reveal its neighbours.
                Authorize(op, entry.LocationAddress, VolumeAccess.Read);
                return new ControlMessage { Names = (await entry.Driver.ListVolumesAsync(ct).ConfigureAwait(false)).ToArray() };
            }
            case "driver.exists":
            {
                var entry = Get<DriverEntry>(r);
                var address = VolumeAddressOf(op, entry, Required(r.Name, "name"));
                Authorize(op, address.Text, VolumeAccess.Read);
                return new ControlMessage { Flag = await entry.Driver.VolumeExistsAsync(address.Name, ct).ConfigureAwait(false) };
            }
            case "driver.openVolume":
            {
                var entry = Get<DriverEntry>(r);
                var address = VolumeAddressOf(op, entry, Required(r.Name, "name"));
                Authorize(op, address.Text, VolumeAccess.Read);
                var volume = await entry.Driver.OpenVolumeAsync(address.Name, ct).ConfigureAwait(false);
                return new ControlMessage { Volume = Register(volume, address.Text, ownsDriver: false) };
            }
            case "driver.createVolume":
            {
                var entry = Get<DriverEntry>(r);
                var address = VolumeAddressOf(op, entry, Required(r.Name, "name"));
                Authorize(op, address.Text, VolumeAccess.Write);
                var volume = await entry.Driver.CreateVolumeAsync(address.Name, CreateOptions(r), ct).ConfigureAwait(false);
                return new ControlMessage { Volume = Register(volume, address.Text, ownsDriver: false) };
            }
            case "driver.deleteVolume":
            {
                var entry = Get<DriverEntry>(r);
                var address = VolumeAddressOf(op, entry, Required(r.Name, "name"));
                Authorize(op, address.Text, VolumeAccess.Write);
                await entry.Driver.DeleteVolumeAsync(address.Name, ct).ConfigureAwait(false);
                return new ControlMessage();
            }
            case "release":
            {
                if (_handles.TryRemove(r.Handle ?? 0, out var entry))
                {
                    await entry.DisposeAsync().ConfigureAwait(false);
                }
                return new ControlMessage();
            }
            case "device.read":
            case "device.write":
            case "device.unmap":
            case "device.flush":
            case "device.setLength":
            case "device.allocated":
            case "device.digests":
                return await DeviceAsync(op, r, channel, ct).ConfigureAwait(false);
            default:
                if (op.StartsWith("volume.", StringComparison.Ordinal))
                {
                    return await VolumeAsync(op, r, channel, ct).ConfigureAwait(false);
                }
                throw new NotSupportedException($"Unknown operation '{op}'.");
        }
    }

    private async Task<ControlMessage> VolumeAsync(string op, ControlMessage r, DataChannel? channel, CancellationToken ct)
    {
        var entry = Get<VolumeEntry>(r);
        var volume = entry.Volume;
        var write = op is "volume.resize" or "volume.createSnapshot" or "volume.deleteSnapshot" or "volume.rollback" or "volume.renameSnapshot" or "volume.promote"
            or "volume.removeLeftovers" or "volume.lockForRefresh"
            or "volume.receive" or "volume.storeChecksums" || (op == "volume.openDevice" && r.Writable == true)
            || (op == "volume.treeServer" && r.Snapshot is null) || op == "volume.receiveTree";
        Authorize(op, entry.Address, write ? VolumeAccess.Write : VolumeAccess.Read);
        switch (op)
        {
            case "volume.size":
                return new ControlMessage { Value = await volume.GetSizeAsync(ct).ConfigureAwait(false) };
            case "volume.resize":
                await volume.ResizeAsync(Required(r.Size, "size"), ct).ConfigureAwait(false);
                return new ControlMessage();
            case "volume.lineage":
                return new ControlMessage { Lineage = (await volume.GetLineageAsync(ct).ConfigureAwait(false)).Select(SnapshotMessage.From).ToArray() };
            case "volume.createSnapshot":
            {
                var info = await volume.CreateSnapshotAsync(Required(r.Snapshot, "snapshot"), SnapshotOptions(r), ct).ConfigureAwait(false);
                return new ControlMessage { Result = SnapshotMessage.From(info) };
            }
            case "volume.deleteSnapshot":
                await volume.DeleteSnapshotAsync(Required(r.Snapshot, "snapshot"), ct).ConfigureAwait(false);
                return new ControlMessage();
            case "volume.removeLeftovers":
                await volume.RemoveLeftoversAsync(ct).ConfigureAwait(false);
                return new ControlMessage();
            case "volume.lockForRefresh":
            {
                // Held until released, or until the session ends.
                var held = await volume.LockForRefreshAsync(ct).ConfigureAwait(false);
                return new ControlMessage { Handle = Add(new LockEntry(held, entry.Address)) };
            }
            case "volume.rollback":
                await volume.RollbackAsync(Required(r.Snapshot, "snapshot"), ct).ConfigureAwait(false);
                return new ControlMessage();
            case "volume.renameSnapshot":
                await volume.RenameSnapshotAsync(Required(r.Snapshot, "snapshot"), Required(r.NewName, "newName"), ct).ConfigureAwait(false);
                return new ControlMessage();
            case "volume.promote":
                await volume.PromoteAsync(Required(r.Snapshot, "snapshot"), ct).ConfigureAwait(false);
                return new ControlMessage();
            case "volume.openDevice":
            {
                var device = await volume.OpenDeviceAsync(r.Snapshot, r.Writable == true, ct).ConfigureAwait(false);
                var handle = Add(new DeviceEntry(device, entry.Address, r.Writable == true));
                return new ControlMessage
                {
                    Device = new DeviceMessage
                    {
                        Handle = handle,
                        Length = device.Length,
                        ReadOnly = device.IsReadOnly,
                        CanReportAllocation = device.CanReportAllocation,
                        CanResize = device.CanResize,
                    },
                };
            }
            case "volume.changedRanges":
            {
                var set = await volume.GetChangedRangesAsync(r.Base, Required(r.Snapshot, "snapshot"), ct).ConfigureAwait(false);
                await DownloadAsync(channel!, false, (s, token) => RangeCodec.WriteAsync(s, set, token), ct).ConfigureAwait(false);
                return new ControlMessage();
            }
            case "volume.checksums":
            {
                var snapshot = Required(r.Snapshot, "snapshot");
                var options = new ClusterChecksumOptions { ClusterSize = Required(r.ClusterSize, "clusterSize"), Algorithm = (ChecksumAlgorithm)Required(r.Algorithm, "algorithm") };
                var map = await volume.GetStoredChecksumsAsync(snapshot, options, ct).ConfigureAwait(false);
                if (map is null && volume.Kind == VolumeKind.Block)
                {
                    var device = await volume.OpenDeviceAsync(snapshot, writable: false, ct).ConfigureAwait(false);
                    await using (device.ConfigureAwait(false))
                    {
                        map = await ClusterChecksums.ComputeAsync(device, options, null, ct).ConfigureAwait(false);
                    }
                    await volume.StoreChecksumsAsync(snapshot, map, ct).ConfigureAwait(false);
                }
                await DownloadAsync(channel!, false, (s, token) => map is null ? Task.CompletedTask : map.SaveAsync(s, token), ct).ConfigureAwait(false);
                return new ControlMessage { Flag = map is not null };
            }
            case "volume.storeChecksums":
            {
                var stream = new ChannelReadStream(channel!, ct);
                await using (stream.ConfigureAwait(false))
                {
                    var map = await ClusterChecksums.LoadAsync(stream, ct).ConfigureAwait(false);
                    await volume.StoreChecksumsAsync(Required(r.Snapshot, "snapshot"), map, ct).ConfigureAwait(false);
                    await stream.DrainAsync(ct).ConfigureAwait(false);
                }
                return new ControlMessage();
            }
            case "volume.send":
            {
                var options = new NativeSendOptions { Compressed = r.Compressed == true, Raw = r.Raw == true, ResumeToken = r.ResumeToken };
                var snapshot = Required(r.Snapshot, "snapshot");
                if (r.PrefixLength is not { } prefix)
                {
                    await DownloadAsync(channel!, options.Compressed || options.Raw, (s, token) => volume.SendAsync(r.Base, snapshot, s, options, token), ct).ConfigureAwait(false);
                    return new ControlMessage();
                }
                // The client holds the stream's first bytes: they are read and hashed here, and only the rest is sent.
                var digest = ParseDigest(Required(r.PrefixDigest, "prefixDigest"));
                var matched = false;
                await DownloadAsync(channel!, options.Compressed || options.Raw,
                    async (s, token) => matched = await volume.SendAfterPrefixAsync(r.Base, snapshot, prefix, digest, s, options, token).ConfigureAwait(false),
                    ct).ConfigureAwait(false);
                if (!matched)
                {
                    Log.PrefixMismatched(_logger, r.Id, entry.Address, snapshot, prefix, _peer.Name);
                }
                return new ControlMessage { Flag = matched };
            }
            case "volume.treeServer":
                await ServeTreeAsync(volume, r, channel!, ct).ConfigureAwait(false);
                return new ControlMessage();
            case "volume.receiveTree":
            {
                var info = await ReceiveTreeAsync(volume, r, channel!, ct).ConfigureAwait(false);
                return new ControlMessage { Result = info is null ? null : SnapshotMessage.From(info) };
            }
            case "volume.receive":
            {
                var request = new NativeReceiveRequest
                {
                    Snapshot = Required(r.Info, "info").ToInfo(),
                    TargetBase = r.TargetBase?.ToInfo(),
                    Resumable = r.Resumable == true,
                };
                var stream = new ChannelReadStream(channel!, ct);
                await using (stream.ConfigureAwait(false))
                {
                    var info = await volume.ReceiveAsync(stream, request, ct).ConfigureAwait(false);
                    return new ControlMessage { Result = SnapshotMessage.From(info) };
                }
            }
            default:
                throw new NotSupportedException($"Unknown operation '{op}'.");
        }
    }

    private async Task<ControlMessage> DeviceAsync(string op, ControlMessage r, DataChannel? channel, CancellationToken ct)
    {
        var entry = Get<DeviceEntry>(r);
        var device = entry.Device;
        Authorize(op, entry.Address, entry.Writable ? VolumeAccess.Write : VolumeAccess.Read);
        switch (op)
        {
            case "device.read":
            {
                var length = (int)Math.Clamp(Required(r.Length, "length"), 0, SessionLimits.MaxDataFrame);
                if (length != r.Length)
                {
                    throw new ArgumentException($"A read is at most {SessionLimits.MaxDataFrame} bytes.");
                }
                var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
                try
                {
                    await device.ReadAsync(Required(r.Offset, "offset"), buffer.AsMemory(0, length), ct).ConfigureAwait(false);
                    await DownloadAsync(channel!, false, (s, token) => s.WriteAsync(buffer.AsMemory(0, length), token).AsTask(), ct).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                return new ControlMessage();
            }
            case "device.write":
            {
                var ranges = Ranges(r);
                if (ranges.Sum(x => x.Length) > SessionLimits.MaxDataFrame)
                {
                    throw new ArgumentException($"A write batch is at most {SessionLimits.MaxDataFrame} bytes.");
                }
                var buffer = ArrayPool<byte>.Shared.Rent(SessionLimits.MaxDataFrame);
                var stream = new ChannelReadStream(channel!, ct);
                try
                {
                    foreach (var range in ranges)
                    {
                        var memory = buffer.AsMemory(0, (int)range.Length);
                        if (await stream.ReadAtLeastAsync(memory, memory.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false) != memory.Length)
                        {
                            throw new SessionException(SessionErrorReason.ProtocolViolation, $"A write batch of {_peer.Name} ended before its {range}.");
                        }
                        await device.WriteAsync(range.Offset, memory, ct).ConfigureAwait(false);
                    }
                    await stream.DrainAsync(ct).ConfigureAwait(false);
                }
                finally
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                return new ControlMessage();
            }
            case "device.unmap":
                await device.UnmapAsync(new ByteRange(Required(r.Offset, "offset"), Required(r.Length, "length")), ct).ConfigureAwait(false);
                return new ControlMessage();
            case "device.flush":
                await device.FlushAsync(ct).ConfigureAwait(false);
                return new ControlMessage();
            case "device.setLength":
                await device.SetLengthAsync(Required(r.Size, "size"), ct).ConfigureAwait(false);
                return new ControlMessage();
            case "device.allocated":
            {
                var range = new ByteRange(Required(r.Offset, "offset"), Required(r.Length, "length"));
                var set = new List<ByteRange>();
                await foreach (var x in device.GetAllocatedRangesAsync(range, ct).ConfigureAwait(false))
                {
                    set.Add(x);
                }
                await DownloadAsync(channel!, false, (s, token) => RangeCodec.WriteAsync(s, set, token), ct).ConfigureAwait(false);
                return new ControlMessage();
            }
            case "device.digests":
            {
                var ranges = Ranges(r);
                var blockSize = Required(r.BlockSize, "blockSize");
                var algorithm = (ChecksumAlgorithm)Required(r.Algorithm, "algorithm");
                var digestLength = Required(r.DigestLength, "digestLength");
                if (blockSize > SessionLimits.MaxDataFrame)
                {
                    throw new ArgumentException($"Digest blocks are at most {SessionLimits.MaxDataFrame} bytes.");
                }
                var total = DigestingBlockDevice.GetDigestsLength(ranges, blockSize, digestLength);
                if (total > 64 << 20)
                {
                    throw new ArgumentException("At most 64 MiB of digests per request.");
                }
                await DownloadAsync(channel!, false, (s, token) => WriteDigestsAsync(device, ranges, blockSize, algorithm, digestLength, s, token), ct).ConfigureAwait(false);
                return new ControlMessage();
            }
            default:
                throw new NotSupportedException($"Unknown operation '{op}'.");
        }
    }

    private static async Task WriteDigestsAsync(BlockDevice device, IReadOnlyList<ByteRange> ranges, int blockSize, ChecksumAlgorithm algorithm, int digestLength,
        Stream destination, CancellationToken ct)
    {
        var chunk = Math.Max(blockSize, SessionLimits.MaxDataFrame / blockSize * blockSize);
        var data = ArrayPool<byte>.Shared.Rent(chunk);
        var digests = ArrayPool<byte>.Shared.Rent((chunk / blockSize) * (1 + digestLength));
        try
        {
            foreach (var range in ranges)
            {
                if (range.Offset < 0 || range.End > device.Length)
                {
                    throw new ArgumentOutOfRangeException(nameof(ranges), $"{range} is not inside the device of {device.Length} bytes.");
                }
                for (var offset = range.Offset; offset < range.End; offset += chunk)
                {
                    var n = (int)Math.Min(chunk, range.End - offset);
                    await device.ReadAsync(offset, data.AsMemory(0, n), ct).ConfigureAwait(false);
                    var length = (n + blockSize - 1) / blockSize * (1 + digestLength);
                    DigestingBlockDevice.ComputeBlockDigests(data.AsSpan(0, n), blockSize, algorithm, digestLength, digests.AsSpan(0, length));
                    await destination.WriteAsync(digests.AsMemory(0, length), ct).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(data);
            ArrayPool<byte>.Shared.Return(digests);
        }
    }

    /// <summary>
    /// <c>volume.treeServer</c>: the server's tree synchronizer checks the client's command line and runs it on the tree of
    /// the snapshot (read; its view released afterwards) or the live tree (written), its standard input and output on the
    /// request's channel. Every write goes out at once: the program holds a conversation.
    /// </summary>
    private async Task ServeTreeAsync(Volume volume, ControlMessage r, DataChannel channel, CancellationToken ct)
    {
        var synchronizer = RequireTreeSynchronizer();
        var arguments = Required(r.Arguments, "arguments");
        var snapshot = r.Snapshot;
        var path = await volume.GetPathAsync(snapshot, ct).ConfigureAwait(false);
        try
        {
            await ServeOnChannelAsync(synchronizer, new TreeServeRequest { Directory = path, Arguments = arguments, Writable = snapshot is null }, channel, ct)
                .ConfigureAwait(false);
        }
        finally
        {
            if (snapshot is not null)
            {
                await ReleasePathAsync(volume, snapshot).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// <c>volume.receiveTree</c>: the volume receives a tree aside (<see cref="Volume.ReceiveTreeAsync"/>): the server's
    /// tree synchronizer checks the client's command line and runs it as the receiver of the fresh directory, with the
    /// volume's newest snapshot as its link directory (chosen here); the directory becomes the snapshot or the live tree
    /// only when the receiver ends well, and is removed otherwise.
    /// </summary>
    private async Task<SnapshotInfo?> ReceiveTreeAsync(Volume volume, ControlMessage r, DataChannel channel, CancellationToken ct)
    {
        var synchronizer = RequireTreeSynchronizer();
        var arguments = Required(r.Arguments, "arguments");
        return await volume.ReceiveTreeAsync(r.Snapshot, SnapshotOptions(r), (staging, token) => ServeOnChannelAsync(synchronizer,
            new TreeServeRequest { Directory = staging.Directory, LinkDirectory = staging.LinkDirectory, Arguments = arguments, Writable = true }, channel, token),
            ct).ConfigureAwait(false);
    }

    private TreeSynchronizer RequireTreeSynchronizer() => _options.TreeSynchronizer
        ?? throw new NotSupportedException("This server runs no tree synchronizer (VolumeServerOptions.TreeSynchronizer): the rsync route cannot reach its volumes.");

    /// <summary>
    /// Runs a tree synchronizer's server half with the request's channel as its standard input and output (every write
    /// goes out at once: the program holds a conversation), then ends the channel's data.
    /// </summary>
    private async Task ServeOnChannelAsync(TreeSynchronizer synchronizer, TreeServeRequest request, DataChannel channel, CancellationToken ct)
    {
        var input = new ChannelReadStream(channel, ct);
        var output = new ChannelWriteStream(_connection, channel, precompressed: false, ct) { FlushEachWrite = true };
        await using (input.ConfigureAwait(false))
        await using (output.ConfigureAwait(false))
        {
            await synchronizer.ServeAsync(request, input, output, ct).ConfigureAwait(false);
            await output.FlushAsync(ct).ConfigureAwait(false);
        }
        await _connection.SendDataEndAsync(channel.Id, ct).ConfigureAwait(false);
    }

    /// <summary>How a snapshot the client asks for is recorded (<c>createdUtc</c>, <c>receivedFrom</c>).</summary>
    private static SnapshotCreateOptions SnapshotOptions(ControlMessage r) => new()
    {
        CreatedUtc = r.CreatedUtc,
        ReceivedFrom = r.ReceivedFrom is null ? null : SnapshotIdentity.Parse(r.ReceivedFrom),
    };

    /// <summary>Gives back a snapshot's view (not the request's token: a cancelled request still releases); a failure is logged.</summary>
    private async Task ReleasePathAsync(Volume volume, string snapshot)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await volume.ReleasePathAsync(snapshot, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DeltaSnapException or IOException or InvalidOperationException or OperationCanceledException)
        {
            Log.RequestFailed(_logger, 0, "volume.treeServer (release)", _peer.Name, e.Message);
        }
    }

    /// <summary>Runs <paramref name="produce"/> into the request's channel, then ends the channel's data.</summary>
    private async Task DownloadAsync(DataChannel channel, bool precompressed, Func<Stream, CancellationToken, Task> produce, CancellationToken ct)
    {
        var stream = new ChannelWriteStream(_connection, channel, precompressed, ct);
        await using (stream.ConfigureAwait(false))
        {
            await produce(stream, ct).ConfigureAwait(false);
            await stream.FlushAsync(ct).ConfigureAwait(false);
        }
        await _connection.SendDataEndAsync(channel.Id, ct).ConfigureAwait(false);
    }

    // ---- handles and checks ----

    private VolumeMessage Register(Volume volume, string address, bool ownsDriver)
    {
        var driverHandle = 0L;
        if (ownsDriver)
        {
            var parsed = _resolver.ParseAddress(address);
            driverHandle = Add(new DriverEntry(volume.Driver, address, parsed.Scheme, parsed.Location, volume.Name));
        }
        var handle = Add(new VolumeEntry(volume, address));
        return new VolumeMessage
        {
            Handle = handle,
            Name = volume.Name,
            Kind = volume.Kind,
            Address = ownsDriver ? address : volume.Address,
            Driver = ownsDriver ? Describe(volume.Driver, driverHandle) : null,
        };
    }

    private static DriverMessage Describe(VolumeDriver driver, long handle) => new()
    {
        Handle = handle,
        Scheme = driver.Scheme,
        Capabilities = driver.Capabilities,
        PayloadKind = (int)driver.NativePayloadKind,
        VolumeNameRules = NameRulesMessage.From(driver.VolumeNameRules),
        SnapshotNameRules = NameRulesMessage.From(driver.SnapshotNameRules),
    };

    private long Add(HandleEntry entry)
    {
        var handle = Interlocked.Increment(ref _nextHandle);
        _handles[handle] = entry;
        return handle;
    }

    private T Get<T>(ControlMessage request)
        where T : HandleEntry
    {
        var handle = Required(request.Handle, "handle");
        return _handles.TryGetValue(handle, out var entry) && entry is T typed
            ? typed
            : throw new ArgumentException($"Handle {handle} is not an open {typeof(T).Name.Replace("Entry", "", StringComparison.Ordinal).ToLowerInvariant()} of this session.");
    }

    /// <summary>
    /// The address of volume <paramref name="name"/> at the driver's location, which a request about that volume is
    /// authorised against (never the address the driver came with: write access to one volume is no licence to delete
    /// its neighbour). It is the address the backend itself parses back to this location and to <paramref name="name"/>
    /// (or to LOCATION/NAME, for backends whose names carry their pool); the request then uses the name as parsed, so
    /// what is authorised is what is opened. A name for which there is none (traversal, separators) is refused. A
    /// backend that parses no address of these forms (one registered to open drivers only) is authorised against the
    /// location for a driver opened there, and a driver that came with a volume serves only that volume.
    /// </summary>
    private VolumeAddress VolumeAddressOf(string op, DriverEntry entry, string name)
    {
        var location = entry.Location.TrimEnd('/');
        var parsedAny = false;
        foreach (var candidate in new[] { $"{entry.Scheme}:{entry.Location}#{name}", $"{entry.Scheme}:{location}/{name}", $"{entry.Scheme}:{name}" })
        {
            try
            {
                var parsed = _resolver.ParseAddress(candidate);
                parsedAny = true;
                if (string.Equals(parsed.Scheme, entry.Scheme, StringComparison.OrdinalIgnoreCase)
                    && parsed.Location.TrimEnd('/') == location
                    && (parsed.Name == name || parsed.Name == $"{location}/{name}"))
                {
                    return parsed;
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                // Not this form.
            }
        }
        if (!parsedAny && (entry.VolumeName is null || entry.VolumeName == name))
        {
            return new VolumeAddress(entry.Scheme, entry.Location, name) { Text = entry.VolumeName is null ? entry.LocationAddress : entry.Address };
        }
        Log.RequestRefused(_logger, op, $"{entry.LocationAddress} + '{name}'", VolumeAccess.Read, _peer.Name);
        throw new UnauthorizedAccessException($"'{name}' does not name a volume at {entry.LocationAddress} ({op}).");
    }

    private void Authorize(string op, string address, VolumeAccess access)
    {
        if (_options.Authorize is { } authorize && !authorize(_peer, address, access))
        {
            Log.RequestRefused(_logger, op, address, access, _peer.Name);
            throw new UnauthorizedAccessException($"{_peer.Name} may not {(access == VolumeAccess.Read ? "read" : "change")} {address} ({op}).");
        }
    }

    /// <summary>An XXH128 digest as 32 hex digits.</summary>
    private static UInt128 ParseDigest(string hex) =>
        hex.Length == 32 && UInt128.TryParse(hex, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new ArgumentException($"The prefix digest '{hex}' is not 32 hex digits.");

    private static VolumeCreateOptions CreateOptions(ControlMessage r) => new() { Kind = r.Kind ?? VolumeKind.Block, Size = r.Size ?? 0, Thin = r.Thin ?? true };

    private static List<ByteRange> Ranges(ControlMessage r) =>
        Required(r.Ranges, "ranges").Select(x => x.Length == 2 ? new ByteRange(x[0], x[1]) : throw new ArgumentException("A range is [offset, length].")).ToList();

    private static T Required<T>(T? value, string name)
        where T : class => value ?? throw new ArgumentException($"The request lacks '{name}'.");

    private static T Required<T>(T? value, string name)
        where T : struct => value ?? throw new ArgumentException($"The request lacks '{name}'.");

    /// <summary>Cancels what runs, waits for it, then disposes every device and driver the session opened (devices first).</summary>
    private async Task ReleaseAllAsync()
    {
        foreach (var cts in _running.Values)
        {
            try
            {
                cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
        try
        {
            await Task.WhenAll(_tasks.Values).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Operations that ignore cancellation are left to finish on their own.
        }
        var entries = _handles.Values.OrderBy(e => e is DeviceEntry ? 0 : e is VolumeEntry ? 1 : 2).ToList();
        _handles.Clear();
        foreach (var entry in entries)
        {
            try
            {
                await entry.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is DeltaSnapException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                Log.RequestFailed(_logger, 0, "release", _peer.Name, e.Message);
            }
        }
        Log.SessionReleased(_logger, _peer.Name, entries.Count);
    }

    private abstract class HandleEntry(string address)
    {
        public string Address { get; } = address;

        public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A driver handed out (by <c>driver.open</c>, or with an opened or created volume), and where it is.</summary>
    private sealed class DriverEntry(VolumeDriver driver, string address, string scheme, string location, string? volumeName = null) : HandleEntry(address)
    {
        public VolumeDriver Driver { get; } = driver;

        /// <summary>The volume the driver came with (by <c>volume.open</c> or <c>volume.create</c>); null for <c>driver.open</c>.</summary>
        public string? VolumeName { get; } = volumeName;

        public string Scheme { get; } = scheme;

        public string Location { get; } = location;

        /// <summary><c>SCHEME:LOCATION</c>, the address listing is authorised against.</summary>
        public string LocationAddress => $"{Scheme}:{Location}";

        public override ValueTask DisposeAsync() => Driver.DisposeAsync();
    }

    private sealed class VolumeEntry(Volume volume, string address) : HandleEntry(address)
    {
        public Volume Volume { get; } = volume;
    }

    /// <summary>A volume's refresh lock, held for the client (by <c>volume.lockForRefresh</c>).</summary>
    private sealed class LockEntry(IAsyncDisposable held, string address) : HandleEntry(address)
    {
        public override ValueTask DisposeAsync() => held.DisposeAsync();
    }

    private sealed class DeviceEntry(BlockDevice device, string address, bool writable) : HandleEntry(address)
    {
        public BlockDevice Device { get; } = device;

        public bool Writable { get; } = writable;

        public override ValueTask DisposeAsync() => Device.DisposeAsync();
    }
}
