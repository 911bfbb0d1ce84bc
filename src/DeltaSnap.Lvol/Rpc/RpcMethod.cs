using System.Text.Json;

namespace DeltaSnap.Lvol;

/// <summary>A JSON-RPC method: its parameters (undefined when absent) to its result.</summary>
internal delegate Task<RpcReply> RpcMethod(JsonElement parameters, CancellationToken cancellationToken);
