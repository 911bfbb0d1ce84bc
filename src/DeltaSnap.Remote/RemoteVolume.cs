using System.Buffers.Binary;
using DeltaSnap.Checksums;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Remote;

/// <summary>
/// A volume on the other end of a <see cref="RemoteSession"/>: every operation is a request the server runs on the real
/// volume, so the <see cref="DeltaSnap.Replication.Replicator"/> refreshes to, from and between remote volumes as it does
/// locally. Native receives are checked on the server (its volume's own header check); block devices are
/// <see cref="DeltaSnap.Delta.DigestingBlockDevice"/>s, so comparing them moves digests, not bytes. Paths are not
/// available remotely: the rsync route runs <c>rsync --server</c> on the server through the session instead.
/// </summary>
public sealed class RemoteVolume : Volume
{
    private readonly RemoteVolumeDriver _driver;
    private readonly long _handle;

    internal RemoteVolume(RemoteVolumeDriver driver, VolumeMessage message)
        : base(driver, message.Name, message.Kind)
    {
        _driver = driver;
        _handle = message.Handle;
        RemoteAddress = message.Address;
    }

    /// <summary>The volume's address on the server (<c>zfs:pool/vm</c>).</summary>
    public string RemoteAddress { get; }

    /// <summary>The peer's name, <c>/</c>, and the address on the server (<c>ssh://backup1/zfs:pool/vm</c>).</summary>
    public override string Address => $"{_driver.PeerName}/{RemoteAddress}";

    private ClientSession Session => _driver.Session;

