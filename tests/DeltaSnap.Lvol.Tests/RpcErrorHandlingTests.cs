using System.Net.Sockets;
using System.Text.Json;

namespace DeltaSnap.Lvol.Tests;

public sealed class RpcErrorHandlingTests : StoreFixture
{
    private RpcTestBed _bed = null!;

    [SetUp]
    public async Task StartAsync()
    {
        var store = await CreateStoreAsync(64 * 1024, "lvs");
        await store.CreateLvolAsync("vol", 4 * 64 * 1024);
        _bed = await RpcTestBed.StartAsync(Directory, "rpc", store);
    }

    [TearDown]
    public async Task StopAsync() => await _bed.DisposeAsync();

    private static int Code(JsonElement response) => response.GetProperty("error").GetProperty("code").GetInt32();

    [TestCase("this is {not json\n")]
    [TestCase("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":}")]
    [TestCase("}}}}\n")]
    public async Task Garbage_getsParseError_andTheConnectionIsClosed(string garbage)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(_bed.SocketPath));
        await using var stream = new NetworkStream(socket);

        var first = await RpcTestBed.ExchangeAsync(stream, garbage, 1);
        Assert.That(Code(first[0]), Is.EqualTo(-32700));
        Assert.That(first[0].GetProperty("error").GetProperty("message").GetString(), Is.EqualTo("Parse error"));
        Assert.That(first[0].GetProperty("id").ValueKind, Is.EqualTo(JsonValueKind.Null));

