using DeltaSnap.Checksums;
using DeltaSnap.Devices;

namespace DeltaSnap.Delta;

/// <summary>What <see cref="DeltaPlanner.PlanAsync(DeltaPlanRequest, CancellationToken)"/> compares, and what it may use to compare less.</summary>
public sealed record DeltaPlanRequest
{
    private readonly BlockDevice _source = null!;
    private readonly BlockDevice _target = null!;
    private readonly DeltaPlanOptions _options = new();

    /// <summary>The device to copy from.</summary>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    public required BlockDevice Source
    {
        get => _source;
        init
        {
            ThrowHelper.ThrowIfNull(value);
            _source = value;
        }
    }

    /// <summary>The device to bring up to date; may be shorter or longer than the source.</summary>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    public required BlockDevice Target
    {
        get => _target;
        init
        {
            ThrowHelper.ThrowIfNull(value);
            _target = value;
        }
    }

    /// <summary>The cluster size, algorithm, refinement block and parallelism (default: the defaults of <see cref="DeltaPlanOptions"/>).</summary>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    public DeltaPlanOptions Options
    {
        get => _options;
        init
        {
            ThrowHelper.ThrowIfNull(value);
            _options = value;
        }
    }

    /// <summary>The source's map, if one is at hand (registered, or saved earlier); it must use the options' cluster size and algorithm.</summary>
    public ClusterChecksums? SourceChecksums { get; init; }

    /// <summary>The target's map, if one is at hand; it must use the options' cluster size and algorithm.</summary>
    public ClusterChecksums? TargetChecksums { get; init; }

    /// <summary>The only byte ranges that may differ (a backend's diff or allocation map); null to compare every cluster.</summary>
    public RangeSet? Candidates { get; init; }

    /// <summary>Receives progress now and then; null for none.</summary>
    public IProgress<DeltaPlanProgress>? Progress { get; init; }
}