    private Task<ControlMessage> CallAsync(ControlMessage request, CancellationToken cancellationToken)
    {
        request.Handle = _handle;
        return Session.CallAsync(request, cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) =>
        (await CallAsync(new ControlMessage { Op = "volume.size" }, cancellationToken).ConfigureAwait(false)).Value ?? 0;

    /// <inheritdoc />
    protected override Task ResizeCoreAsync(long size, CancellationToken cancellationToken) =>
        CallAsync(new ControlMessage { Op = "volume.resize", Size = size }, cancellationToken);

    /// <inheritdoc />
    protected override async Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken)
    {
        var answer = await CallAsync(new ControlMessage { Op = "volume.lineage" }, cancellationToken).ConfigureAwait(false);
        return new SnapshotLineage((answer.Lineage ?? []).Select(s => s.ToInfo()));
    }

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken)
    {
        var answer = await CallAsync(new ControlMessage
        {
            Op = "volume.createSnapshot",
            Snapshot = name,
            CreatedUtc = options.CreatedUtc,
            ReceivedFrom = options.ReceivedFrom?.ToString(),
        }, cancellationToken).ConfigureAwait(false);
        return (answer.Result ?? throw Session.Missing("volume.createSnapshot", "snapshot")).ToInfo();
    }

    /// <inheritdoc />
    protected override Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken) =>
        CallAsync(new ControlMessage { Op = "volume.deleteSnapshot", Snapshot = name }, cancellationToken);

    /// <inheritdoc />
    protected override async Task<IAsyncDisposable> LockForRefreshCoreAsync(CancellationToken cancellationToken)
    {
        if (!Session.PeerSupports(ClientSession.RefreshLockFeature))
        {
            return await base.LockForRefreshCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        var answer = await CallAsync(new ControlMessage { Op = "volume.lockForRefresh" }, cancellationToken).ConfigureAwait(false);
        return new HeldRefreshLock(Session, answer.Handle ?? throw Session.Missing("volume.lockForRefresh", "handle"));
    }

    /// <inheritdoc />
    protected override Task RemoveLeftoversCoreAsync(CancellationToken cancellationToken) =>
        Session.PeerSupports(ClientSession.RemoveLeftoversFeature)
            ? CallAsync(new ControlMessage { Op = "volume.removeLeftovers" }, cancellationToken)
            : Task.CompletedTask;

    /// <inheritdoc />
    protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken) =>
        CallAsync(new ControlMessage { Op = "volume.rollback", Snapshot = name }, cancellationToken);

    /// <inheritdoc />
    protected override Task RenameSnapshotCoreAsync(string name, string newName, CancellationToken cancellationToken) =>
        CallAsync(new ControlMessage { Op = "volume.renameSnapshot", Snapshot = name, NewName = newName }, cancellationToken);

    /// <inheritdoc />
    protected override Task PromoteCoreAsync(string snapshot, CancellationToken cancellationToken) =>
        CallAsync(new ControlMessage { Op = "volume.promote", Snapshot = snapshot }, cancellationToken);

    /// <inheritdoc />
    protected override async Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken)
    {
        var answer = await CallAsync(new ControlMessage { Op = "volume.openDevice", Snapshot = snapshot, Writable = writable }, cancellationToken).ConfigureAwait(false);
        return new RemoteBlockDevice(Session, answer.Device ?? throw Session.Missing("volume.openDevice", "device"));
    }

    /// <summary>Not available: paths of file system volumes on another machine are not reachable from here (see <see cref="RunTreeServerCoreAsync"/>).</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    protected override Task<string> GetPathCoreAsync(string? snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException(
            $"{Address} is on {_driver.PeerName}: paths of remote file system volumes are not available here; the rsync route reaches the tree through the session.");

    /// <summary>
    /// <c>volume.treeServer</c>: the server checks <paramref name="arguments"/> with its own tree synchronizer and runs them
    /// on the snapshot's tree (read) or the live tree (written); the request's channel carries the server half's standard
    /// input one way and its standard output the other.
    /// </summary>
    protected override Task RunTreeServerCoreAsync(string? snapshot, IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task> writeInput,
        Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken) =>
        Session.CallDuplexAsync(new ControlMessage { Op = "volume.treeServer", Handle = _handle, Snapshot = snapshot, Arguments = [.. arguments] },
            writeInput, readOutput, cancellationToken);

    /// <summary>
    /// <c>volume.receiveTree</c>: as <c>volume.treeServer</c> on the live tree, but the server receives into a fresh
    /// directory (its volume's <see cref="Volume.ReceiveTreeAsync"/>), adds the <c>--link-dest</c> of its newest snapshot
    /// itself, and makes the directory the snapshot (answered) or the live tree.
    /// </summary>
    protected override async Task<SnapshotInfo?> ReceiveTreeServerCoreAsync(string? snapshot, SnapshotCreateOptions options, IReadOnlyList<string> arguments,
        Func<Stream, CancellationToken, Task> writeInput, Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken)
    {
        var answer = await Session.CallDuplexAsync(new ControlMessage
        {
            Op = "volume.receiveTree",
            Handle = _handle,
            Snapshot = snapshot,
            CreatedUtc = options.CreatedUtc,
            ReceivedFrom = options.ReceivedFrom?.ToString(),
            Arguments = [.. arguments],
        }, writeInput, readOutput, cancellationToken).ConfigureAwait(false);
        return snapshot is null ? null : (answer.Result ?? throw Session.Missing("volume.receiveTree", "result")).ToInfo();
    }

    /// <inheritdoc />
    protected override async Task SendCoreAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions options, CancellationToken cancellationToken) =>
        await Session.CallAsync(SendRequest(baseSnapshot, snapshot, options), upload: null, (stream, token) => stream.CopyToAsync(destination, 1 << 20, token), cancellationToken)
            .ConfigureAwait(false);

    /// <summary>
    /// <c>volume.send</c> with <c>prefixLength</c> and <c>prefixDigest</c>: the server reads the stream's first bytes and
    /// checks their digest where the volume is, and only what follows crosses the wire. A server that did not announce
    /// <c>send-after-prefix</c> (an older one) gets the plain request; the whole stream then crosses the wire and the prefix
    /// is checked and dropped here, as <see cref="Volume"/>'s default does.
    /// </summary>
    /// <returns>Whether the stream began with the prefix (false: nothing was written; the server found another stream).</returns>
    protected override async Task<bool> SendAfterPrefixCoreAsync(string? baseSnapshot, string snapshot, long prefixLength, UInt128 prefixDigest, Stream destination,
        NativeSendOptions options, CancellationToken cancellationToken)
    {
        if (prefixLength == 0)
        {
            await SendCoreAsync(baseSnapshot, snapshot, destination, options, cancellationToken).ConfigureAwait(false);
            return true;
        }
        if (!Session.PeerSupports(ClientSession.SendAfterPrefixFeature))
        {
            Log.PrefixNotSkippedByPeer(Logger, _driver.PeerName, snapshot, prefixLength);
            return await base.SendAfterPrefixCoreAsync(baseSnapshot, snapshot, prefixLength, prefixDigest, destination, options, cancellationToken).ConfigureAwait(false);
        }
        var request = SendRequest(baseSnapshot, snapshot, options);
        var digest = prefixDigest.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);
        request.PrefixLength = prefixLength;
        request.PrefixDigest = digest;
        var answer = await Session.CallAsync(request, upload: null, (stream, token) => stream.CopyToAsync(destination, 1 << 20, token), cancellationToken)
            .ConfigureAwait(false);
        var matched = answer.Flag ?? throw Session.Missing("volume.send with a prefix", "flag saying whether the prefix matched");
        if (!matched)
        {
            Log.PrefixRefusedByPeer(Logger, _driver.PeerName, snapshot, prefixLength, digest);
        }
        return matched;
    }

    private ControlMessage SendRequest(string? baseSnapshot, string snapshot, NativeSendOptions options) => new()
    {
        Op = "volume.send",
        Handle = _handle,
        Base = baseSnapshot,
        Snapshot = snapshot,
        Compressed = options.Compressed ? true : null,
        Raw = options.Raw ? true : null,
        ResumeToken = options.ResumeToken,
    };

    /// <summary>The server's volume checks the stream against its own state; nothing is read here.</summary>
    protected override Task<NativeReceiveTarget> ReadNativeReceiveTargetCoreAsync(NativeReceiveRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(new NativeReceiveTarget(SnapshotLineage.Empty));

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> ReceiveCoreAsync(Stream source, NativeReceiveRequest request, Drivers.NativeStreamHeader? header, NativeReceiveTarget target,
        CancellationToken cancellationToken)
    {
        var message = new ControlMessage
        {
            Op = "volume.receive",
            Handle = _handle,
            Info = SnapshotMessage.From(request.Snapshot),
            TargetBase = request.TargetBase is null ? null : SnapshotMessage.From(request.TargetBase),
            Resumable = request.Resumable ? true : null,
        };
        var answer = await Session.CallAsync(message, (stream, token) => source.CopyToAsync(stream, 1 << 20, token), download: null, cancellationToken).ConfigureAwait(false);
        return (answer.Result ?? throw Session.Missing("volume.receive", "snapshot")).ToInfo();
    }

    /// <inheritdoc />
    protected override async Task<RangeSet> GetChangedRangesCoreAsync(string? baseSnapshot, string snapshot, CancellationToken cancellationToken)
    {
        var set = new RangeSet();
        var request = new ControlMessage { Op = "volume.changedRanges", Handle = _handle, Base = baseSnapshot, Snapshot = snapshot };
        await Session.CallAsync(request, upload: null, async (stream, token) =>
        {
            await foreach (var range in RangeCodec.ReadAsync(stream, token).ConfigureAwait(false))
            {
                set.Add(range);
            }
        }, cancellationToken).ConfigureAwait(false);
        return set;
    }

    /// <summary>The map the server has stored, or computes there from the snapshot (the volume's bytes never cross the session for it).</summary>
    protected override async Task<ClusterChecksums?> GetStoredChecksumsCoreAsync(string snapshot, ClusterChecksumOptions options, CancellationToken cancellationToken)
    {
        ClusterChecksums? map = null;
        var request = new ControlMessage
        {
            Op = "volume.checksums",
            Handle = _handle,
            Snapshot = snapshot,
            ClusterSize = options.ClusterSize,
            Algorithm = (int)options.Algorithm,
        };
        await Session.CallAsync(request, upload: null, async (stream, token) =>
        {
            // An empty stream: the server has no map and cannot compute one (a custom algorithm).
            var probe = new BufferedStream(stream, 64 << 10);
            var first = new byte[1];
            if (await probe.ReadAsync(first, token).ConfigureAwait(false) == 0)
            {
                return;
            }
            map = await ClusterChecksums.LoadAsync(new PrefixedStream(first, probe), token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return map;
    }

    /// <inheritdoc />
    protected override async Task StoreChecksumsCoreAsync(string snapshot, ClusterChecksums map, CancellationToken cancellationToken)
    {
        if (!_driver.RemoteCapabilities.HasFlag(DriverCapabilities.StoredChecksums))
        {
            return;
        }
        var request = new ControlMessage { Op = "volume.storeChecksums", Handle = _handle, Snapshot = snapshot };
        await Session.CallAsync(request, (stream, token) => map.SaveAsync(stream, token), download: null, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Byte ranges on the data plane: 16 bytes each, offset then length (u64, big-endian).</summary>
internal static class RangeCodec
{
    public static async Task WriteAsync(Stream destination, IEnumerable<ByteRange> ranges, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 4096];
        var used = 0;
        foreach (var range in ranges)
        {
            BinaryPrimitives.WriteInt64BigEndian(buffer.AsSpan(used), range.Offset);
            BinaryPrimitives.WriteInt64BigEndian(buffer.AsSpan(used + 8), range.Length);
            used += 16;
            if (used == buffer.Length)
            {
                await destination.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
                used = 0;
            }
        }
        if (used > 0)
        {
            await destination.WriteAsync(buffer.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
        }
    }

    public static async IAsyncEnumerable<ByteRange> ReadAsync(Stream source, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var entry = new byte[16];
        while (true)
        {
            var read = await source.ReadAtLeastAsync(entry, 16, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                yield break;
            }
            if (read < 16)
            {
                throw new SessionException(SessionErrorReason.ProtocolViolation, "A list of ranges ends inside an entry.");
            }
            var offset = BinaryPrimitives.ReadInt64BigEndian(entry);
            var length = BinaryPrimitives.ReadInt64BigEndian(entry.AsSpan(8));
            if (offset < 0 || length < 0 || offset > long.MaxValue - length)
            {
                throw new SessionException(SessionErrorReason.ProtocolViolation, $"A list of ranges holds [{offset}, +{length}).");
            }
            yield return new ByteRange(offset, length);
        }
    }
}

/// <summary>A read-only stream that yields some bytes already read, then the rest of another stream.</summary>
internal sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
{
    private int _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position < prefix.Length)
        {
            var n = Math.Min(buffer.Length, prefix.Length - _position);
            prefix.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }
        return await rest.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A refresh lock the server holds for this session; disposing it releases it there (ending the session does too).</summary>
internal sealed class HeldRefreshLock(ClientSession session, long handle) : IAsyncDisposable
{
    private int _released;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            await session.ReleaseAsync(handle).ConfigureAwait(false);
        }
    }
}
