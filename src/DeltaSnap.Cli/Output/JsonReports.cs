using System.Text.Json.Serialization;

namespace DeltaSnap.Cli.Output;

/// <summary>What <c>deltasnap checksums --json</c> prints.</summary>
/// <param name="File">The image that was read.</param>
/// <param name="VolumeSize">Its size in bytes.</param>
/// <param name="ClusterSize">The cluster size in bytes.</param>
/// <param name="ClusterCount">Clusters in all (the last may be short).</param>
/// <param name="Algorithm">The algorithm's command-line name.</param>
/// <param name="DataClusters">Clusters holding data.</param>
/// <param name="ZeroClusters">Allocated clusters holding only zeros.</param>
/// <param name="UnallocatedClusters">Clusters in holes (not read).</param>
/// <param name="BytesRead">Bytes read from the image.</param>
/// <param name="VolumeChecksum">Checksum of the allocated clusters, lowercase hex.</param>
/// <param name="ContentChecksum">Allocation-independent checksum of the content, lowercase hex.</param>
/// <param name="Seconds">Time spent computing the map.</param>
/// <param name="GigabytesPerSecond">Bytes read per second, in GB (10^9 bytes).</param>
/// <param name="Map">Where the map was saved (<c>-o</c>), else absent.</param>
/// <param name="Clusters">Every cluster, when the map was not saved; else absent.</param>
internal sealed record ChecksumsReport(
    string File,
    long VolumeSize,
    int ClusterSize,
    long ClusterCount,
    string Algorithm,
    long DataClusters,
    long ZeroClusters,
    long UnallocatedClusters,
    long BytesRead,
    string VolumeChecksum,
    string ContentChecksum,
    double Seconds,
    double GigabytesPerSecond,
    string? Map,
    IEnumerable<ClusterEntry>? Clusters);

/// <summary>One cluster of a map.</summary>
/// <param name="Index">Cluster index.</param>
/// <param name="Offset">First byte.</param>
/// <param name="Length">Length in bytes (the last cluster may be short).</param>
/// <param name="State"><c>data</c>, <c>zero</c> or <c>unallocated</c>.</param>
/// <param name="Checksum">Digest in lowercase hex; absent for unallocated clusters.</param>
internal sealed record ClusterEntry(long Index, long Offset, int Length, string State, string? Checksum);

/// <summary>What <c>deltasnap diff --json</c> prints.</summary>
/// <param name="A">The old side.</param>
/// <param name="B">The new side.</param>
/// <param name="ClusterSize">The cluster size both sides were compared at.</param>
/// <param name="Algorithm">The algorithm both sides use.</param>
/// <param name="ChangedClusters">Clusters whose content differs.</param>
/// <param name="ChangedBytes">Bytes in the changed ranges.</param>
/// <param name="BytesToCopy">Bytes that would move to turn A into B: B's data in the changed clusters.</param>
/// <param name="BytesToUnmap">Bytes of changed clusters that are zero or unallocated in B: unmapped, not sent.</param>
/// <param name="Seconds">Time spent loading and computing both maps and comparing them.</param>
/// <param name="Ranges">The changed ranges, ascending and coalesced.</param>
internal sealed record DiffReport(
    DiffSide A,
    DiffSide B,
    int ClusterSize,
    string Algorithm,
    long ChangedClusters,
    long ChangedBytes,
    long BytesToCopy,
    long BytesToUnmap,
    double Seconds,
    IReadOnlyList<RangeEntry> Ranges);

/// <summary>One input of a diff.</summary>
/// <param name="Path">The path given.</param>
/// <param name="Kind"><c>map</c> (a saved checksum map) or <c>image</c> (checksummed on the fly).</param>
/// <param name="VolumeSize">The volume size in bytes.</param>
internal sealed record DiffSide(string Path, string Kind, long VolumeSize);

/// <summary>A byte range <c>[Offset, Offset + Length)</c>.</summary>
internal sealed record RangeEntry(long Offset, long Length);

/// <summary>The source-generated serializers for every report (the tool may be trimmed, so no reflection).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ChecksumsReport))]
[JsonSerializable(typeof(DiffReport))]
[JsonSerializable(typeof(IReadOnlyList<SnapshotEntry>))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(PlanReport))]
[JsonSerializable(typeof(RefreshReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
