using DeltaSnap.Checksums;

namespace DeltaSnap.Delta;

/// <summary>
/// What a delta stream says about itself before its first record: what it carries, the volume it
/// applies to, the checksum algorithm of its trailer, and the snapshots it goes from and to.
/// </summary>
public sealed record DeltaStreamHeader
{
    private readonly int _maxRecordPayload = DeltaStream.DefaultMaxRecordPayload;

    /// <summary>Creates a header.</summary>
    /// <param name="payloadKind">What the stream carries.</param>
    /// <param name="volumeSize">The volume size in bytes; block records lie inside it.</param>
    /// <param name="clusterSize">The volume's cluster size: a power of two from 4 KiB to 64 MiB.</param>
    /// <param name="algorithm">The algorithm of the whole-volume checksum in the trailer.</param>
    /// <param name="target">The snapshot the stream brings the receiver to.</param>
    /// <param name="baseSnapshot">The snapshot the receiver must already hold (null for a full stream).</param>
    /// <exception cref="ArgumentOutOfRangeException">The payload kind or algorithm is unknown, the volume size is negative, or the cluster size is invalid.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="target"/> is null.</exception>
    public DeltaStreamHeader(
        DeltaStreamPayloadKind payloadKind,
        long volumeSize,
        int clusterSize,
        ChecksumAlgorithm algorithm,
        DeltaStreamSnapshot target,
        DeltaStreamSnapshot? baseSnapshot = null)
    {
        if (!Enum.IsDefined(payloadKind))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(payloadKind), payloadKind, "Unknown payload kind.");
        }
        ThrowHelper.ThrowIfNegative(volumeSize);
        ClusterLayout.ValidateClusterSize(clusterSize);
        _ = ChecksumHasher.GetHashLength(algorithm);
        ThrowHelper.ThrowIfNull(target);
        PayloadKind = payloadKind;
        VolumeSize = volumeSize;
        ClusterSize = clusterSize;
        Algorithm = algorithm;
        Target = target;
        Base = baseSnapshot;
    }

    /// <summary>What the stream carries: block records, or a backend's native stream.</summary>
    public DeltaStreamPayloadKind PayloadKind { get; }

    /// <summary>The volume size in bytes.</summary>
    public long VolumeSize { get; }

    /// <summary>The volume's cluster size in bytes.</summary>
    public int ClusterSize { get; }

    /// <summary>The volume's cluster layout.</summary>
    public ClusterLayout Layout => new(VolumeSize, ClusterSize);

    /// <summary>The algorithm of the whole-volume checksum in the trailer.</summary>
    public ChecksumAlgorithm Algorithm { get; }

    /// <summary>The snapshot the receiver must already hold; null for a full stream.</summary>
    public DeltaStreamSnapshot? Base { get; }

    /// <summary>The snapshot the stream brings the receiver to.</summary>
    public DeltaStreamSnapshot Target { get; }

    /// <summary>Whether the stream is incremental (it has a <see cref="Base"/>).</summary>
    public bool IsIncremental => Base is not null;

    /// <summary>
    /// The largest payload of one record, in bytes: the writer cuts larger writes into records of at
    /// most this size, and the reader refuses larger records, so both sides buffer at most about this much
    /// per record. From <see cref="DeltaStream.SmallestMaxRecordPayload"/> to <see cref="DeltaStream.LargestMaxRecordPayload"/>;
    /// <see cref="DeltaStream.DefaultMaxRecordPayload"/> (1 MiB) by default.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is out of range.</exception>
    public int MaxRecordPayload
    {
        get => _maxRecordPayload;
        init
        {
            if (value is < DeltaStream.SmallestMaxRecordPayload or > DeltaStream.LargestMaxRecordPayload)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(MaxRecordPayload), value,
                    $"The largest record payload must be from {DeltaStream.SmallestMaxRecordPayload} to {DeltaStream.LargestMaxRecordPayload} bytes.");
            }
            _maxRecordPayload = value;
        }
    }
}
