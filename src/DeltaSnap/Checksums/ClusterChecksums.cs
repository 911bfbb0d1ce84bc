using System.Buffers.Binary;
using DeltaSnap.Devices;

namespace DeltaSnap.Checksums;

/// <summary>
/// The per-cluster map of a volume: for every cluster its <see cref="ClusterState"/> and checksum, plus two
/// whole-volume checksums. Immutable once built; compute it with <see cref="ComputeAsync"/>, persist it
/// with <c>SaveAsync</c> and <c>LoadAsync</c>.
/// </summary>
/// <remarks>
/// <para><see cref="VolumeChecksum"/> covers the allocated clusters (zero and data) in cluster order. With
/// <see cref="ChecksumAlgorithm.Crc64Iso"/> it is exactly Longhorn's snapshot checksum: CRC-64/ISO chained
/// from 0 over the bytes of the allocated clusters. With the other algorithms it is the algorithm's hash
/// of the sequence (cluster index as u64 little-endian, cluster digest) over the allocated clusters.</para>
/// <para><see cref="ContentChecksum"/> ignores allocation: it hashes (index, digest) over the data clusters
/// only, so two volumes with the same bytes have the same content checksum however they are allocated.</para>
/// </remarks>
public sealed class ClusterChecksums
{
    private static readonly byte[] Magic = "DSNAPCKS"u8.ToArray();
    private const ushort FormatVersion = 1;
    private const int HeaderSize = 48;

    private readonly byte[] _states;
    private readonly byte[] _digests;
    private readonly byte[] _volumeChecksum;
    private readonly byte[] _contentChecksum;

    internal ClusterChecksums(ClusterLayout layout, ChecksumAlgorithm algorithm, CustomChecksumAlgorithm? customAlgorithm, byte[] states, byte[] digests)
    {
        Layout = layout;
        Algorithm = algorithm;
        CustomAlgorithm = customAlgorithm;
        HashLength = customAlgorithm?.HashLength ?? ChecksumHasher.GetHashLength(algorithm);
        _states = states;
        _digests = digests;
        foreach (var s in states)
        {
            switch ((ClusterState)s)
            {
                case ClusterState.Data:
                    DataClusters++;
                    break;
                case ClusterState.Zero:
                    ZeroClusters++;
                    break;
                default:
                    break;
            }
        }
        (_volumeChecksum, _contentChecksum) = ComputeWholeChecksums();
    }

    /// <summary>The layout the map covers.</summary>
    public ClusterLayout Layout { get; }

    /// <summary>The algorithm of every digest in the map (0, no built-in algorithm, when <see cref="CustomAlgorithm"/> is set).</summary>
    public ChecksumAlgorithm Algorithm { get; }

    /// <summary>The caller-supplied algorithm of every digest in the map, or null for a built-in one.</summary>
    public CustomChecksumAlgorithm? CustomAlgorithm { get; }

    /// <summary>The digest length in bytes.</summary>
    public int HashLength { get; }

    /// <summary>Clusters that hold data.</summary>
    public long DataClusters { get; }

    /// <summary>Allocated clusters that hold only zeros.</summary>
    public long ZeroClusters { get; }

    /// <summary>Clusters that are not allocated.</summary>
    public long UnallocatedClusters => Layout.ClusterCount - DataClusters - ZeroClusters;

    /// <summary>The checksum of the allocated clusters (Longhorn's snapshot checksum with CRC-64/ISO).</summary>
    public ReadOnlySpan<byte> VolumeChecksum => _volumeChecksum;

    /// <summary>The allocation-independent checksum of the volume's content.</summary>
    public ReadOnlySpan<byte> ContentChecksum => _contentChecksum;

    /// <summary>The state of cluster <paramref name="index"/>.</summary>
    public ClusterState GetState(long index)
    {
        _ = Layout.OffsetOf(index);
        return (ClusterState)_states[index];
    }

    /// <summary>The digest of cluster <paramref name="index"/>; empty when it is unallocated.</summary>
    public ReadOnlySpan<byte> GetChecksum(long index) =>
        GetState(index) == ClusterState.Unallocated ? default : _digests.AsSpan((int)(index * HashLength), HashLength);

    /// <summary>Whether cluster <paramref name="index"/> holds the same bytes here and in <paramref name="other"/> (zero and unallocated read alike).</summary>
    /// <exception cref="ArgumentException">The maps use different algorithms or cluster sizes.</exception>
    public bool ContentEquals(long index, ClusterChecksums other)
    {
        ThrowHelper.ThrowIfNull(other);
        CheckComparable(other);
        var a = GetState(index);
        var b = other.GetState(index);
        if (a != ClusterState.Data || b != ClusterState.Data)
        {
            return a != ClusterState.Data && b != ClusterState.Data;
        }
        return GetChecksum(index).SequenceEqual(other.GetChecksum(index));
    }

