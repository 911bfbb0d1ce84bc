using System.Net.Sockets;
using DeltaSnap.Devices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Lvol;

/// <summary>
/// Serves lvol stores over JSON-RPC 2.0 on a Unix domain socket with SPDK's lvol methods and Longhorn's delta-rebuild
/// methods (fragmaps, snapshot and range checksums, shallow copies, set/detach parent), with the result shapes,
/// error codes and lifecycles of Longhorn's SPDK fork, so go-spdk-helper and longhorn-spdk-engine can drive it
/// unchanged. The package README lists the methods and the version followed.
/// </summary>
/// <remarks>
/// Lvols are named as in SPDK: by UUID (the bdev name), by <c>LVS/LVOL</c> alias, or by name when that is unique
/// across the stores served. Shallow copies write to an lvol of a served store, or to a device registered with
/// <see cref="RegisterBdev"/> (what an NVMe-oF attach of a remote replica is to SPDK). What one client can make the
/// server hold is bounded by <see cref="LvolRpcServerOptions"/>.
/// </remarks>
public sealed class LvolRpcServer : IAsyncDisposable
{
    /// <summary>JSON-RPC: the request is not JSON.</summary>
    public const int ParseError = -32700;

    /// <summary>JSON-RPC: the JSON is not a request.</summary>
    public const int InvalidRequest = -32600;

    /// <summary>JSON-RPC: no such method.</summary>
    public const int MethodNotFound = -32601;

    /// <summary>JSON-RPC: SPDK's code for most failures found after a request was accepted.</summary>
    public const int InvalidParams = -32602;

    /// <summary>JSON-RPC: SPDK's code for parameters that do not decode, and for some failures found later.</summary>
    public const int InternalError = -32603;

    private readonly LvolStore[] _stores;
    private readonly LvolRpcServerOptions _options;
    private readonly ILogger _logger;
    private readonly LvolNameResolver _names;
    private readonly ShallowCopyRegistry _operations = new();
    private readonly JsonRpcDispatcher _dispatcher;
    private readonly CancellationTokenSource _stopping = new();
    private int _connections;

    /// <summary>Serves <paramref name="stores"/>.</summary>
    /// <param name="stores">The stores to serve, each with its own name.</param>
    /// <param name="options">The server's limits; null for the defaults.</param>
    /// <param name="loggerFactory">Where to log; null for nowhere.</param>
    /// <exception cref="ArgumentException">No store, or two with the same name.</exception>
    public LvolRpcServer(IEnumerable<LvolStore> stores, LvolRpcServerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(stores);
        _stores = stores.ToArray();
        if (_stores.Length == 0 || _stores.Select(s => s.Name).Distinct(StringComparer.Ordinal).Count() != _stores.Length)
        {
            throw new ArgumentException("Serve at least one store, and no two stores with the same name.", nameof(stores));
        }
        _options = options ?? new LvolRpcServerOptions();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<LvolRpcServer>();
        _names = new LvolNameResolver(_stores);
        var methods = new Dictionary<string, RpcMethod>(StringComparer.Ordinal);
        new LvolLifecycleMethods(_names).Register(methods);
        new SnapshotChecksumMethods(_names).Register(methods);
        new ShallowCopyMethods(_names, _operations).Register(methods);
        var names = methods.Keys.Append("rpc_get_methods").Order(StringComparer.Ordinal).ToList();
        methods["rpc_get_methods"] = (_, _) => Task.FromResult(RpcReply.Of(names, SpdkJsonContext.Default.ListString));
        _dispatcher = new JsonRpcDispatcher(methods, _options, _logger);
    }

    /// <summary>Serves one store.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    public LvolRpcServer(LvolStore store, LvolRpcServerOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this([store ?? throw new ArgumentNullException(nameof(store))], options, loggerFactory)
    {
    }

    /// <summary>The JSON-RPC methods served.</summary>
    public IReadOnlyCollection<string> Methods => _dispatcher.Methods;

    /// <summary>The server's limits.</summary>
    public LvolRpcServerOptions Options => _options;

    /// <summary>
    /// Makes <paramref name="device"/> available as bdev <paramref name="name"/>, a shallow copy destination (as an
    /// NVMe-oF attach of a remote replica's lvol is to SPDK). The server does not dispose it.
    /// </summary>
    /// <exception cref="ArgumentException">The name is taken.</exception>
    public void RegisterBdev(string name, BlockDevice device)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(device);
        if (!_names.RegisterBdev(name, device))
        {
            throw new ArgumentException($"A bdev named '{name}' is already registered.", nameof(name));
        }
    }

    /// <summary>Removes a bdev registered with <see cref="RegisterBdev"/>.</summary>
    public bool UnregisterBdev(string name) => _names.UnregisterBdev(name);

    /// <summary>
    /// Listens on <paramref name="socketPath"/> (replacing a stale socket file) and serves every connection until
    /// <paramref name="cancellationToken"/> is cancelled or the server is disposed.
    /// </summary>
    /// <exception cref="IOException">The path exists and is not a socket, or a server listens on it.</exception>
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
                catch (SocketException e)
                {
                    // Out of file descriptors, a connection reset before it was accepted: keep listening.
                    Log.RpcConnectionFailed(_logger, e);
                    await Task.Delay(50, linked.Token).ConfigureAwait(false);
                    continue;
                }
                if (Interlocked.Increment(ref _connections) > _options.MaxConnections)
                {
                    Interlocked.Decrement(ref _connections);
                    Log.RpcConnectionRefused(_logger, _options.MaxConnections);
                    client.Dispose();
                    continue;
                }
                connections.RemoveAll(t => t.IsCompleted);
                connections.Add(ServeAsync(client, linked.Token));
            }
        }
        finally
        {
            listener.Close();
            await Task.WhenAll(connections).ConfigureAwait(false);
            File.Delete(socketPath);
        }
    }

    /// <summary>Handles one request (its UTF-8 JSON) and returns the response's JSON, or null for a notification.</summary>
    public async Task<byte[]?> HandleAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken = default)
    {
        using var document = _dispatcher.TryParse(request);
        return document is null
            ? _dispatcher.ParseErrorResponse()
            : await _dispatcher.DispatchAsync(document, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _operations.StopAllAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task ServeAsync(Socket client, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            await new JsonRpcConnection(_dispatcher, _options, _logger).ServeAsync(client, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
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
}