        List<JsonElement> after;
        try
        {
            after = await RpcTestBed.ExchangeAsync(stream, """{"jsonrpc":"2.0","id":7,"method":"bdev_lvol_get_lvols"}""", 1);
        }
        catch (IOException)
        {
            after = []; // the write found the connection closed
        }
        Assert.That(after, Is.Empty, "SPDK closes the connection after a parse error");
    }

    [Test]
    public async Task RequestWithoutJsonrpcMember_isServed()
    {
        var response = await _bed.ExchangeRawAsync("""{"id":1,"method":"bdev_lvol_get_lvols"}""", 1);
        Assert.That(response[0].GetProperty("result").GetArrayLength(), Is.EqualTo(1));
    }

    [TestCase("[1,2]")]
    [TestCase("42\n")]
    [TestCase("""{"jsonrpc":"1.0","id":1,"method":"bdev_lvol_get_lvols"}""")]
    [TestCase("""{"jsonrpc":"2.0","id":1}""")]
    [TestCase("""{"jsonrpc":"2.0","id":1,"method":"bdev_lvol_get_lvols","params":5}""")]
    [TestCase("""{"jsonrpc":"2.0","id":1,"method":5}""")]
    [TestCase("""{"jsonrpc":"2.0","id":{"a":1},"method":"bdev_lvol_get_lvols"}""")]
    public async Task NotARequest_getsInvalidRequest(string payload)
    {
        var response = await _bed.ExchangeRawAsync(payload, 1);
        Assert.That(Code(response[0]), Is.EqualTo(-32600));
        Assert.That(response[0].GetProperty("error").GetProperty("message").GetString(), Is.EqualTo("Invalid request"));
    }

    [Test]
    public async Task UnknownMethod_getsMethodNotFound()
    {
        var response = await _bed.ExchangeRawAsync("""{"jsonrpc":"2.0","id":"x","method":"bdev_nope"}""", 1);
        Assert.That(Code(response[0]), Is.EqualTo(-32601));
        Assert.That(response[0].GetProperty("id").GetString(), Is.EqualTo("x"));
    }

    [TestCase("""{}""")]
    [TestCase("""{"name":"vol","offset":"zero"}""")]
    [TestCase("""{"name":"vol","bogus":1}""")]
    [TestCase("""{"name":5}""")]
    [TestCase("""{"name":null}""")]
    [TestCase("""{"name":"vol","offset":-1}""")]
    public async Task BadParams_getDecodeFailure(string parameters)
    {
        var response = await _bed.ExchangeRawAsync($$"""{"jsonrpc":"2.0","id":1,"method":"bdev_lvol_get_fragmap","params":{{parameters}}}""", 1);
        Assert.That(Code(response[0]), Is.EqualTo(-32603), response[0].ToString());
        Assert.That(response[0].GetProperty("error").GetProperty("message").GetString(), Is.EqualTo("spdk_json_decode_object failed"));
    }

    [Test]
    public async Task PositionalParams_getDecodeFailure()
    {
        var response = await _bed.ExchangeRawAsync("""{"jsonrpc":"2.0","id":1,"method":"bdev_lvol_delete","params":["vol"]}""", 1);
        Assert.That(Code(response[0]), Is.EqualTo(-32603));
    }

    [Test]
    public async Task StoreErrors_areSpdksCodesWithTheErrnoText()
    {
        await using var client = await _bed.ConnectAsync();
        var missing = Assert.ThrowsAsync<SpdkRpcException>(() => client.BdevLvolDeleteAsync("nope"));
        Assert.That((missing!.Code, missing.ServerMessage), Is.EqualTo((-19, "No such device")));
        Assert.That(missing.Errno, Is.EqualTo(LvolErrno.ENODEV));
        var exists = Assert.ThrowsAsync<SpdkRpcException>(() => client.BdevLvolCreateAsync("lvs", null, "vol", 1));
        Assert.That((exists!.Code, exists.ServerMessage), Is.EqualTo((-17, "File exists")));
        var unaligned = Assert.ThrowsAsync<SpdkRpcException>(() => client.BdevLvolGetFragmapAsync("vol", 100));
        Assert.That((unaligned!.Code, unaligned.ServerMessage), Is.EqualTo((-32602, "Invalid argument")), "found after the request was accepted");
        var operation = Assert.ThrowsAsync<SpdkRpcException>(() => client.BdevLvolCheckShallowCopyAsync(999_999));
        Assert.That(operation!.Code, Is.EqualTo(-19));
    }

    [Test]
    public async Task Notification_getsNoResponse_butRuns()
    {
        var responses = await _bed.ExchangeRawAsync(
            """{"jsonrpc":"2.0","method":"bdev_lvol_set_xattr","params":{"name":"vol","xattr_name":"k","xattr_value":"v"}}""" +
            """{"jsonrpc":"2.0","id":2,"method":"rpc_get_methods"}""", 1);
        Assert.That(responses[0].GetProperty("id").GetInt32(), Is.EqualTo(2));
        // Requests run concurrently: the notification may still be committing.
        var store = _bed.Stores[0];
        for (var i = 0; i < 200 && store.GetXattr("vol", "k") is null; i++)
        {
            await Task.Delay(10);
        }
        await using var client = await _bed.ConnectAsync();
        Assert.That(await client.BdevLvolGetXattrAsync("vol", "k"), Is.EqualTo("v"));
    }

    [Test]
    public async Task AfterErrors_theServerStillServesNewConnections()
    {
        await _bed.ExchangeRawAsync("}}}}\n", 1);
        await _bed.ExchangeRawAsync("[]", 1);
        await using var client = await _bed.ConnectAsync();
        var lvols = await client.BdevLvolGetLvolsAsync();
        Assert.That(lvols.Select(l => l.Alias), Is.EqualTo(new[] { "lvs/vol" }));
    }

    [Test]
    public async Task ConcatenatedRequestsWithoutDelimiters_areEachAnswered()
    {
        var responses = await _bed.ExchangeRawAsync(
            """{"jsonrpc":"2.0","id":1,"method":"bdev_lvol_get_lvstores"}{"jsonrpc":"2.0","id":2,"method":"bdev_lvol_get_lvols"}""", 2);
        Assert.That(responses.Select(r => r.GetProperty("id").GetInt32()).Order(), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(responses.All(r => r.TryGetProperty("result", out _)), Is.True);
    }
}