    /// <summary>Whether both maps describe the same bytes (content checksums and layout agree).</summary>
    public bool ContentEquals(ClusterChecksums other)
    {
        ThrowHelper.ThrowIfNull(other);
        return SameAlgorithm(other) && other.Layout == Layout && other.ContentChecksum.SequenceEqual(ContentChecksum);
    }

    /// <summary>Throws unless <paramref name="other"/> can be compared cluster by cluster with this map.</summary>
    /// <exception cref="ArgumentException">The maps use different algorithms or cluster sizes.</exception>
    public void CheckComparable(ClusterChecksums other)
    {
        ThrowHelper.ThrowIfNull(other);
        if (!SameAlgorithm(other) || other.Layout.ClusterSize != Layout.ClusterSize)
        {
            ThrowHelper.ThrowArgument(nameof(other),
                $"Cannot compare a {NameOf(Algorithm, CustomAlgorithm)} map of {Layout.ClusterSize}-byte clusters with a {NameOf(other.Algorithm, other.CustomAlgorithm)} map of {other.Layout.ClusterSize}-byte clusters.");
        }
    }

    /// <summary>The algorithm's name for messages.</summary>
    internal static string NameOf(ChecksumAlgorithm algorithm, CustomChecksumAlgorithm? customAlgorithm) =>
        customAlgorithm is null ? algorithm.ToString() : $"custom '{customAlgorithm.Name}'";

    // Custom algorithms compare by instance: two instances of one name may still hash differently.
    private bool SameAlgorithm(ClusterChecksums other) => other.Algorithm == Algorithm && ReferenceEquals(other.CustomAlgorithm, CustomAlgorithm);

    /// <summary>
    /// Reads <paramref name="device"/> once and computes the map: clusters in holes are unallocated and not
    /// read, every other cluster is read and hashed exactly once. Each of up to
    /// <see cref="ClusterChecksumOptions.MaxDegreeOfParallelism"/> workers reads contiguous segments of the device
    /// front to back, 1 MiB at a time, into one pooled buffer and hashes the clusters in place (memory
    /// does not grow with the volume beyond the map itself).
    /// </summary>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static async Task<ClusterChecksums> ComputeAsync(
        BlockDevice device,
        ClusterChecksumOptions? options = null,
        IProgress<ChecksumProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(device);
        options ??= new ClusterChecksumOptions();
        var layout = new ClusterLayout(device.Length, options.ClusterSize);
        var builder = options.CustomAlgorithm is { } custom
            ? new ClusterChecksumsBuilder(layout, custom)
            : new ClusterChecksumsBuilder(layout, options.Algorithm);
        var allocation = options.UseDeviceAllocation && device.CanReportAllocation
            ? await device.ReadAllocationAsync(cancellationToken).ConfigureAwait(false)
            : null;
        var allocated = new AllocationMap(layout.ClusterCount);
        if (allocation is null)
        {
            allocated.SetAll();
        }
        else
        {
            foreach (var index in allocation.EnumerateClusters(layout))
            {
                allocated[index] = true;
            }
        }

