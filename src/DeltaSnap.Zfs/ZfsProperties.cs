using System.Globalization;
using DeltaSnap.Lineage;

namespace DeltaSnap.Zfs;

/// <summary>A snapshot as read from ZFS: its info plus the exact GUID and createtxg.</summary>
internal sealed record SnapshotRecord(SnapshotInfo Info, ulong Guid, ulong CreateTxg);

/// <summary>
/// Parses what <c>zfs get -H -p</c> prints (tab-separated, exact numbers): snapshot records, hold counts, a dataset's
/// own properties, and the state a receive needs. Pure functions of the text, so they are tested without ZFS.
/// </summary>
internal static class ZfsProperties
{
    /// <summary>Parses <c>zfs get -Hp -o name,property,value</c> output into snapshot records (names starting with <paramref name="prefix"/>).</summary>
    public static List<SnapshotRecord> ParseSnapshots(string output, string prefix)
    {
        var byName = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length < 3 || !fields[0].StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }
            if (!byName.TryGetValue(fields[0], out var props))
            {
                byName[fields[0]] = props = new Dictionary<string, string>(StringComparer.Ordinal);
                order.Add(fields[0]);
            }
            props[fields[1]] = fields[2];
        }
        var records = new List<SnapshotRecord>(order.Count);
        foreach (var full in order)
        {
            var props = byName[full];
            var name = full[prefix.Length..];
            if (!props.TryGetValue("guid", out var guidText) || !ulong.TryParse(guidText, NumberStyles.None, CultureInfo.InvariantCulture, out var guid) ||
                !props.TryGetValue("createtxg", out var txgText) || !ulong.TryParse(txgText, NumberStyles.None, CultureInfo.InvariantCulture, out var txg) ||
                !props.TryGetValue("creation", out var creationText) || !long.TryParse(creationText, NumberStyles.None, CultureInfo.InvariantCulture, out var creation))
            {
                throw new BackendCommandException($"zfs get returned incomplete or non-numeric properties for {full} (guid, createtxg, creation).");
            }
            if (props.TryGetValue(ZfsVolume.CreatedProperty, out var createdText) && long.TryParse(createdText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var created))
            {
                creation = created;
            }
            SnapshotIdentity? receivedFrom = null;
            if (props.TryGetValue(ZfsVolume.ReceivedFromProperty, out var fromText) && fromText != "-")
            {
                try
                {
                    receivedFrom = SnapshotIdentity.Parse(fromText);
                }
                catch (Exception e) when (e is FormatException or ArgumentException)
                {
                    receivedFrom = null; // not written by DeltaSnap; ignore
                }
            }
            var info = new SnapshotInfo(name, new SnapshotIdentity(ZfsDriver.GuidIdentityKind, guid.ToString(CultureInfo.InvariantCulture)), DateTimeOffset.FromUnixTimeSeconds(creation))
            {
                ReceivedFrom = receivedFrom,
            };
            records.Add(new SnapshotRecord(info, guid, txg));
        }
        return records;
    }

    /// <summary>Parses <c>zfs get -Hp -r -d 1 -o name,value userrefs</c> output: hold counts by snapshot name (names starting with <paramref name="prefix"/>).</summary>
    public static Dictionary<string, long> ParseUserRefs(string output, string prefix)
    {
        var refs = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length == 2 && fields[0].StartsWith(prefix, StringComparison.Ordinal) &&
                long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                refs[fields[0][prefix.Length..]] = n;
            }
        }
        return refs;
    }

    /// <summary>
    /// The properties of one dataset (<paramref name="name"/>) in <c>zfs get -H -p -o name,property,value</c> output over
    /// several datasets; an empty dictionary when the output has none of its rows.
    /// </summary>
    public static Dictionary<string, string> ParseNamedProperties(string output, string name)
    {
        var props = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length >= 3 && fields[0] == name)
            {
                props[fields[1]] = fields[2];
            }
        }
        return props;
    }

    /// <summary>Parses <c>zfs get -Hp -o property,value,source</c> output of one dataset: value and source by property.</summary>
    public static Dictionary<string, (string Value, string Source)> ParseOwnProperties(string output)
    {
        var props = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length >= 3)
            {
                props[fields[0]] = (fields[1], fields[2]);
            }
        }
        return props;
    }

    /// <summary>
    /// Parses <c>zfs get -Hp -r -d 1 -o name,property,value,source</c> output over a dataset and its snapshots into
    /// what a receive needs: the lineage (by createtxg), hold counts, mount and atime state, a resume token, the
    /// encryption state, and the quotas set locally (which the receive lifts).
    /// </summary>
    public static ZfsReceiveState ParseReceiveState(string output, string dataset)
    {
        var own = new Dictionary<string, (string Value, string Source)>(StringComparer.Ordinal);
        var userRefs = new Dictionary<string, long>(StringComparer.Ordinal);
        var prefix = dataset + "@";
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length < 4)
            {
                continue;
            }
            if (fields[0] == dataset)
            {
                own[fields[1]] = (fields[2], fields[3]);
            }
            else if (fields[1] == "userrefs" && fields[0].StartsWith(prefix, StringComparison.Ordinal) &&
                     long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var refs))
            {
                userRefs[fields[0][prefix.Length..]] = refs;
            }
        }
        var lineage = new SnapshotLineage(ParseSnapshots(output, prefix).OrderBy(r => r.CreateTxg).Select(r => r.Info));
        var quotas = new List<(string, string)>();
        foreach (var q in (string[])["quota", "refquota"])
        {
            if (own.TryGetValue(q, out var p) && p.Source == "local" && p.Value is not ("0" or "-" or "none"))
            {
                quotas.Add((q, p.Value));
            }
        }
        return new ZfsReceiveState(
            lineage,
            userRefs,
            own.TryGetValue("mounted", out var m) && m.Value == "yes",
            own.TryGetValue("atime", out var a) ? a.Value : null,
            own.TryGetValue("receive_resume_token", out var t) && t.Value is not ("-" or "") ? t.Value : null,
            own.TryGetValue("encryption", out var e) ? e.Value : null,
            own.TryGetValue("keystatus", out var k) ? k.Value : null,
            quotas);
    }
}

/// <summary>What a receive needs to know of its target dataset, read in one <c>zfs get</c>.</summary>
internal sealed record ZfsReceiveState(
    SnapshotLineage Lineage,
    IReadOnlyDictionary<string, long> UserRefs,
    bool Mounted,
    string? Atime,
    string? ResumeToken,
    string? Encryption,
    string? KeyStatus,
    IReadOnlyList<(string Property, string Value)> LocalQuotas);
