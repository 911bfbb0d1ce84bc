namespace DeltaSnap.RefreshBenchmarks;

/// <summary>Statistics of repeated runs, shared by the paired harnesses and the matrix report.</summary>
public static class RunStatistics
{
    /// <summary>The median of <paramref name="values"/> (the mean of the two middle values of an even count).</summary>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty.</exception>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            throw new ArgumentException("No values.", nameof(values));
        }
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
