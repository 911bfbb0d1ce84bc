using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DeltaSnap.Copy;
using DeltaSnap.Devices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Lvol;

/// <summary>
/// Serves lvol stores over JSON-RPC 2.0 on a Unix domain socket with SPDK's method and parameter names and Longhorn's
/// delta-rebuild methods (fragmaps, snapshot and range checksums, shallow copies, set/detach parent), so a tool
/// written against SPDK with Longhorn's fork can drive them. Malformed requests get JSON-RPC errors (-32700, -32600,
/// -32601, -32602) and the server keeps serving; failures of the store answer with SPDK's negative errno.
/// </summary>
/// <remarks>
/// Lvols are named as in SPDK: by UUID (the bdev name), by <c>LVS/LVOL</c> alias, or by name when that is unique
/// across the stores served. Shallow copies write to an lvol of a served store, or to a device registered with
/// <see cref="RegisterBdev"/> (what an NVMe-oF attach of a remote replica is to SPDK).
/// </remarks>
public sealed class LvolRpcServer : IAsyncDisposable
{
    /// <summary>JSON-RPC: the request is not JSON.</summary>
    public const int ParseError = -32700;

    /// <summary>JSON-RPC: the JSON is not a request.</summary>
    public const int InvalidRequest = -32600;

    /// <summary>JSON-RPC: no such method.</summary>
    public const int MethodNotFound = -32601;

    /// <summary>JSON-RPC: the parameters do not fit the method.</summary>
    public const int InvalidParams = -32602;

    /// <summary>JSON-RPC: the server failed.</summary>
    public const int InternalError = -32603;

    private const int MaxRequestBytes = 16 << 20;
    private static readonly SpdkJsonContext Json = SpdkJsonContext.Default;

    private readonly LvolStore[] _stores;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, BlockDevice> _bdevs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<uint, ShallowCopyOperation> _operations = new();
    private int _nextOperationId;
    private readonly Dictionary<string, Func<JsonElement, CancellationToken, Task<Reply>>> _methods;
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Serves <paramref name="stores"/>.</summary>
    /// <exception cref="ArgumentException">No store, or two with the same name.</exception>
    public LvolRpcServer(IEnumerable<LvolStore> stores, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(stores);
        _stores = stores.ToArray();
        if (_stores.Length == 0 || _stores.Select(s => s.Name).Distinct(StringComparer.Ordinal).Count() != _stores.Length)
        {
            throw new ArgumentException("Serve at least one store, and no two stores with the same name.", nameof(stores));
        }
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<LvolRpcServer>();
        _methods = new(StringComparer.Ordinal)
        {
            ["rpc_get_methods"] = (_, _) => Task.FromResult(Reply.Of(_methods!.Keys.Order(StringComparer.Ordinal).ToList(), Json.ListString)),
            ["bdev_lvol_get_lvstores"] = GetLvstores,
            ["bdev_lvol_get_lvols"] = GetLvols,
            ["bdev_get_bdevs"] = GetBdevs,
            ["bdev_lvol_create"] = CreateAsync,
            ["bdev_lvol_snapshot"] = SnapshotAsync,
            ["bdev_lvol_clone"] = CloneAsync,
            ["bdev_lvol_delete"] = (p, ct) => OnLvolAsync(p, (s, n) => s.DeleteLvolAsync(n, ct)),
            ["bdev_lvol_rename"] = RenameAsync,
            ["bdev_lvol_resize"] = ResizeAsync,
            ["bdev_lvol_inflate"] = (p, ct) => OnLvolAsync(p, (s, n) => s.InflateAsync(n, ct)),
            ["bdev_lvol_decouple_parent"] = (p, ct) => OnLvolAsync(p, (s, n) => s.DecoupleParentAsync(n, ct)),
            ["bdev_lvol_detach_parent"] = (p, ct) => OnLvolAsync(p, (s, n) => s.DetachParentAsync(n, ct)),
            ["bdev_lvol_set_parent"] = SetParentAsync,
            ["bdev_lvol_set_xattr"] = SetXattrAsync,
            ["bdev_lvol_get_xattr"] = GetXattr,
            ["bdev_lvol_get_fragmap"] = GetFragmap,
            ["bdev_lvol_register_snapshot_checksum"] = (p, ct) => OnLvolAsync(p, (s, n) => s.RegisterSnapshotChecksumAsync(n, ct)),
            ["bdev_lvol_register_snapshot_range_checksums"] = (p, ct) => OnLvolAsync(p, (s, n) => s.RegisterRangeChecksumsAsync(n, ct)),
            ["bdev_lvol_get_snapshot_checksum"] = GetSnapshotChecksum,
            ["bdev_lvol_get_snapshot_range_checksums"] = GetRangeChecksums,
            ["bdev_lvol_stop_snapshot_checksum"] = StopSnapshotChecksum,
            ["bdev_lvol_start_shallow_copy"] = (p, _) => StartShallowCopy(p, range: false),
            ["bdev_lvol_start_range_shallow_copy"] = (p, _) => StartShallowCopy(p, range: true),
            ["bdev_lvol_check_shallow_copy"] = CheckShallowCopy,
        };
    }

