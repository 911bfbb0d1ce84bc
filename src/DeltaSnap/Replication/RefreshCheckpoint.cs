using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DeltaSnap.Replication;

/// <summary>
/// The durable record of a copy in progress, kept on the receiving side in <see cref="RefreshOptions.CheckpointDirectory"/>
/// (one small JSON file per target address): which source and which target, the target snapshot the copy started from
/// (its base), what it was copying towards, and how far it got. On the checksum route (<see cref="Route"/>
/// <c>checksum</c>): the cluster size and algorithm, bytes written and the copy's cursor at the last flush of the
/// target; while it exists, the target's live state holds a partial copy that the next refresh continues instead of
/// rolling it back. On the native route (<c>native</c>, backends with reproducible streams): the source snapshot the
/// stream is incremental from, and the length and digest of the stream spooled so far in a file next to the checkpoint
/// (<see cref="SpoolPathOf"/>); the next refresh sending the same pair asks the source for the rest only.
/// </summary>
internal sealed record RefreshCheckpoint
{
    /// <summary>The format version of the file.</summary>
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    /// <summary>The route name of the copy: <see cref="ChecksumRoute"/> (also when absent, as in files of earlier builds) or <see cref="NativeRoute"/>.</summary>
    public string Route { get; init; } = ChecksumRoute;

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

    /// <summary>Native route: the source snapshot the stream is incremental from (null: a full stream).</summary>
    public string? SourceBaseName { get; init; }

    /// <summary>Its identity.</summary>
    public string? SourceBaseIdentity { get; init; }

    /// <summary>Native route: the bytes of the stream in the spool file as of the last save (synced before it was saved).</summary>
    public long SpoolBytes { get; init; }

    /// <summary>Native route: the XXH128 (seed 0) of those bytes, 32 hex digits.</summary>
    public string? SpoolDigest { get; init; }

    /// <summary>Native route: whether the spool holds the whole stream (only the receive from it was left).</summary>
    public bool SpoolComplete { get; init; }

    /// <summary>The value of <see cref="Route"/> for the checksum route.</summary>
    public const string ChecksumRoute = "checksum";

    /// <summary>The value of <see cref="Route"/> for the native route.</summary>
    public const string NativeRoute = "native";

    /// <summary>The checkpoint file of <paramref name="target"/> in <paramref name="directory"/>.</summary>
    public static string PathOf(string directory, string target) =>
        System.IO.Path.Combine(directory, "refresh-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(target)))[..32] + ".json");

    /// <summary>The spool file of a native-route checkpoint of <paramref name="target"/> in <paramref name="directory"/>.</summary>
    public static string SpoolPathOf(string directory, string target) => System.IO.Path.ChangeExtension(PathOf(directory, target), ".spool");

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

    /// <summary>Deletes the checkpoint of <paramref name="target"/> and its spool file; true when there was a checkpoint.</summary>
    public static bool Delete(string directory, string target)
    {
        if (File.Exists(SpoolPathOf(directory, target)))
        {
            File.Delete(SpoolPathOf(directory, target));
        }
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
