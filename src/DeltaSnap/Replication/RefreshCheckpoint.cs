using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DeltaSnap.Replication;

/// <summary>
/// The durable record of a checksum-route copy in progress, kept on the receiving side in
/// <see cref="RefreshOptions.CheckpointDirectory"/> (one small JSON file per target address): which source and which
/// target, the target snapshot the copy started from (its base), what it was copying towards, the cluster size and
/// algorithm, and how far it got (bytes written and the copy's cursor at the last flush of the target). While it
/// exists, the target's live state holds a partial copy that the next refresh continues instead of rolling it back.
/// </summary>
internal sealed record RefreshCheckpoint
{
    /// <summary>The format version of the file.</summary>
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    public required string Source { get; init; }

    public required string Target { get; init; }

    /// <summary>The target snapshot the live state was rolled back to before the copy (null: a full copy).</summary>
    public string? BaseName { get; init; }

    /// <summary>Its identity (<see cref="SnapshotIdentity.ToString"/>).</summary>
    public string? BaseIdentity { get; init; }

    /// <summary>The source snapshot being copied (a temporary snapshot's name for the live state).</summary>
    public required string ToName { get; init; }

    /// <summary>Its identity.</summary>
    public required string ToIdentity { get; init; }

    /// <summary>Whether the copy was of the source's live state (each run captures it in a new temporary snapshot).</summary>
    public bool ToIsLiveState { get; init; }

    public long VolumeSize { get; init; }

    public int ClusterSize { get; init; }

    public string Algorithm { get; init; } = "";

    /// <summary>Bytes written to the target by the copy, as of the last flush.</summary>
    public long BytesWritten { get; init; }

    /// <summary>The copy's cursor at the last flush: everything before this offset had been written.</summary>
    public long Cursor { get; init; }

    public DateTimeOffset SavedUtc { get; init; }

    /// <summary>The checkpoint file of <paramref name="target"/> in <paramref name="directory"/>.</summary>
    public static string PathOf(string directory, string target) =>
        System.IO.Path.Combine(directory, "refresh-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(target)))[..32] + ".json");

    /// <summary>Reads the checkpoint of <paramref name="target"/>; null when there is none. An unreadable file is reported as such.</summary>
    /// <exception cref="DeltaSnapException">The file exists but is not a checkpoint of this version for this target.</exception>
    public static async Task<RefreshCheckpoint?> LoadAsync(string directory, string target, CancellationToken cancellationToken)
    {
        var path = PathOf(directory, target);
        if (!File.Exists(path))
        {
            return null;
        }
        RefreshCheckpoint? checkpoint;
        try
        {
            var stream = File.OpenRead(path);
            await using (stream.ConfigureAwait(false))
            {
                checkpoint = await JsonSerializer.DeserializeAsync(stream, RefreshCheckpointJson.Default.RefreshCheckpoint, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (JsonException e)
        {
            throw new DeltaSnapException($"The resume checkpoint {path} is damaged: {e.Message}", e);
        }
        if (checkpoint is null || checkpoint.Version != CurrentVersion || checkpoint.Target != target)
        {
            throw new DeltaSnapException($"The resume checkpoint {path} is not a version {CurrentVersion} checkpoint of {target}.");
        }
        return checkpoint;
    }

    /// <summary>Writes the checkpoint durably: a temporary file, synced, renamed over the old one.</summary>
    public async Task SaveAsync(string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var path = PathOf(directory, Target);
        var temporary = path + ".tmp";
        var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(stream, this, RefreshCheckpointJson.Default.RefreshCheckpoint, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Deletes the checkpoint of <paramref name="target"/>; true when there was one.</summary>
    public static bool Delete(string directory, string target)
    {
        var path = PathOf(directory, target);
        if (!File.Exists(path))
        {
            return false;
        }
        File.Delete(path);
        return true;
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(RefreshCheckpoint))]
internal sealed partial class RefreshCheckpointJson : JsonSerializerContext;
