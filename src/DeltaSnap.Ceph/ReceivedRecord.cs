using System.Buffers;
using System.Text;
using System.Text.Json;

namespace DeltaSnap.Ceph;

/// <summary>
/// What DeltaSnap records in image metadata about a snapshot it created on a target
/// (key <c>deltasnap.received.SNAP</c>): the RBD snapshot id it belongs to (so a record left behind by a snapshot
/// that was deleted and re-created outside DeltaSnap is ignored), the source snapshot's identity and the source's
/// creation time. RBD cannot set a snapshot's timestamp, so the source time lives here.
/// </summary>
internal sealed record ReceivedRecord(ulong SnapId, SnapshotIdentity? From, long? SourceCreatedUnixSeconds)
{
    /// <summary>The metadata key prefix of all records.</summary>
    public const string KeyPrefix = "deltasnap.received.";

    private const int Version = 1;

    /// <summary>The metadata key of snapshot <paramref name="snapshot"/>'s record.</summary>
    public static string KeyOf(string snapshot) => KeyPrefix + snapshot;

    /// <summary>The JSON form stored as the metadata value.</summary>
    public string Serialize()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("v", Version);
            writer.WriteNumber("snapId", SnapId);
            if (From is { } from)
            {
                writer.WriteString("from", from.ToString());
            }
            if (SourceCreatedUnixSeconds is { } created)
            {
                writer.WriteNumber("fromCreated", created);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Parses a stored value; null (with the reason) when it is not a record this version understands.</summary>
    public static ReceivedRecord? TryParse(string value, out string? problem)
    {
        try
        {
            using var document = JsonDocument.Parse(value);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("v", out var v) || v.GetInt32() != Version)
            {
                problem = "unknown record version";
                return null;
            }
            var snapId = root.GetProperty("snapId").GetUInt64();
            SnapshotIdentity? from = root.TryGetProperty("from", out var f) ? SnapshotIdentity.Parse(f.GetString() ?? "") : null;
            long? created = root.TryGetProperty("fromCreated", out var c) ? c.GetInt64() : null;
            problem = null;
            return new ReceivedRecord(snapId, from, created);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException or ArgumentException)
        {
            problem = "unreadable record: " + e.Message;
            return null;
        }
    }
}
