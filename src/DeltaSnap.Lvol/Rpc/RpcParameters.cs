using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace DeltaSnap.Lvol;

/// <summary>Decodes a method's parameters as SPDK's spdk_json_decode_object does.</summary>
internal static class RpcParameters
{
    private static readonly JsonElement Empty = JsonDocument.Parse("{}").RootElement;

    /// <summary>
    /// Decodes <paramref name="parameters"/> (absent or null: no members).
    /// </summary>
    /// <exception cref="JsonRpcErrorException">-32603 <c>spdk_json_decode_object failed</c>: a required member is missing or null, a member is unknown or of another type, or the parameters are not an object.</exception>
    public static T Decode<T>(JsonElement parameters, JsonTypeInfo<T> typeInfo)
        where T : class
    {
        if (parameters.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            parameters = Empty;
        }
        try
        {
            return parameters.ValueKind == JsonValueKind.Object
                ? parameters.Deserialize(typeInfo) ?? throw DecodeFailed()
                : throw DecodeFailed();
        }
        catch (JsonException e)
        {
            throw DecodeFailed(e);
        }
    }

    /// <summary>The error of parameters that do not decode.</summary>
    public static JsonRpcErrorException DecodeFailed(Exception? cause = null) =>
        new(LvolRpcServer.InternalError, "spdk_json_decode_object failed", cause);
}
