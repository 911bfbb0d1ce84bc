namespace DeltaSnap.Replication;

/// <summary>
/// Turns a lower layer's progress (the delta planner's clusters, a shallow copy's bytes) into a refresh's
/// <see cref="RefreshProgress"/>, synchronously on the reporting thread (no <see cref="Progress{T}"/> posting: the
/// caller's <see cref="IProgress{T}"/> decides where its work runs).
/// </summary>
internal static class ProgressMapping
{
    /// <summary>A progress that converts each value and hands it to <paramref name="progress"/>; null when <paramref name="progress"/> is.</summary>
    public static IProgress<TIn>? Map<TIn, TOut>(IProgress<TOut>? progress, Func<TIn, TOut> convert) =>
        progress is null ? null : new Mapped<TIn, TOut>(progress, convert);

    private sealed class Mapped<TIn, TOut>(IProgress<TOut> progress, Func<TIn, TOut> convert) : IProgress<TIn>
    {
        public void Report(TIn value) => progress.Report(convert(value));
    }
}
