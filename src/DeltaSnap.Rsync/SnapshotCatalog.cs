using System.Text.Json;
using System.Text.Json.Serialization;
using DeltaSnap.Lineage;

namespace DeltaSnap.Rsync;

/// <summary>
/// One snapshot as a catalog records it. <paramref name="LiveClock"/>: for a copy of the live tree, the file system's
/// clock just before the copy began (a probe file's change time, nanoseconds since the epoch): a live tree with no
/// entry changed since is still equal to the snapshot. Null for received snapshots and older catalogs.
/// </summary>
internal sealed record CatalogEntry(string Name, string Id, long Created, string? ReceivedFrom, long Sequence, SnapshotCopyMethod Method, long? LiveClock = null);

/// <summary>The catalog file's content.</summary>
internal sealed record CatalogFile(int Version, List<CatalogEntry> Snapshots);

[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CatalogFile))]
internal sealed partial class CatalogJsonContext : JsonSerializerContext;

/// <summary>
/// The lineage of a <c>dir:</c> or <c>file:</c> volume: <c>catalog.json</c> in the volume's metadata directory,
/// one entry per snapshot (its identity, creation time, the source snapshot it was made from, its order and
/// how its copy was made), rewritten atomically (write, then rename).
/// </summary>
internal sealed class SnapshotCatalog(string metadataDirectory, string identityKind)
{
    private const int CurrentVersion = 1;

    public string MetadataDirectory { get; } = metadataDirectory;

    private string PathName => Path.Combine(MetadataDirectory, "catalog.json");

    public async Task<List<CatalogEntry>> ReadAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(PathName))
        {
            return [];
        }
        var stream = File.OpenRead(PathName);
        await using (stream.ConfigureAwait(false))
        {
            CatalogFile? file;
            try
            {
                file = await JsonSerializer.DeserializeAsync(stream, CatalogJsonContext.Default.CatalogFile, cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                throw new CorruptDataException($"The snapshot catalog {PathName} is not readable: {e.Message}", e);
            }
            if (file is null || file.Version != CurrentVersion)
            {
                throw new CorruptDataException($"The snapshot catalog {PathName} has version {file?.Version}; this DeltaSnap reads version {CurrentVersion}.");
            }
            return file.Snapshots ?? [];
        }
    }

    public async Task WriteAsync(List<CatalogEntry> entries, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(MetadataDirectory);
        var temporary = PathName + ".new";
        var stream = File.Create(temporary);
        await using (stream.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(stream, new CatalogFile(CurrentVersion, entries), CatalogJsonContext.Default.CatalogFile, cancellationToken)
                .ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, PathName, overwrite: true);
    }

    public SnapshotInfo ToInfo(CatalogEntry entry, long? size) =>
        new(entry.Name, new SnapshotIdentity(identityKind, entry.Id), DateTimeOffset.FromUnixTimeSeconds(entry.Created))
        {
            ReceivedFrom = entry.ReceivedFrom is null ? null : SnapshotIdentity.Parse(entry.ReceivedFrom),
            Size = size,
        };

    public static CatalogEntry NewEntry(string name, Drivers.SnapshotCreateOptions options, IReadOnlyList<CatalogEntry> existing, SnapshotCopyMethod method) =>
        new(name,
            Guid.NewGuid().ToString("D"),
            (options.CreatedUtc ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds(),
            options.ReceivedFrom is { IsEmpty: false } from ? from.ToString() : null,
            existing.Count == 0 ? 1 : existing.Max(e => e.Sequence) + 1,
            method);
}
