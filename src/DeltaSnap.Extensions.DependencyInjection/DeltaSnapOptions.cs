using DeltaSnap.Checksums;
using DeltaSnap.Delta;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Extensions.DependencyInjection;

/// <summary>
/// DeltaSnap's settings as configuration binds them (the <c>DeltaSnap</c> section by convention): the defaults of every
/// refresh (<see cref="ToRefreshOptions"/>). A mutable settings class, so that configuration can bind it; the rules are
/// those of <see cref="RefreshOptions"/> and the records it holds, checked on start by <see cref="DeltaSnapOptionsValidator"/>.
/// </summary>
public sealed class DeltaSnapOptions
{
    /// <summary>The configuration section these options are usually bound from: <c>DeltaSnap</c>.</summary>
    public const string SectionName = "DeltaSnap";

    /// <summary>The cluster size of the checksum route: a power of two from 4 KiB to 64 MiB (default 1 MiB); <see cref="DeltaPlanOptions.ClusterSize"/>.</summary>
    public int ClusterSize { get; set; } = ClusterLayout.DefaultClusterSize;

    /// <summary>The checksum algorithm of the checksum route (default XXH3-128); <see cref="DeltaPlanOptions.Algorithm"/>.</summary>
    public ChecksumAlgorithm ChecksumAlgorithm { get; set; } = ChecksumAlgorithm.Xxh128;

    /// <summary>The sub-cluster refinement block: 0 (off) or a power of two of at least 512 below the cluster size (default 4 KiB); <see cref="DeltaPlanOptions.RefinementBlockSize"/>.</summary>
    public int RefinementBlockSize { get; set; } = DeltaPlanOptions.DefaultRefinementBlockSize;

    /// <summary>How many clusters are read and compared at once, at least 1; null (the default) for the processor count.</summary>
    public int? MaxDegreeOfParallelism { get; set; }

    /// <summary>How long the cleanup after a failed refresh may take (default 2 minutes; <c>-00:00:00.001</c>, <see cref="Timeout.InfiniteTimeSpan"/>, for none); <see cref="RefreshOptions.CleanupTimeout"/>.</summary>
    public TimeSpan CleanupTimeout { get; set; } = RefreshOptions.DefaultCleanupTimeout;

    /// <summary>Verify the whole target after a block transfer; <see cref="RefreshOptions.VerifyWholeVolume"/>.</summary>
    public bool VerifyWholeVolume { get; set; }

    /// <summary>Never take the native-stream route; <see cref="RefreshOptions.DisableNativeStreams"/>.</summary>
    public bool DisableNativeStreams { get; set; }

    /// <summary>On the tree route, accept files that vanish during the copy; <see cref="RefreshOptions.AllowVanishedFiles"/>.</summary>
    public bool AllowVanishedFiles { get; set; }

    /// <summary>Allow a full resend over an unrelated target (its snapshots are deleted); <see cref="RefreshPlanOptions.AllowFullResend"/>.</summary>
    public bool AllowFullResend { get; set; }

    /// <summary>Keep target-only snapshots newer than the base where the backend allows; <see cref="RefreshPlanOptions.KeepTargetOnlySnapshots"/>.</summary>
    public bool KeepTargetOnlySnapshots { get; set; }

    /// <summary>Send only source snapshots newer than the target's newest; <see cref="RefreshPlanOptions.OnlyNewerThanTargetLatest"/>.</summary>
    public bool OnlyNewerThanTargetLatest { get; set; }

    /// <summary>Refresh up to the latest source snapshot, without the live state; <see cref="RefreshPlanOptions.SnapshotsOnly"/>.</summary>
    public bool SnapshotsOnly { get; set; }

    /// <summary>Send native streams compressed as stored, where supported; <see cref="NativeSendOptions.Compressed"/>.</summary>
    public bool CompressedNativeStreams { get; set; }

    /// <summary>Send native streams raw (encrypted blocks), where supported; <see cref="NativeSendOptions.Raw"/>.</summary>
    public bool RawNativeStreams { get; set; }

    /// <summary>The refresh options these settings describe, built and checked by <see cref="RefreshOptions"/> and the records it holds.</summary>
    /// <exception cref="ArgumentException">A setting breaks their rules; <see cref="ArgumentException.ParamName"/> names the setting of this class.</exception>
    public RefreshOptions ToRefreshOptions()
    {
        DeltaPlanOptions delta = Build(nameof(ClusterSize), () => new DeltaPlanOptions { ClusterSize = ClusterSize });
        delta = Build(nameof(ChecksumAlgorithm), () => delta with { Algorithm = ChecksumAlgorithm });
        delta = Build(nameof(RefinementBlockSize), () => delta with { RefinementBlockSize = RefinementBlockSize });
        if (MaxDegreeOfParallelism is { } parallelism)
        {
            delta = Build(nameof(MaxDegreeOfParallelism), () => delta with { MaxDegreeOfParallelism = parallelism });
        }
        // The rules between properties (refinement block below the cluster, a known algorithm) run where the core runs
        // them, when a plan is made: check them here with the same code.
        Build(nameof(RefinementBlockSize), () => delta.Validate(nameof(RefinementBlockSize)));
        return Build(nameof(CleanupTimeout), () => new RefreshOptions
        {
            Delta = delta,
            CleanupTimeout = CleanupTimeout,
            VerifyWholeVolume = VerifyWholeVolume,
            DisableNativeStreams = DisableNativeStreams,
            AllowVanishedFiles = AllowVanishedFiles,
            Plan = new RefreshPlanOptions
            {
                AllowFullResend = AllowFullResend,
                KeepTargetOnlySnapshots = KeepTargetOnlySnapshots,
                OnlyNewerThanTargetLatest = OnlyNewerThanTargetLatest,
                SnapshotsOnly = SnapshotsOnly,
            },
            Native = new NativeSendOptions { Compressed = CompressedNativeStreams, Raw = RawNativeStreams },
        });
    }

    private static T Build<T>(string setting, Func<T> build)
    {
        try
        {
            return build();
        }
        catch (ArgumentException e)
        {
            var message = e is ArgumentOutOfRangeException { ActualValue: { } value } ? $"{FirstSentence(e.Message)} (was {value})" : FirstSentence(e.Message);
            throw new ArgumentException(message, setting, e);
        }
    }

    private static void Build(string setting, Action check) => Build(setting, () =>
    {
        check();
        return 0;
    });

    // ArgumentException appends " (Parameter 'value')" and the actual value on lines of their own: keep the rule itself.
    internal static string FirstSentence(string message)
    {
        var end = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        var line = message.IndexOf('\n', StringComparison.Ordinal);
        var cut = new[] { end, line }.Where(i => i >= 0).DefaultIfEmpty(message.Length).Min();
        return message[..cut].TrimEnd();
    }
}