        var zeroDigest = ZeroDigest(options, layout.ClusterSize);
        var workers = (int)Math.Min(options.MaxDegreeOfParallelism, Math.Max(1, allocated.AllocatedCount));
        var scan = new ClusterScan(device, builder, allocated, zeroDigest, workers, progress);
        await scan.RunAsync(workers, cancellationToken).ConfigureAwait(false);
        progress?.Report(new ChecksumProgress(layout.ClusterCount, layout.ClusterCount, scan.BytesRead));
        return builder.Build();
    }

    // The digest of an all-zero cluster, hashed from one zero piece of at most 1 MiB at a time.
    private static byte[] ZeroDigest(ClusterChecksumOptions options, int clusterSize)
    {
        var hasher = options.CustomAlgorithm is { } custom ? custom.CreateHasher() : ChecksumHasher.Create(options.Algorithm);
        var zeros = new byte[Math.Min(clusterSize, ClusterScan.ReadSize)];
        for (var left = clusterSize; left > 0; left -= zeros.Length)
        {
            hasher.Append(zeros);
        }
        return hasher.GetCurrentHash();
    }

    /// <summary>
    /// Writes the map in its versioned binary form (described in <c>docs/checksum-map.md</c>): a header, two
    /// bits of state per cluster, the digests of the data clusters, both whole checksums and a CRC-32C of
    /// everything before it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The map was computed with a <see cref="CustomAlgorithm"/>, which the format cannot name.</exception>
    public async Task SaveAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(destination);
        ThrowIfCustom();
        var writer = new ChecksummedWriter(destination);
        var header = new byte[HeaderSize];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), FormatVersion);
        header[10] = (byte)Algorithm;
        header[11] = (byte)HashLength;
        header[12] = (byte)Layout.ClusterShift;
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), Layout.VolumeSize);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(24), Layout.ClusterCount);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(32), DataClusters);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(40), ZeroClusters);
        await writer.WriteAsync(header, cancellationToken).ConfigureAwait(false);

        var chunk = new byte[64 * 1024];
        for (long first = 0; first < Layout.ClusterCount; first += chunk.Length * 4L)
        {
            var count = (int)Math.Min(chunk.Length * 4L, Layout.ClusterCount - first);
            var bytes = (count + 3) / 4;
            chunk.AsSpan(0, bytes).Clear();
            for (var i = 0; i < count; i++)
            {
                chunk[i >> 2] |= (byte)(_states[first + i] << ((i & 3) * 2));
            }
            await writer.WriteAsync(chunk.AsMemory(0, bytes), cancellationToken).ConfigureAwait(false);
        }

        var used = 0;
        for (long i = 0; i < Layout.ClusterCount; i++)
        {
            if (_states[i] == (byte)ClusterState.Data)
            {
                if (used + HashLength > chunk.Length)
                {
                    await writer.WriteAsync(chunk.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
                    used = 0;
                }
                _digests.AsSpan((int)(i * HashLength), HashLength).CopyTo(chunk.AsSpan(used));
                used += HashLength;
            }
        }
        await writer.WriteAsync(chunk.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(_volumeChecksum, cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(_contentChecksum, cancellationToken).ConfigureAwait(false);
        await writer.WriteTrailerAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Saves the map to a file (written to a temporary name, then renamed into place).</summary>
    /// <exception cref="InvalidOperationException">The map was computed with a <see cref="CustomAlgorithm"/>, which the format cannot name.</exception>
    public async Task SaveAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ThrowIfCustom();
        var temporary = path + ".tmp-" + Environment.ProcessId;
        var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            await SaveAsync(stream, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a map written by <see cref="SaveAsync(Stream, CancellationToken)"/>.</summary>
    /// <exception cref="CorruptDataException">The data is not a checksum map, is of an unknown version, is truncated or corrupt; the message says which.</exception>
    public static async Task<ClusterChecksums> LoadAsync(Stream source, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfNull(source);
        var reader = new ChecksummedReader(source);
        var header = new byte[HeaderSize];
        await reader.ReadExactlyAsync(header, "header", cancellationToken).ConfigureAwait(false);
        if (!header.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new CorruptDataException("Not a DeltaSnap checksum map: the magic bytes are wrong.");
        }
        var version = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(8));
        if (version != FormatVersion)
        {
            throw new CorruptDataException($"Checksum map format version {version} is not supported (this library reads version {FormatVersion}).");
        }
        var algorithm = (ChecksumAlgorithm)header[10];
        if (!Enum.IsDefined(algorithm))
        {
            throw new CorruptDataException($"The checksum map names an unknown algorithm ({header[10]}).");
        }
        var hashLength = ChecksumHasher.GetHashLength(algorithm);
        if (header[11] != hashLength)
        {
            throw new CorruptDataException($"The checksum map says {header[11]}-byte digests; {algorithm} digests are {hashLength} bytes.");
        }
        var shift = header[12];
        var volumeSize = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16));
        var clusterCount = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(24));
        var dataClusters = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(32));
        var zeroClusters = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(40));
        if (shift is < 12 or > 26 || volumeSize < 0)
        {
            throw new CorruptDataException($"The checksum map header is corrupt (cluster shift {shift}, volume size {volumeSize}).");
        }
        var layout = new ClusterLayout(volumeSize, 1 << shift);
        if (clusterCount != layout.ClusterCount || dataClusters < 0 || zeroClusters < 0 || dataClusters + zeroClusters > clusterCount)
        {
            throw new CorruptDataException($"The checksum map header is corrupt ({clusterCount} clusters for a volume of {volumeSize} bytes, {dataClusters} data and {zeroClusters} zero clusters).");
        }

        var builder = new ClusterChecksumsBuilder(layout, algorithm);
        var states = new byte[clusterCount];
        var chunk = new byte[64 * 1024];
        for (long first = 0; first < clusterCount; first += chunk.Length * 4L)
        {
            var count = (int)Math.Min(chunk.Length * 4L, clusterCount - first);
            var bytes = (count + 3) / 4;
            await reader.ReadExactlyAsync(chunk.AsMemory(0, bytes), "cluster states", cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < count; i++)
            {
                var s = (chunk[i >> 2] >> ((i & 3) * 2)) & 3;
                if (s > (int)ClusterState.Data)
                {
                    throw new CorruptDataException($"Cluster {first + i} has an invalid state ({s}).");
                }
                states[first + i] = (byte)s;
            }
        }
        var zeroDigest = ChecksumHasher.Hash(algorithm, new byte[layout.ClusterSize]);
        var digest = new byte[hashLength];
        long seenData = 0, seenZero = 0;
        for (long i = 0; i < clusterCount; i++)
        {
            switch ((ClusterState)states[i])
            {
                case ClusterState.Data:
                    await reader.ReadExactlyAsync(digest, "cluster digests", cancellationToken).ConfigureAwait(false);
                    builder.Set(i, ClusterState.Data, digest);
                    seenData++;
                    break;
                case ClusterState.Zero:
                    var length = layout.LengthOf(i);
                    builder.Set(i, ClusterState.Zero, length == layout.ClusterSize ? zeroDigest : ChecksumHasher.Hash(algorithm, new byte[length]));
                    seenZero++;
                    break;
                default:
                    break;
            }
        }
        if (seenData != dataClusters || seenZero != zeroClusters)
        {
            throw new CorruptDataException($"The checksum map header counts {dataClusters} data and {zeroClusters} zero clusters; the map holds {seenData} and {seenZero}.");
        }
        var volumeChecksum = new byte[hashLength];
        var contentChecksum = new byte[hashLength];
        await reader.ReadExactlyAsync(volumeChecksum, "volume checksum", cancellationToken).ConfigureAwait(false);
        await reader.ReadExactlyAsync(contentChecksum, "content checksum", cancellationToken).ConfigureAwait(false);
        await reader.VerifyTrailerAsync(cancellationToken).ConfigureAwait(false);

        var map = builder.Build();
        if (!map.VolumeChecksum.SequenceEqual(volumeChecksum) || !map.ContentChecksum.SequenceEqual(contentChecksum))
        {
            throw new CorruptDataException("The checksum map's whole-volume checksums do not match its clusters.");
        }
        return map;
    }

    /// <summary>Loads a map from a file.</summary>
    /// <exception cref="CorruptDataException">The file is not a valid checksum map.</exception>
    public static async Task<ClusterChecksums> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            return await LoadAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    private void ThrowIfCustom()
    {
        if (CustomAlgorithm is not null)
        {
            ThrowHelper.ThrowInvalidOperation(
                $"A map computed with the custom algorithm '{CustomAlgorithm.Name}' cannot be saved: the map format names only the built-in algorithms.");
        }
    }

    private ChecksumHasher CreateHasher() => CustomAlgorithm?.CreateHasher() ?? ChecksumHasher.Create(Algorithm);

    private (byte[] Volume, byte[] Content) ComputeWholeChecksums()
    {
        var content = CreateHasher();
        Span<byte> index = stackalloc byte[8];
        byte[] volume;
        if (Algorithm == ChecksumAlgorithm.Crc64Iso && CustomAlgorithm is null)
        {
            // Longhorn: CRC-64/ISO chained over the allocated clusters' bytes, computed from the per-cluster CRCs.
            ulong chain = 0;
            var fullCluster = Crc64Iso.ShiftOperator(Layout.ClusterSize);
            for (long i = 0; i < Layout.ClusterCount; i++)
            {
                if (_states[i] != (byte)ClusterState.Unallocated)
                {
                    var crc = BinaryPrimitives.ReadUInt64BigEndian(_digests.AsSpan((int)(i * HashLength), HashLength));
                    var length = Layout.LengthOf(i);
                    chain = length == Layout.ClusterSize ? Crc64Iso.Combine(chain, crc, fullCluster) : Crc64Iso.Combine(chain, crc, length);
                }
            }
            volume = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(volume, chain);
        }
        else
        {
            var hasher = CreateHasher();
            for (long i = 0; i < Layout.ClusterCount; i++)
            {
                if (_states[i] != (byte)ClusterState.Unallocated)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(index, i);
                    hasher.Append(index);
                    hasher.Append(_digests.AsSpan((int)(i * HashLength), HashLength));
                }
            }
            volume = hasher.GetCurrentHash();
        }
        for (long i = 0; i < Layout.ClusterCount; i++)
        {
            if (_states[i] == (byte)ClusterState.Data)
            {
                BinaryPrimitives.WriteInt64LittleEndian(index, i);
                content.Append(index);
                content.Append(_digests.AsSpan((int)(i * HashLength), HashLength));
            }
        }
        return (volume, content.GetCurrentHash());
    }
}
