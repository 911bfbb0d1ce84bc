namespace DeltaSnap.Copy;

/// <summary>How a <see cref="ShallowCopyOperation"/> runs.</summary>
public sealed record ShallowCopyOptions
{
    private int _maxDegreeOfParallelism = Environment.ProcessorCount;
    private long _resumeFrom;

    /// <summary>
    /// How many clusters are read at once. Default: the processor count. Writes stay in ascending order
    /// whatever the value; at most twice this many clusters are held in memory, read but not yet written.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _maxDegreeOfParallelism = value;
        }
    }

    /// <summary>
    /// Whether data that reads as all zeros is sent as an unmap instead of written (default true): the target
    /// stays sparse and a delta stream carries a small record instead of the zeros.
    /// </summary>
    public bool DetectZeros { get; init; } = true;

    /// <summary>
    /// Skips everything before this offset: pass the <see cref="ShallowCopyOperation.Checkpoint"/> of an
    /// interrupted copy of the same request onto the same target to finish it. Default 0.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public long ResumeFrom
    {
        get => _resumeFrom;
        init
        {
            ThrowHelper.ThrowIfNegative(value);
            _resumeFrom = value;
        }
    }
}
