using DeltaSnap.Checksums;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Replication;

/// <summary>How a refresh runs.</summary>
public sealed class RefreshOptions
{
    private int _clusterSize = ClusterLayout.DefaultClusterSize;
    private int _refinementBlockSize = 4096;

    /// <summary>What the plan may do: full resend over an unrelated target, keep target-only snapshots, and so on.</summary>
    public RefreshPlanOptions Plan { get; set; } = new();

    /// <summary>Options of native streams (compressed, raw).</summary>
    public NativeSendOptions Native { get; set; } = new();

    /// <summary>The cluster size the checksum route compares at (default 1 MiB).</summary>
    public int ClusterSize
    {
        get => _clusterSize;
        set
        {
            ClusterLayout.ValidateClusterSize(value);
            _clusterSize = value;
        }
    }

    /// <summary>The checksum algorithm of the checksum route (default XXH3-128).</summary>
    public ChecksumAlgorithm Algorithm { get; set; } = ChecksumAlgorithm.Xxh128;

    /// <summary>The block size of sub-cluster refinement (default 4 KiB; 0 turns refinement off and copies whole clusters).</summary>
    public int RefinementBlockSize
    {
        get => _refinementBlockSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _refinementBlockSize = value;
        }
    }

    /// <summary>How many clusters are read and hashed at once (default: the processor count).</summary>
    public int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Verify the whole target after a block transfer by reading all of it (default false: only what was
    /// written is read back and compared, so the cost follows the change, not the volume).
    /// </summary>
    public bool VerifyWholeVolume { get; set; }

    /// <summary>Never take the native-stream route, even between volumes of one backend.</summary>
    public bool DisableNativeStreams { get; set; }

    /// <summary>
    /// On the tree route, accept files that vanish from the source during the copy (an inconsistent copy, rsync's
    /// exit 24); by default that fails the refresh. Sources read from snapshots do not change, so this matters
    /// only for sources that are not snapshots.
    /// </summary>
    public bool AllowVanishedFiles { get; set; }
}
