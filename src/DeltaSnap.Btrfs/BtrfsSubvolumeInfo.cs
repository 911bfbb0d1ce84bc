using System.Globalization;

namespace DeltaSnap.Btrfs;

/// <summary>What <c>btrfs subvolume show PATH</c> reports about one subvolume.</summary>
internal sealed record BtrfsSubvolumeInfo
{
    /// <summary>The subvolume's UUID.</summary>
    public required string Uuid { get; init; }

    /// <summary>The UUID of the subvolume it was snapshotted from, or null.</summary>
    public string? ParentUuid { get; init; }

    /// <summary>The UUID it was received from (set by <c>btrfs receive</c>), or null.</summary>
    public string? ReceivedUuid { get; init; }

    /// <summary>When the subvolume was created (its otime), UTC.</summary>
    public DateTimeOffset CreatedUtc { get; init; }

    /// <summary>The last transaction that changed it.</summary>
    public ulong Generation { get; init; }

    /// <summary>The transaction that created it (otransid): the order in which snapshots were taken or received.</summary>
    public ulong GenerationAtCreation { get; init; }

    /// <summary>Whether the subvolume is read-only.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Parses the output of <c>btrfs subvolume show</c> (btrfs-progs 5.x and 6.x, C locale, TZ=UTC).</summary>
    /// <exception cref="FormatException">The output lacks the UUID.</exception>
    public static BtrfsSubvolumeInfo Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }
            var key = line[..colon].Trim();
            if (!fields.ContainsKey(key))
            {
                fields[key] = line[(colon + 1)..].Trim();
            }
        }
        if (!fields.TryGetValue("UUID", out var uuid) || !IsUuid(uuid))
        {
            throw new FormatException("`btrfs subvolume show` printed no UUID.");
        }
        return new BtrfsSubvolumeInfo
        {
            Uuid = uuid,
            ParentUuid = OptionalUuid(fields, "Parent UUID"),
            ReceivedUuid = OptionalUuid(fields, "Received UUID"),
            CreatedUtc = fields.TryGetValue("Creation time", out var created) ? ParseTime(created) : DateTimeOffset.UnixEpoch,
            Generation = fields.TryGetValue("Generation", out var gen) && ulong.TryParse(gen, CultureInfo.InvariantCulture, out var g) ? g : 0,
            GenerationAtCreation = fields.TryGetValue("Gen at creation", out var ogen) && ulong.TryParse(ogen, CultureInfo.InvariantCulture, out var og) ? og : 0,
            ReadOnly = fields.TryGetValue("Flags", out var flags) && flags.Split(' ', ',').Contains("readonly", StringComparer.Ordinal),
        };
    }

    /// <summary>Parses <c>2026-11-21 09:57:14 +0000</c> (or <c>-</c>, for unknown, as the epoch).</summary>
    internal static DateTimeOffset ParseTime(string text)
    {
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2
            || !DateTime.TryParseExact(parts[0] + " " + parts[1], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            return DateTimeOffset.UnixEpoch;
        }
        var offset = TimeSpan.Zero;
        if (parts.Length >= 3 && parts[2].Length == 5 && (parts[2][0] is '+' or '-')
            && int.TryParse(parts[2].AsSpan(1, 2), CultureInfo.InvariantCulture, out var hours)
            && int.TryParse(parts[2].AsSpan(3, 2), CultureInfo.InvariantCulture, out var minutes))
        {
            offset = new TimeSpan(hours, minutes, 0);
            if (parts[2][0] == '-')
            {
                offset = -offset;
            }
        }
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }

    private static string? OptionalUuid(Dictionary<string, string> fields, string key) =>
        fields.TryGetValue(key, out var value) && IsUuid(value) ? value : null;

    private static bool IsUuid(string value) => Guid.TryParseExact(value, "D", out var guid) && guid != Guid.Empty;
}
