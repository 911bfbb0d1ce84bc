using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace DeltaSnap.Lvol;

/// <summary>
/// A JSON-RPC 2.0 client for SPDK's lvol methods and Longhorn's delta-rebuild additions, over a Unix domain socket:
/// <see cref="LvolRpcServer"/>, or a real SPDK target running Longhorn's fork (it sends only the public method and
/// parameter shapes). One call at a time per connection; use several clients for concurrent calls.
/// </summary>
public sealed class SpdkRpcClient : IAsyncDisposable, IDisposable
{
    private static readonly SpdkJsonContext Json = SpdkJsonContext.Default;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly JsonValueFramer _framer = new(256 << 20);
    private long _nextId;

    private SpdkRpcClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>How long one call may take before it fails (default 10 minutes: checksums of large snapshots take time).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Connects to the server listening on <paramref name="socketPath"/>.</summary>
    /// <exception cref="SocketException">Nothing listens there.</exception>
    public static async Task<SpdkRpcClient> ConnectAsync(string socketPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new SpdkRpcClient(socket);
    }

    /// <summary><c>bdev_lvol_get_lvstores</c>: the stores (all, or the one named).</summary>
    public Task<List<SpdkLvstoreInfo>> BdevLvolGetLvstoresAsync(string? lvsName = null, string? uuid = null, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_get_lvstores", new SpdkLvstoreFilterParams { LvsName = lvsName, Uuid = uuid }, Json.SpdkLvstoreFilterParams, Json.ListSpdkLvstoreInfo, cancellationToken);

    /// <summary><c>bdev_lvol_get_lvols</c>: the lvols (of all stores, or of the one named).</summary>
    public Task<List<SpdkLvolInfo>> BdevLvolGetLvolsAsync(string? lvsName = null, string? lvsUuid = null, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_get_lvols", new SpdkLvstoreFilterParams { LvsName = lvsName, LvsUuid = lvsUuid }, Json.SpdkLvstoreFilterParams, Json.ListSpdkLvolInfo, cancellationToken);

    /// <summary><c>bdev_get_bdevs</c>: every bdev, or the one named.</summary>
    public Task<List<SpdkBdevInfo>> BdevGetBdevsAsync(string? name = null, ulong timeout = 0, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_get_bdevs", new SpdkGetBdevsParams { Name = name, Timeout = timeout == 0 ? null : timeout }, Json.SpdkGetBdevsParams, Json.ListSpdkBdevInfo, cancellationToken);

    /// <summary><c>bdev_lvol_create</c>: creates an lvol; returns its UUID. Give the store's name or its UUID.</summary>
    public Task<string> BdevLvolCreateAsync(string? lvsName, string? lvsUuid, string lvolName, ulong sizeInMib, string? clearMethod = null, bool thinProvision = true,
        CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_create", new SpdkLvolCreateParams
        {
            LvsName = lvsName,
            Uuid = lvsUuid,
            LvolName = lvolName,
            SizeInMib = sizeInMib,
            ClearMethod = clearMethod,
            ThinProvision = thinProvision,
        }, Json.SpdkLvolCreateParams, Json.String, cancellationToken);

    /// <summary><c>bdev_lvol_snapshot</c>: snapshots lvol <paramref name="name"/>; returns the snapshot's UUID.</summary>
    public Task<string> BdevLvolSnapshotAsync(string name, string snapshotName, IReadOnlyDictionary<string, string>? xattrs = null, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_snapshot", new SpdkLvolSnapshotParams
        {
            LvolName = name,
            SnapshotName = snapshotName,
            Xattrs = xattrs?.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
        }, Json.SpdkLvolSnapshotParams, Json.String, cancellationToken);

    /// <summary><c>bdev_lvol_clone</c>: clones a snapshot; returns the clone's UUID.</summary>
    public Task<string> BdevLvolCloneAsync(string snapshot, string cloneName, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_clone", new SpdkLvolCloneParams { SnapshotName = snapshot, CloneName = cloneName }, Json.SpdkLvolCloneParams, Json.String, cancellationToken);

    /// <summary><c>bdev_lvol_delete</c>.</summary>
    public Task<bool> BdevLvolDeleteAsync(string name, CancellationToken cancellationToken = default) => NameCallAsync("bdev_lvol_delete", name, cancellationToken);

    /// <summary><c>bdev_lvol_rename</c>.</summary>
    public Task<bool> BdevLvolRenameAsync(string oldName, string newName, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_rename", new SpdkLvolRenameParams { OldName = oldName, NewName = newName }, Json.SpdkLvolRenameParams, Json.Boolean, cancellationToken);

    /// <summary><c>bdev_lvol_resize</c>.</summary>
    public Task<bool> BdevLvolResizeAsync(string name, ulong sizeInMib, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_resize", new SpdkLvolResizeParams { Name = name, SizeInMib = sizeInMib }, Json.SpdkLvolResizeParams, Json.Boolean, cancellationToken);

    /// <summary><c>bdev_lvol_inflate</c>.</summary>
    public Task<bool> BdevLvolInflateAsync(string name, CancellationToken cancellationToken = default) => NameCallAsync("bdev_lvol_inflate", name, cancellationToken);

    /// <summary><c>bdev_lvol_decouple_parent</c>.</summary>
    public Task<bool> BdevLvolDecoupleParentAsync(string name, CancellationToken cancellationToken = default) => NameCallAsync("bdev_lvol_decouple_parent", name, cancellationToken);

    /// <summary><c>bdev_lvol_detach_parent</c>.</summary>
    public Task<bool> BdevLvolDetachParentAsync(string name, CancellationToken cancellationToken = default) => NameCallAsync("bdev_lvol_detach_parent", name, cancellationToken);

    /// <summary><c>bdev_lvol_set_parent</c>.</summary>
    public Task<bool> BdevLvolSetParentAsync(string lvol, string parent, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_set_parent", new SpdkSetParentParams { LvolName = lvol, ParentName = parent }, Json.SpdkSetParentParams, Json.Boolean, cancellationToken);

    /// <summary><c>bdev_lvol_set_xattr</c>.</summary>
    public Task<bool> BdevLvolSetXattrAsync(string name, string xattrName, string xattrValue, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_set_xattr", new SpdkSetXattrParams { Name = name, XattrName = xattrName, XattrValue = xattrValue }, Json.SpdkSetXattrParams, Json.Boolean, cancellationToken);

    /// <summary><c>bdev_lvol_get_xattr</c>.</summary>
    public Task<string> BdevLvolGetXattrAsync(string name, string xattrName, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_get_xattr", new SpdkGetXattrParams { Name = name, XattrName = xattrName }, Json.SpdkGetXattrParams, Json.String, cancellationToken);

    /// <summary><c>bdev_lvol_get_fragmap</c>: the lvol's own clusters over <c>[offset, offset + size)</c> (size 0: to the end).</summary>
    public Task<SpdkFragmap> BdevLvolGetFragmapAsync(string name, ulong offset = 0, ulong size = 0, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_get_fragmap", new SpdkFragmapParams { Name = name, Offset = offset, Size = size }, Json.SpdkFragmapParams, Json.SpdkFragmap, cancellationToken);

    /// <summary><c>bdev_lvol_register_snapshot_checksum</c>.</summary>
    public Task<bool> BdevLvolRegisterSnapshotChecksumAsync(string name, CancellationToken cancellationToken = default) =>
        NameCallAsync("bdev_lvol_register_snapshot_checksum", name, cancellationToken);

    /// <summary><c>bdev_lvol_get_snapshot_checksum</c>.</summary>
    public async Task<ulong> BdevLvolGetSnapshotChecksumAsync(string name, CancellationToken cancellationToken = default) =>
        (await CallAsync("bdev_lvol_get_snapshot_checksum", new SpdkNameParams { Name = name }, Json.SpdkNameParams, Json.SpdkSnapshotChecksum, cancellationToken).ConfigureAwait(false)).Checksum;

    /// <summary><c>bdev_lvol_register_snapshot_range_checksums</c>.</summary>
    public Task<bool> BdevLvolRegisterRangeChecksumsAsync(string name, CancellationToken cancellationToken = default) =>
        NameCallAsync("bdev_lvol_register_snapshot_range_checksums", name, cancellationToken);

    /// <summary>
    /// <c>bdev_lvol_get_snapshot_range_checksums</c>: cluster index → checksum, one entry per cluster of the window
    /// (0 for a cluster the snapshot does not hold).
    /// </summary>
    public async Task<IReadOnlyDictionary<ulong, ulong>> BdevLvolGetRangeChecksumsAsync(string name, ulong clusterStartIndex, ulong clusterCount, CancellationToken cancellationToken = default)
    {
        var list = await CallAsync("bdev_lvol_get_snapshot_range_checksums",
            new SpdkRangeChecksumsParams { Name = name, ClusterStartIndex = clusterStartIndex, ClusterCount = clusterCount },
            Json.SpdkRangeChecksumsParams, Json.ListSpdkRangeChecksum, cancellationToken).ConfigureAwait(false);
        return list.ToDictionary(c => c.ClusterIndex, c => c.Checksum);
    }

    /// <summary><c>bdev_lvol_stop_snapshot_checksum</c>: true when a registration was running (it then fails with EINTR).</summary>
    /// <exception cref="SpdkRpcException">Code -3 (ESRCH): nothing was running.</exception>
    public Task<bool> BdevLvolStopSnapshotChecksumAsync(string name, CancellationToken cancellationToken = default) =>
        NameCallAsync("bdev_lvol_stop_snapshot_checksum", name, cancellationToken);

    /// <summary><c>bdev_lvol_start_shallow_copy</c>: returns the operation id.</summary>
    public async Task<uint> BdevLvolStartShallowCopyAsync(string srcLvolName, string dstBdevName, CancellationToken cancellationToken = default) =>
        (await CallAsync("bdev_lvol_start_shallow_copy", new SpdkShallowCopyParams { SrcLvolName = srcLvolName, DstBdevName = dstBdevName },
            Json.SpdkShallowCopyParams, Json.SpdkOperationId, cancellationToken).ConfigureAwait(false)).OperationId;

    /// <summary><c>bdev_lvol_start_range_shallow_copy</c>: returns the operation id.</summary>
    public async Task<uint> BdevLvolStartRangeShallowCopyAsync(string srcLvolName, string dstBdevName, IReadOnlyList<ulong> clusters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clusters);
        return (await CallAsync("bdev_lvol_start_range_shallow_copy", new SpdkRangeShallowCopyParams { SrcLvolName = srcLvolName, DstBdevName = dstBdevName, Clusters = clusters.ToArray() },
            Json.SpdkRangeShallowCopyParams, Json.SpdkOperationId, cancellationToken).ConfigureAwait(false)).OperationId;
    }

    /// <summary><c>bdev_lvol_check_shallow_copy</c>.</summary>
    public Task<SpdkShallowCopyStatus> BdevLvolCheckShallowCopyAsync(uint operationId, CancellationToken cancellationToken = default) =>
        CallAsync("bdev_lvol_check_shallow_copy", new SpdkOperationId { OperationId = operationId }, Json.SpdkOperationId, Json.SpdkShallowCopyStatus, cancellationToken);

    /// <summary>
    /// Sends <paramref name="method"/> with <paramref name="parametersJson"/> (a JSON object, or null for none) and
    /// returns the result's JSON.
    /// </summary>
    /// <exception cref="SpdkRpcException">The server answered with an error.</exception>
    public async Task<string> CallRawAsync(string method, string? parametersJson, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        using var parameters = parametersJson is null ? null : JsonDocument.Parse(parametersJson);
        var result = await SendAsync(method, w =>
        {
            if (parameters is not null)
            {
                w.WritePropertyName("params");
                parameters.RootElement.WriteTo(w);
            }
        }, cancellationToken).ConfigureAwait(false);
        return result.GetRawText();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stream.Dispose();
        _gate.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    private Task<bool> NameCallAsync(string method, string name, CancellationToken cancellationToken) =>
        CallAsync(method, new SpdkNameParams { Name = name }, Json.SpdkNameParams, Json.Boolean, cancellationToken);

    private async Task<TResult> CallAsync<TParams, TResult>(string method, TParams parameters, JsonTypeInfo<TParams> parametersType, JsonTypeInfo<TResult> resultType,
        CancellationToken cancellationToken)
    {
        var result = await SendAsync(method, w =>
        {
            w.WritePropertyName("params");
            JsonSerializer.Serialize(w, parameters, parametersType);
        }, cancellationToken).ConfigureAwait(false);
        try
        {
            return result.Deserialize(resultType) ?? throw new SpdkRpcException(method, LvolRpcServer.InternalError, $"{method} returned null.");
        }
        catch (JsonException e)
        {
            throw new SpdkRpcException(method, LvolRpcServer.ParseError, $"{method} returned a result of an unexpected shape: {e.Message}", e);
        }
    }

    private async Task<JsonElement> SendAsync(string method, Action<Utf8JsonWriter> writeParameters, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(!_socket.Connected && _socket.SafeHandle.IsClosed, this);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        await _gate.WaitAsync(timeout.Token).ConfigureAwait(false);
        try
        {
            var id = Interlocked.Increment(ref _nextId);
            using var request = new MemoryStream();
            using (var w = new Utf8JsonWriter(request))
            {
                w.WriteStartObject();
                w.WriteString("jsonrpc", "2.0");
                w.WriteString("method", method);
                w.WriteNumber("id", id);
                writeParameters(w);
                w.WriteEndObject();
            }
            await _stream.WriteAsync(request.GetBuffer().AsMemory(0, (int)request.Length), timeout.Token).ConfigureAwait(false);
            while (true)
            {
                var response = await ReadValueAsync(timeout.Token).ConfigureAwait(false);
                using var document = JsonDocument.Parse(response);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("id", out var responseId))
                {
                    throw new SpdkRpcException(method, LvolRpcServer.InvalidRequest, $"The server answered {method} with something that is not a JSON-RPC response.");
                }
                if (responseId.ValueKind == JsonValueKind.Number && responseId.TryGetInt64(out var n) && n != id)
                {
                    continue; // an answer to an earlier, abandoned call
                }
                if (root.TryGetProperty("error", out var error))
                {
                    var code = error.TryGetProperty("code", out var c) && c.TryGetInt32(out var ci) ? ci : LvolRpcServer.InternalError;
                    var message = error.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "";
                    throw new SpdkRpcException(method, code, message);
                }
                if (!root.TryGetProperty("result", out var result))
                {
                    throw new SpdkRpcException(method, LvolRpcServer.InvalidRequest, $"The server's answer to {method} has neither result nor error.");
                }
                return result.Clone();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReadValueAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (_framer.TryTake(out var value))
            {
                case JsonValueFramer.Result.Value:
                    return value;
                case JsonValueFramer.Result.Malformed:
                    throw new SpdkRpcException("", LvolRpcServer.ParseError, "The server sent something that is not JSON.");
                default:
                    break;
            }
            var read = await _stream.ReadAsync(_framer.GetWriteBuffer(), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("The JSON-RPC server closed the connection.");
            }
            _framer.Advance(read);
        }
    }
}
