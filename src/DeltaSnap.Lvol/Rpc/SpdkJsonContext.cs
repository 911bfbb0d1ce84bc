using System.Text.Json.Serialization;

namespace DeltaSnap.Lvol;

/// <summary>The source-generated serializers of the SPDK JSON-RPC shapes.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(SpdkNameParams))]
[JsonSerializable(typeof(SpdkLvolCreateParams))]
[JsonSerializable(typeof(SpdkLvolSnapshotParams))]
[JsonSerializable(typeof(SpdkLvolCloneParams))]
[JsonSerializable(typeof(SpdkLvolRenameParams))]
[JsonSerializable(typeof(SpdkLvolResizeParams))]
[JsonSerializable(typeof(SpdkLvstoreFilterParams))]
[JsonSerializable(typeof(SpdkGetBdevsParams))]
[JsonSerializable(typeof(SpdkSetXattrParams))]
[JsonSerializable(typeof(SpdkGetXattrParams))]
[JsonSerializable(typeof(SpdkFragmapParams))]
[JsonSerializable(typeof(SpdkRangeChecksumsParams))]
[JsonSerializable(typeof(SpdkShallowCopyParams))]
[JsonSerializable(typeof(SpdkRangeShallowCopyParams))]
[JsonSerializable(typeof(SpdkOperationId))]
[JsonSerializable(typeof(SpdkSetParentParams))]
[JsonSerializable(typeof(SpdkFragmap))]
[JsonSerializable(typeof(SpdkSnapshotChecksum))]
[JsonSerializable(typeof(List<SpdkRangeChecksum>))]
[JsonSerializable(typeof(SpdkShallowCopyStatus))]
[JsonSerializable(typeof(List<SpdkLvolInfo>))]
[JsonSerializable(typeof(List<SpdkLvstoreInfo>))]
[JsonSerializable(typeof(List<SpdkBdevInfo>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(bool))]
internal sealed partial class SpdkJsonContext : JsonSerializerContext
{
}