    /// <summary>Serves one store.</summary>
    public LvolRpcServer(LvolStore store, ILoggerFactory? loggerFactory = null)
        : this([store ?? throw new ArgumentNullException(nameof(store))], loggerFactory)
    {
    }

    /// <summary>The JSON-RPC methods served.</summary>
    public IReadOnlyCollection<string> Methods => _methods.Keys;

    /// <summary>
    /// Makes <paramref name="device"/> available as bdev <paramref name="name"/>, a shallow copy destination (as an
    /// NVMe-oF attach of a remote replica's lvol is to SPDK). The server does not dispose it.
    /// </summary>
    /// <exception cref="ArgumentException">The name is taken.</exception>
    public void RegisterBdev(string name, BlockDevice device)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(device);
        if (!_bdevs.TryAdd(name, device))
        {
            throw new ArgumentException($"A bdev named '{name}' is already registered.", nameof(name));
        }
    }

    /// <summary>Removes a bdev registered with <see cref="RegisterBdev"/>.</summary>
    public bool UnregisterBdev(string name) => _bdevs.TryRemove(name, out _);

    /// <summary>
    /// Listens on <paramref name="socketPath"/> (replacing a stale socket file) and serves every connection until
    /// <paramref name="cancellationToken"/> is cancelled or the server is disposed.
    /// </summary>
    /// <exception cref="IOException">The path exists and is not a socket.</exception>
    public async Task RunAsync(string socketPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        if (File.Exists(socketPath))
        {
            await RemoveStaleSocketAsync(socketPath, cancellationToken).ConfigureAwait(false);
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        // Bind under a temporary name and move it into place once listening: whoever sees the path can connect.
        var binding = $"{socketPath}.{Environment.ProcessId}.tmp";
        File.Delete(binding);
        listener.Bind(new UnixDomainSocketEndPoint(binding));
        listener.Listen(64);
        File.Move(binding, socketPath, overwrite: false);
        Log.RpcListening(_logger, string.Join(", ", _stores.Select(s => s.Name)), socketPath);
        var connections = new List<Task>();
        try
        {
            while (!linked.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await listener.AcceptAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                connections.RemoveAll(t => t.IsCompleted);
                connections.Add(ServeConnectionAsync(client, linked.Token));
            }
        }
        finally
        {
            listener.Close();
            await Task.WhenAll(connections).ConfigureAwait(false);
            File.Delete(socketPath);
        }
    }

    private static async Task RemoveStaleSocketAsync(string socketPath, CancellationToken cancellationToken)
    {
        if (new FileInfo(socketPath).Length > 0)
        {
            throw new IOException($"{socketPath} exists and is not a socket; refusing to replace it.");
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            File.Delete(socketPath); // nobody listens: a socket left by a server that was killed
            return;
        }
        throw new IOException($"A server is already listening on {socketPath}.");
    }

    /// <summary>Handles one request (its UTF-8 JSON) and returns the response's JSON, or null for a notification.</summary>
    public async Task<byte[]?> HandleAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken = default)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(request);
        }
        catch (JsonException e)
        {
            return ErrorResponse(default, ParseError, $"Parse error: {e.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return ErrorResponse(default, InvalidRequest, root.ValueKind == JsonValueKind.Array
                    ? "Invalid request: batch requests are not supported."
                    : "Invalid request: a request is a JSON object.");
            }
            var hasId = root.TryGetProperty("id", out var id);
            if (hasId && id.ValueKind is not (JsonValueKind.Number or JsonValueKind.String or JsonValueKind.Null))
            {
                return ErrorResponse(default, InvalidRequest, "Invalid request: the id must be a number, a string or null.");
            }
            if (!root.TryGetProperty("jsonrpc", out var version) || version.ValueKind != JsonValueKind.String || version.GetString() != "2.0")
            {
                return ErrorResponse(id, InvalidRequest, "Invalid request: \"jsonrpc\" must be \"2.0\".");
            }
            if (!root.TryGetProperty("method", out var methodElement) || methodElement.ValueKind != JsonValueKind.String)
            {
                return ErrorResponse(id, InvalidRequest, "Invalid request: \"method\" must be a string.");
            }
            var method = methodElement.GetString()!;
            if (!_methods.TryGetValue(method, out var handler))
            {
                return hasId ? ErrorResponse(id, MethodNotFound, $"Method not found: {method}") : null;
            }
            var parameters = root.TryGetProperty("params", out var p) ? p : default;
            if (parameters.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Object or JsonValueKind.Null))
            {
                return hasId ? ErrorResponse(id, InvalidParams, "Invalid params: parameters are passed by name, in an object.") : null;
            }
            Reply reply;
            try
            {
                reply = await handler(parameters, cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                return hasId ? Failed(method, id, InvalidParams, $"Invalid params: {e.Message}") : null;
            }
            catch (LvolException e)
            {
                return hasId ? Failed(method, id, e.SpdkErrorCode, $"{Strerror(e.Errno)}: {e.Message}") : null;
            }
            catch (ArgumentException e)
            {
                return hasId ? Failed(method, id, InvalidParams, $"Invalid params: {e.Message}") : null;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (e is DeltaSnapException or IOException or InvalidOperationException)
            {
                return hasId ? Failed(method, id, InternalError, e.Message) : null;
            }
            return hasId ? ResultResponse(id, reply) : null;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var operation in _operations.Values)
        {
            operation.Cancel();
            try
            {
                await operation.Completion.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or DeltaSnapException or IOException)
            {
                // It failed or was stopped; its status says which, and nobody is left to ask.
            }
        }
        _stopping.Dispose();
    }

    private async Task ServeConnectionAsync(Socket socket, CancellationToken cancellationToken)
    {
        await Task.Yield();
        using var writeLock = new SemaphoreSlim(1, 1);
        var stream = new NetworkStream(socket, ownsSocket: true);
        await using var streamScope = stream.ConfigureAwait(false);
        var framer = new JsonValueFramer(MaxRequestBytes);
        var pending = new List<Task>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var read = await stream.ReadAsync(framer.GetWriteBuffer(), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                framer.Advance(read);
                while (true)
                {
                    var result = framer.TryTake(out var value);
                    if (result == JsonValueFramer.Result.NeedMore)
                    {
                        break;
                    }
                    if (result == JsonValueFramer.Result.Malformed)
                    {
                        await SendAsync(stream, writeLock, ErrorResponse(default, ParseError, "Parse error: the request is not valid JSON."), cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    // Requests run concurrently (a checksum registration must not block its own stop request).
                    pending.RemoveAll(t => t.IsCompleted);
                    pending.Add(Task.Run(async () =>
                    {
                        var response = await HandleAsync(value, cancellationToken).ConfigureAwait(false);
                        if (response is not null)
                        {
                            await SendAsync(stream, writeLock, response, cancellationToken).ConfigureAwait(false);
                        }
                    }, cancellationToken));
                }
                if (framer.Overflowed)
                {
                    framer.Clear();
                    await SendAsync(stream, writeLock, ErrorResponse(default, ParseError, $"Parse error: a request longer than {MaxRequestBytes} bytes."), cancellationToken).ConfigureAwait(false);
                    break;
                }
            }
            await Task.WhenAll(pending).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            if (e is not OperationCanceledException)
            {
                Log.RpcConnectionFailed(_logger, e);
            }
        }
    }

    private static async Task SendAsync(Stream stream, SemaphoreSlim writeLock, byte[] response, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(response, cancellationToken).ConfigureAwait(false);
            await stream.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            writeLock.Release();
        }
    }

    private byte[] Failed(string method, JsonElement id, int code, string message)
    {
        Log.RpcFailed(_logger, method, code, message);
        return ErrorResponse(id, code, message);
    }

    private static byte[] ErrorResponse(JsonElement id, int code, string message)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("jsonrpc", "2.0");
            w.WritePropertyName("id");
            WriteId(w, id);
            w.WriteStartObject("error");
            w.WriteNumber("code", code);
            w.WriteString("message", message);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static byte[] ResultResponse(JsonElement id, Reply reply)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("jsonrpc", "2.0");
            w.WritePropertyName("id");
            WriteId(w, id);
            w.WritePropertyName("result");
            JsonSerializer.Serialize(w, reply.Value, reply.TypeInfo);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void WriteId(Utf8JsonWriter w, JsonElement id)
    {
        if (id.ValueKind is JsonValueKind.Number or JsonValueKind.String)
        {
            id.WriteTo(w);
        }
        else
        {
            w.WriteNullValue();
        }
    }

    private static T Parse<T>(JsonElement parameters, JsonTypeInfo<T> typeInfo)
    {
        if (parameters.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            parameters = JsonDocument.Parse("{}").RootElement;
        }
        return parameters.Deserialize(typeInfo) ?? throw new JsonException("The parameters are null.");
    }

    /// <summary>Finds the store and the lvol name an SPDK name stands for: a UUID, an <c>LVS/LVOL</c> alias, or a name unique across the stores.</summary>
    private (LvolStore Store, string Name) Resolve(string name)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var store = _stores.FirstOrDefault(s => s.Name == name[..slash]);
            if (store?.TryGetLvol(name[(slash + 1)..]) is { } aliased)
            {
                return (store, aliased.Name);
            }
            throw new LvolException(LvolErrno.ENOENT, $"There is no lvol '{name}'.");
        }
        var found = _stores.Select(s => (Store: s, Info: s.TryGetLvol(name))).Where(x => x.Info is not null).ToList();
        return found.Count switch
        {
            1 => (found[0].Store, found[0].Info!.Name),
            0 => throw new LvolException(LvolErrno.ENOENT, $"There is no lvol '{name}'."),
            _ => throw new LvolException(LvolErrno.EINVAL, $"'{name}' names lvols in several stores; use LVS/LVOL or the UUID."),
        };
    }

    private LvolStore StoreFor(string? uuid, string? name, bool allowNone)
    {
        if (uuid is not null && name is not null)
        {
            throw new LvolException(LvolErrno.EINVAL, "Give the store's UUID or its name, not both.");
        }
        if (uuid is null && name is null)
        {
            return allowNone || _stores.Length == 1
                ? _stores[0]
                : throw new LvolException(LvolErrno.EINVAL, "Several stores are served: give the store's UUID or name.");
        }
        return _stores.FirstOrDefault(s => name is not null ? s.Name == name : s.Uuid.ToString() == uuid)
            ?? throw new LvolException(LvolErrno.ENODEV, $"There is no lvol store {(name is not null ? $"named '{name}'" : $"with UUID {uuid}")}.");
    }

    private async Task<Reply> OnLvolAsync<T>(JsonElement parameters, Func<LvolStore, string, Task<T>> action)
    {
        var p = Parse(parameters, Json.SpdkNameParams);
        var (store, name) = Resolve(p.Name);
        await action(store, name).ConfigureAwait(false);
        return Reply.True;
    }

    private async Task<Reply> OnLvolAsync(JsonElement parameters, Func<LvolStore, string, Task> action)
    {
        var p = Parse(parameters, Json.SpdkNameParams);
        var (store, name) = Resolve(p.Name);
        await action(store, name).ConfigureAwait(false);
        return Reply.True;
    }

    private Task<Reply> GetLvstores(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkLvstoreFilterParams);
        var stores = p.Uuid is null && p.LvsName is null ? _stores : [StoreFor(p.Uuid, p.LvsName, allowNone: false)];
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
        return Task.FromResult(Reply.Of(list, Json.ListSpdkLvstoreInfo));
    }

    private Task<Reply> GetLvols(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkLvstoreFilterParams);
        var stores = p.LvsUuid is null && p.LvsName is null ? _stores : [StoreFor(p.LvsUuid, p.LvsName, allowNone: false)];
        var list = stores.SelectMany(s => s.ListLvols().Select(l => new SpdkLvolInfo
        {
            Alias = $"{s.Name}/{l.Name}",
            Uuid = l.Uuid.ToString(),
            Name = l.Name,
            CreationTime = l.CreatedUtc.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            IsThinProvisioned = l.IsThin,
            IsSnapshot = l.IsSnapshot,
            IsClone = l.IsClone,
            Lvs = new SpdkLvsRef { Name = s.Name, Uuid = s.Uuid.ToString() },
        })).ToList();
        return Task.FromResult(Reply.Of(list, Json.ListSpdkLvolInfo));
    }

    private Task<Reply> GetBdevs(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkGetBdevsParams);
        IEnumerable<(LvolStore Store, LvolInfo Info)> lvols;
        if (p.Name is { } name)
        {
            var (store, lvol) = Resolve(name);
            lvols = [(store, store.GetLvol(lvol))];
        }
        else
        {
            lvols = _stores.SelectMany(s => s.ListLvols().Select(l => (s, l)));
        }
        var list = lvols.Select(x => new SpdkBdevInfo
        {
            Name = x.Info.Uuid.ToString(),
            Aliases = [$"{x.Store.Name}/{x.Info.Name}"],
            ProductName = "Logical Volume",
            BlockSize = LvolStore.BlockSize,
            NumBlocks = (ulong)((x.Info.Size + LvolStore.BlockSize - 1) / LvolStore.BlockSize),
            Uuid = x.Info.Uuid.ToString(),
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
        return Task.FromResult(Reply.Of(list, Json.ListSpdkBdevInfo));
    }

    private async Task<Reply> CreateAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkLvolCreateParams);
        var store = StoreFor(p.Uuid, p.LvsName, allowNone: false);
        if (p.SizeInMib == 0 || p.SizeInMib > long.MaxValue >> 20)
        {
            throw new LvolException(LvolErrno.EINVAL, $"size_in_mib {p.SizeInMib} is out of range.");
        }
        // SPDK rounds the size up to whole clusters.
        var size = (long)p.SizeInMib << 20;
        size = (size + store.ClusterSize - 1) / store.ClusterSize * store.ClusterSize;
        var info = await store.CreateLvolAsync(p.LvolName, size, p.ThinProvision ?? false, cancellationToken).ConfigureAwait(false);
        return Reply.Of(info.Uuid.ToString(), Json.String);
    }

    private async Task<Reply> SnapshotAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkLvolSnapshotParams);
        var (store, name) = Resolve(p.LvolName);
        var xattrs = p.Xattrs?.ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetBytes(kv.Value), StringComparer.Ordinal);
        var info = await store.SnapshotAsync(name, p.SnapshotName, new LvolSnapshotOptions { Xattrs = xattrs }, cancellationToken).ConfigureAwait(false);
        return Reply.Of(info.Uuid.ToString(), Json.String);
    }

    private async Task<Reply> CloneAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkLvolCloneParams);
        var (store, name) = Resolve(p.SnapshotName);
        var info = await store.CloneAsync(name, p.CloneName, cancellationToken).ConfigureAwait(false);
        return Reply.Of(info.Uuid.ToString(), Json.String);
    }

    private async Task<Reply> RenameAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkLvolRenameParams);
        var (store, name) = Resolve(p.OldName);
        await store.RenameLvolAsync(name, p.NewName, cancellationToken).ConfigureAwait(false);
        return Reply.True;
    }

    private async Task<Reply> ResizeAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkLvolResizeParams);
        var (store, name) = Resolve(p.Name);
        if (p.SizeInMib == 0 || p.SizeInMib > long.MaxValue >> 20)
        {
            throw new LvolException(LvolErrno.EINVAL, $"size_in_mib {p.SizeInMib} is out of range.");
        }
        var size = (long)p.SizeInMib << 20;
        size = (size + store.ClusterSize - 1) / store.ClusterSize * store.ClusterSize;
        await store.ResizeLvolAsync(name, size, cancellationToken).ConfigureAwait(false);
        return Reply.True;
    }

    private async Task<Reply> SetParentAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkSetParentParams);
        var (store, name) = Resolve(p.LvolName);
        var (parentStore, parent) = Resolve(p.ParentName);
        if (parentStore != store)
        {
            throw new LvolException(LvolErrno.EINVAL, $"'{p.ParentName}' and '{p.LvolName}' are in different stores.");
        }
        await store.SetParentAsync(name, parent, cancellationToken).ConfigureAwait(false);
        return Reply.True;
    }

    private async Task<Reply> SetXattrAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkSetXattrParams);
        var (store, name) = Resolve(p.Name);
        await store.SetXattrAsync(name, p.XattrName, p.XattrValue, cancellationToken).ConfigureAwait(false);
        return Reply.True;
    }

    private Task<Reply> GetXattr(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkGetXattrParams);
        var (store, name) = Resolve(p.Name);
        var value = store.GetXattr(name, p.XattrName) ?? throw new LvolException(LvolErrno.ENOENT, $"Lvol '{name}' has no attribute '{p.XattrName}'.");
        return Task.FromResult(Reply.Of(Encoding.UTF8.GetString(value), Json.String));
    }

    private Task<Reply> GetFragmap(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkFragmapParams);
        var (store, name) = Resolve(p.Name);
        if (p.Offset > long.MaxValue || p.Size > long.MaxValue)
        {
            throw new LvolException(LvolErrno.EINVAL, "offset and size must fit in 63 bits.");
        }
        var fragmap = store.GetFragmap(name, (long)p.Offset, (long)p.Size);
        return Task.FromResult(Reply.Of(new SpdkFragmap
        {
            ClusterSize = (ulong)fragmap.ClusterSize,
            NumClusters = (ulong)fragmap.ClusterCount,
            NumAllocatedClusters = (ulong)fragmap.AllocatedClusters,
            Fragmap = fragmap.Fragmap,
        }, Json.SpdkFragmap));
    }

    private Task<Reply> GetSnapshotChecksum(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkNameParams);
        var (store, name) = Resolve(p.Name);
        return Task.FromResult(Reply.Of(new SpdkSnapshotChecksum { Checksum = store.GetSnapshotChecksum(name) }, Json.SpdkSnapshotChecksum));
    }

    private Task<Reply> GetRangeChecksums(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkRangeChecksumsParams);
        var (store, name) = Resolve(p.Name);
        if (p.ClusterStartIndex > int.MaxValue || p.ClusterCount > int.MaxValue)
        {
            throw new LvolException(LvolErrno.EINVAL, "cluster_start_index and cluster_count are out of range.");
        }
        var list = store.GetRangeChecksums(name, (long)p.ClusterStartIndex, (long)p.ClusterCount)
            .Select(c => new SpdkRangeChecksum { ClusterIndex = (ulong)c.ClusterIndex, Checksum = c.Checksum }).ToList();
        return Task.FromResult(Reply.Of(list, Json.ListSpdkRangeChecksum));
    }

    private Task<Reply> StopSnapshotChecksum(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkNameParams);
        var (store, name) = Resolve(p.Name);
        return Task.FromResult(Reply.Of(store.StopSnapshotChecksum(name), Json.Boolean));
    }

    private Task<Reply> StartShallowCopy(JsonElement parameters, bool range)
    {
        var p = Parse(parameters, Json.SpdkShallowCopyParams);
        if (range != (p.Clusters is not null))
        {
            throw new JsonException(range ? "\"clusters\" is required." : "\"clusters\" belongs to bdev_lvol_start_range_shallow_copy.");
        }
        var (store, source) = Resolve(p.SrcLvolName);
        BlockDevice destination;
        LvolBlockDevice? opened = null;
        if (_bdevs.TryGetValue(p.DstBdevName, out var registered))
        {
            destination = registered;
        }
        else
        {
            var (dstStore, dst) = Resolve(p.DstBdevName);
            opened = dstStore.OpenDevice(dst, writable: true);
            destination = opened;
        }
        ShallowCopyOperation operation;
        try
        {
            operation = range
                ? store.StartRangeShallowCopy(source, destination, p.Clusters!.Select(c => c > long.MaxValue ? -1 : (long)c).ToArray())
                : store.StartShallowCopy(source, destination);
        }
        catch
        {
            opened?.Dispose();
            throw;
        }
        var id = (uint)Interlocked.Increment(ref _nextOperationId);
        _operations[id] = operation;
        if (opened is not null)
        {
            _ = operation.Completion.ContinueWith(_ => opened.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return Task.FromResult(Reply.Of(new SpdkOperationId { OperationId = id }, Json.SpdkOperationId));
    }

    private Task<Reply> CheckShallowCopy(JsonElement parameters, CancellationToken cancellationToken)
    {
        var p = Parse(parameters, Json.SpdkOperationId);
        if (!_operations.TryGetValue(p.OperationId, out var operation))
        {
            throw new LvolException(LvolErrno.ENODEV, $"There is no shallow copy operation {p.OperationId}.");
        }
        var state = operation.State;
        var status = new SpdkShallowCopyStatus
        {
            State = state switch
            {
                ShallowCopyState.Complete => "complete",
                ShallowCopyState.Error => "error",
                _ => "in progress",
            },
            CopiedClusters = (ulong)operation.CopiedClusters,
            UnmappedClusters = (ulong)operation.UnmappedClusters,
            TotalClusters = (ulong)operation.TotalClusters,
            Error = operation.Error switch
            {
                null => null,
                LvolException le => Strerror(le.Errno),
                OperationCanceledException => Strerror(LvolErrno.ECANCELED),
                var other => other.Message,
            },
        };
        if (state != ShallowCopyState.InProgress)
        {
            // As in SPDK: the entry is freed after the first read of a terminal state.
            _operations.TryRemove(p.OperationId, out _);
        }
        return Task.FromResult(Reply.Of(status, Json.SpdkShallowCopyStatus));
    }

    /// <summary>The C library's message for an errno, as SPDK's spdk_strerror gives it.</summary>
    internal static string Strerror(LvolErrno errno) => errno switch
    {
        LvolErrno.EPERM => "Operation not permitted",
        LvolErrno.ENOENT => "No such file or directory",
        LvolErrno.EIO => "Input/output error",
        LvolErrno.EBUSY => "Device or resource busy",
        LvolErrno.EEXIST => "File exists",
        LvolErrno.ENODEV => "No such device",
        LvolErrno.EINVAL => "Invalid argument",
        LvolErrno.ENOSPC => "No space left on device",
        LvolErrno.ECANCELED => "Operation canceled",
        _ => $"Unknown error {(int)errno}",
    };

    /// <summary>A method's result and how to serialize it.</summary>
    private readonly record struct Reply(object? Value, JsonTypeInfo TypeInfo)
    {
        public static Reply True => new(true, SpdkJsonContext.Default.Boolean);

        public static Reply Of<T>(T value, JsonTypeInfo<T> typeInfo) => new(value, typeInfo);
    }
}
