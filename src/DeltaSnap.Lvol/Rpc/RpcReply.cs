using System.Text.Json.Serialization.Metadata;

namespace DeltaSnap.Lvol;

/// <summary>A method's result and how to serialize it.</summary>
internal readonly record struct RpcReply(object? Value, JsonTypeInfo TypeInfo)
{
    public static RpcReply True => new(true, SpdkJsonContext.Default.Boolean);

    public static RpcReply Of<T>(T value, JsonTypeInfo<T> typeInfo) => new(value, typeInfo);
}
