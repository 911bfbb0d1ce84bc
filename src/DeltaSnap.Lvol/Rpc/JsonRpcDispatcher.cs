using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Lvol;

/// <summary>
/// The JSON-RPC 2.0 envelope as SPDK's server reads and writes it: checks the request object, finds the method,
/// runs it, and turns every outcome into a response (or none, for a notification). Error messages are fixed texts
/// (SPDK's), never the client's input, and never longer than <see cref="LvolRpcServerOptions.MaxErrorMessageLength"/>.
/// </summary>
internal sealed class JsonRpcDispatcher(IReadOnlyDictionary<string, RpcMethod> methods, LvolRpcServerOptions options, ILogger logger)
{
    private const int MaxLoggedNameLength = 64;

    public IReadOnlyCollection<string> Methods => (IReadOnlyCollection<string>)methods.Keys;

    /// <summary>Parses a request's text; null when it is not JSON (or nests too deep).</summary>
    public JsonDocument? TryParse(ReadOnlyMemory<byte> request)
    {
        try
        {
            return JsonDocument.Parse(request, new JsonDocumentOptions { MaxDepth = options.MaxNestingDepth });
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The response to a request that is not JSON (the connection is closed after it).</summary>
    public byte[] ParseErrorResponse() => ErrorResponse(default, LvolRpcServer.ParseError, "Parse error");

    /// <summary>Runs the request; returns the response's JSON, or null for a notification.</summary>
    public async Task<byte[]?> DispatchAsync(JsonDocument request, CancellationToken cancellationToken)
    {
        var root = request.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return InvalidRequest(default);
        }
        var hasId = root.TryGetProperty("id", out var id);
        if (hasId && id.ValueKind is not (JsonValueKind.Number or JsonValueKind.String or JsonValueKind.Null))
        {
            return InvalidRequest(default);
        }
        if (root.TryGetProperty("jsonrpc", out var version) && !(version.ValueKind == JsonValueKind.String && version.ValueEquals("2.0")))
        {
            return InvalidRequest(id);
        }
        if (!root.TryGetProperty("method", out var methodElement) || methodElement.ValueKind != JsonValueKind.String)
        {
            return InvalidRequest(id);
        }
        var parameters = root.TryGetProperty("params", out var p) ? p : default;
        if (parameters.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.Null))
        {
            return InvalidRequest(id);
        }
        var method = methodElement.GetString()!;
        if (!methods.TryGetValue(method, out var handler))
        {
            return hasId ? ErrorResponse(id, LvolRpcServer.MethodNotFound, "Method not found") : null;
        }
        RpcReply reply;
        try
        {
            reply = await handler(parameters, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonRpcErrorException e)
        {
            return hasId ? Failed(method, id, e.Code, e.Message, e.InnerException) : null;
        }
        catch (LvolException e)
        {
            return hasId ? Failed(method, id, e.SpdkErrorCode, SpdkErrno.Strerror(e.Errno), e) : null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever failed, the request is answered: a client never waits for an answer that will not come.
            Log.RpcMethodCrashed(logger, e, Bounded(method, MaxLoggedNameLength));
            return hasId ? ErrorResponse(id, LvolRpcServer.InternalError, "Internal error") : null;
        }
        return hasId ? ResultResponse(id, reply) : null;
    }

    private byte[] InvalidRequest(JsonElement id) => ErrorResponse(id, LvolRpcServer.InvalidRequest, "Invalid request");

    private byte[] Failed(string method, JsonElement id, int code, string message, Exception? cause)
    {
        Log.RpcFailed(logger, Bounded(method, MaxLoggedNameLength), code, Bounded(cause?.Message ?? message, options.MaxErrorMessageLength));
        return ErrorResponse(id, code, message);
    }

    private static string Bounded(string text, int length) => text.Length <= length ? text : string.Concat(text.AsSpan(0, length - 1), "…");

    private byte[] ErrorResponse(JsonElement id, int code, string message)
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
            w.WriteString("message", Bounded(message, options.MaxErrorMessageLength));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static byte[] ResultResponse(JsonElement id, RpcReply reply)
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
}
