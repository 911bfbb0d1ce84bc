using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace DeltaSnap.Lvol.Tests;

/// <summary>A JSON-RPC server over real lvol stores on a Unix socket in a temporary directory.</summary>
internal sealed class RpcTestBed : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;

    private RpcTestBed(string socketPath, LvolRpcServer server, LvolStore[] stores)
    {
        SocketPath = socketPath;
        Server = server;
        Stores = stores;
        _running = server.RunAsync(socketPath, _stop.Token);
    }

    public string SocketPath { get; }

    public LvolRpcServer Server { get; }

    public LvolStore[] Stores { get; }

    public static Task<RpcTestBed> StartAsync(string directory, string name, params LvolStore[] stores) =>
        StartAsync(directory, name, null, stores);

    public static async Task<RpcTestBed> StartAsync(string directory, string name, LvolRpcServerOptions? options, params LvolStore[] stores)
    {
        var socket = Path.Combine(directory, name + ".sock");
        var bed = new RpcTestBed(socket, new LvolRpcServer(stores, options), stores);
        for (var i = 0; i < 200 && !File.Exists(socket); i++)
        {
            await Task.Delay(10);
        }
        return bed;
    }

    public Task<SpdkRpcClient> ConnectAsync() => SpdkRpcClient.ConnectAsync(SocketPath);

    /// <summary>Sends raw bytes on a fresh connection and reads <paramref name="responses"/> JSON responses.</summary>
    public async Task<List<JsonElement>> ExchangeRawAsync(string payload, int responses)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        await using var stream = new NetworkStream(socket);
        return await ExchangeAsync(stream, payload, responses);
    }

    public static async Task<List<JsonElement>> ExchangeAsync(Stream stream, string payload, int responses)
    {
        await stream.WriteAsync(Encoding.UTF8.GetBytes(payload));
        var result = new List<JsonElement>();
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (result.Count < responses)
        {
            var n = await stream.ReadAsync(chunk, timeout.Token);
            if (n == 0)
            {
                break;
            }
            buffer.AddRange(chunk.AsSpan(0, n));
            int newline;
            while ((newline = buffer.IndexOf((byte)'\n')) >= 0)
            {
                var line = buffer.GetRange(0, newline).ToArray();
                buffer.RemoveRange(0, newline + 1);
                result.Add(JsonDocument.Parse(line).RootElement.Clone());
            }
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _running;
        await Server.DisposeAsync();
        foreach (var store in Stores)
        {
            await store.DisposeAsync();
        }
        _stop.Dispose();
    }
}
