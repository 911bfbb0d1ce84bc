namespace DeltaSnap.Delta;

/// <summary>Options of a <see cref="DeltaStreamReader"/>.</summary>
public sealed record DeltaStreamReaderOptions
{
    /// <summary>
    /// Whether disposing the reader leaves its source open: the <see cref="System.IO.Pipelines.PipeReader"/> is not
    /// completed, the <see cref="Stream"/> not disposed. False by default.
    /// </summary>
    public bool LeaveOpen { get; init; }

    /// <summary>
    /// Whether the input may go on after the trailer. False by default: the delta stream must be the whole
    /// input, and bytes after the trailer are reported as corruption. When true the reader stops right after
    /// the trailer, and a caller that passed a <see cref="System.IO.Pipelines.PipeReader"/> (with
    /// <see cref="LeaveOpen"/>) can go on reading what follows from it.
    /// </summary>
    public bool AllowDataAfterTrailer { get; init; }
}
