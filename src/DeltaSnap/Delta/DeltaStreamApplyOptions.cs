namespace DeltaSnap.Delta;

/// <summary>How <see cref="DeltaStream.ApplyOrRollBackAsync"/> applies a stream.</summary>
public sealed class DeltaStreamApplyOptions
{
    /// <summary>
    /// Checks the target once the trailer is verified, before the undo journal is discarded: typically compares
    /// <see cref="DeltaStreamTrailer.VolumeChecksum"/> with the target's own. Throwing rolls the target back. Null: no
    /// check beyond the stream's own.
    /// </summary>
    public Func<DeltaStreamTrailer, CancellationToken, ValueTask>? Verify { get; set; }

    /// <summary>Where the undo journal (the target's bytes before each record, deleted afterwards) is kept; null for the temporary directory.</summary>
    public string? JournalDirectory { get; set; }
}
