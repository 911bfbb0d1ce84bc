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
/// <remarks>
/// A record is written twice. Before the snapshot exists it is <em>pending</em>: it names the highest snapshot id the
/// image had (<see cref="PendingAfterSnapId"/>) and when it was written, because the new id is not known yet. Once
/// the snapshot exists the record is rewritten with its id. A process killed between the two writes leaves a pending
/// record, which still identifies the new snapshot: ids only grow within a pool, so it is the snapshot of that name
/// with a higher id, made within minutes of the record. Without the pending record such a kill would leave a complete
/// received snapshot the next refresh cannot recognise.
/// </remarks>
internal sealed record ReceivedRecord(ulong SnapId, SnapshotIdentity? From, long? SourceCreatedUnixSeconds)
{
    /// <summary>How far a pending record's snapshot may be made from the record's own time (clock steps, a slow cluster).</summary>
    private static readonly TimeSpan PendingWindow = TimeSpan.FromMinutes(10);

    /// <summary>Set on a pending record: the highest snapshot id the image had when the record was written.</summary>
    public ulong? PendingAfterSnapId { get; private init; }

    /// <summary>Set on a pending record: when it was written (Unix seconds).</summary>
    public long? PendingWrittenUnixSeconds { get; private init; }

    /// <summary>A record written before its snapshot is created.</summary>
    public static ReceivedRecord Pending(ulong afterSnapId, DateTimeOffset written, SnapshotIdentity? from, long? sourceCreatedUnixSeconds) =>
        new(0, from, sourceCreatedUnixSeconds) { PendingAfterSnapId = afterSnapId, PendingWrittenUnixSeconds = written.ToUnixTimeSeconds() };

    /// <summary>
    /// Whether this record belongs to the snapshot with id <paramref name="snapId"/> made at <paramref name="created"/>;
    /// <paramref name="reason"/> says why not.
    /// </summary>
    public bool BelongsTo(ulong snapId, DateTimeOffset created, out string? reason)
    {
        if (PendingAfterSnapId is not { } after)
        {
            reason = SnapId == snapId ? null : $"it belongs to snapshot id {SnapId}, this one is {snapId}";
            return reason is null;
        }
        var written = DateTimeOffset.FromUnixTimeSeconds(PendingWrittenUnixSeconds ?? 0);
        if (snapId <= after)
        {
            reason = $"it was written for a snapshot newer than id {after}, this one is {snapId}";
        }
        else if (created < written - PendingWindow || created > written + PendingWindow)
        {
            reason = $"it was written at {written:u}, this snapshot was made at {created:u}";
        }
        else
        {
            reason = null;
        }
        return reason is null;
    }

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
            if (PendingAfterSnapId is { } after)
            {
                // No "snapId": a reader that does not know pending records ignores this one as unreadable.
                writer.WriteNumber("pendingAfter", after);
                writer.WriteNumber("pendingWritten", PendingWrittenUnixSeconds ?? 0);
            }
            else
            {
                writer.WriteNumber("snapId", SnapId);
            }
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
            SnapshotIdentity? from = root.TryGetProperty("from", out var f) ? SnapshotIdentity.Parse(f.GetString() ?? "") : null;
            long? created = root.TryGetProperty("fromCreated", out var c) ? c.GetInt64() : null;
            problem = null;
            if (root.TryGetProperty("pendingAfter", out var after))
            {
                return new ReceivedRecord(0, from, created)
                {
                    PendingAfterSnapId = after.GetUInt64(),
                    PendingWrittenUnixSeconds = root.GetProperty("pendingWritten").GetInt64(),
                };
            }
            return new ReceivedRecord(root.GetProperty("snapId").GetUInt64(), from, created);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException or ArgumentException)
        {
            problem = "unreadable record: " + e.Message;
            return null;
        }
    }
}
