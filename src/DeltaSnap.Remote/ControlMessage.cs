using System.Text.Json;
using System.Text.Json.Serialization;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Remote;

/// <summary>
/// One control-plane message (docs/transport.md lists every field per type and operation). One flat shape for every
/// message keeps a second implementation simple: fields a message does not use are absent.
/// </summary>
internal sealed class ControlMessage
{
    /// <summary>hello, welcome, request, ok, error, cancel, bye.</summary>
    public string Type { get; set; } = "";

    /// <summary>The request id (requests, their answers, cancel); 0 otherwise.</summary>
    public long Id { get; set; }

    /// <summary>The operation of a request (<c>volume.lineage</c>, <c>device.read</c>, …).</summary>
    public string? Op { get; set; }

    // hello / welcome
    public int? Version { get; set; }

    public string[]? Features { get; set; }

    public string[]? Compression { get; set; }

    public int? MaxConcurrentRequests { get; set; }

    public string[]? Schemes { get; set; }

    // request arguments
    public string? Address { get; set; }

    public string? Scheme { get; set; }

    public string? Location { get; set; }

    public string? Name { get; set; }

    public long? Handle { get; set; }

    public string? Snapshot { get; set; }

    /// <summary>A command line (volume.treeServer).</summary>
    public string[]? Arguments { get; set; }

    public string? Base { get; set; }

    public string? NewName { get; set; }

    public long? Size { get; set; }

    public long? Offset { get; set; }

    public long? Length { get; set; }

    public bool? Writable { get; set; }

    public VolumeKind? Kind { get; set; }

    public bool? Thin { get; set; }

    public DateTimeOffset? CreatedUtc { get; set; }

    public string? ReceivedFrom { get; set; }

    public bool? Compressed { get; set; }

    public bool? Raw { get; set; }

    public string? ResumeToken { get; set; }

    /// <summary>volume.send: the bytes of the stream's start the client holds already (feature <c>send-after-prefix</c>).</summary>
    public long? PrefixLength { get; set; }

    /// <summary>volume.send: the XXH128 (seed 0) of those bytes, 32 hex digits.</summary>
    public string? PrefixDigest { get; set; }

    public SnapshotMessage? Info { get; set; }

    public SnapshotMessage? TargetBase { get; set; }

    public bool? Resumable { get; set; }

    public int? ClusterSize { get; set; }

    public int? Algorithm { get; set; }

    public int? BlockSize { get; set; }

    public int? DigestLength { get; set; }

    /// <summary>Byte ranges as [offset, length] pairs.</summary>
    public long[][]? Ranges { get; set; }

    // answers
    public bool? Flag { get; set; }

    public long? Value { get; set; }

    public string[]? Names { get; set; }

    public SnapshotMessage[]? Lineage { get; set; }

    public SnapshotMessage? Result { get; set; }

    public VolumeMessage? Volume { get; set; }

    public DriverMessage? Driver { get; set; }

    public DeviceMessage? Device { get; set; }

    // error
    public string? ErrorType { get; set; }

    public string? Message { get; set; }

    public string? Reason { get; set; }
}

/// <summary>A snapshot on the wire.</summary>
internal sealed class SnapshotMessage
{
    public string Name { get; set; } = "";

    public string Identity { get; set; } = "";

    public DateTimeOffset CreatedUtc { get; set; }

    public string? ReceivedFrom { get; set; }

    public long? Size { get; set; }

    public static SnapshotMessage From(SnapshotInfo s) => new()
    {
        Name = s.Name,
        Identity = s.Identity.ToString(),
        CreatedUtc = s.CreatedUtc,
        ReceivedFrom = s.ReceivedFrom?.ToString(),
        Size = s.Size,
    };

    public SnapshotInfo ToInfo() => new(Name, SnapshotIdentity.Parse(Identity), CreatedUtc)
    {
        ReceivedFrom = ReceivedFrom is null ? null : SnapshotIdentity.Parse(ReceivedFrom),
        Size = Size,
    };
}

/// <summary>A driver on the wire: its handle and what it can do.</summary>
internal sealed class DriverMessage
{
    public long Handle { get; set; }

    public string Scheme { get; set; } = "";

    public DriverCapabilities Capabilities { get; set; }

    public int PayloadKind { get; set; }

    public NameRulesMessage VolumeNameRules { get; set; } = new();

    public NameRulesMessage SnapshotNameRules { get; set; } = new();
}

/// <summary>A volume on the wire.</summary>
internal sealed class VolumeMessage
{
    public long Handle { get; set; }

    public string Name { get; set; } = "";

    public VolumeKind Kind { get; set; }

    public string Address { get; set; } = "";

    /// <summary>The driver the volume was opened with (absent when it came from a driver the client holds already).</summary>
    public DriverMessage? Driver { get; set; }
}

/// <summary>A block device on the wire.</summary>
internal sealed class DeviceMessage
{
    public long Handle { get; set; }

    public long Length { get; set; }

    public bool ReadOnly { get; set; }

    public bool CanReportAllocation { get; set; }

    public bool CanResize { get; set; }
}

/// <summary>A driver's naming rules on the wire.</summary>
internal sealed class NameRulesMessage
{
    public int MaxLength { get; set; } = 255;

    public string ForbiddenCharacters { get; set; } = "";

    public bool AllowSlash { get; set; }

    public static NameRulesMessage From(NameRules rules) =>
        new() { MaxLength = rules.MaxLength, ForbiddenCharacters = rules.ForbiddenCharacters, AllowSlash = rules.AllowSlash };

    public NameRules ToRules() => new() { MaxLength = MaxLength, ForbiddenCharacters = ForbiddenCharacters, AllowSlash = AllowSlash };
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(ControlMessage))]
internal sealed partial class ControlMessageContext : JsonSerializerContext
{
    public static byte[] Serialize(ControlMessage message) => JsonSerializer.SerializeToUtf8Bytes(message, Default.ControlMessage);

    public static ControlMessage Deserialize(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, Default.ControlMessage) ?? throw new JsonException("A control message is null.");
}
