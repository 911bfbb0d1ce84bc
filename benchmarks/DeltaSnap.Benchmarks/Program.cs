using BenchmarkDotNet.Running;

namespace DeltaSnap.Benchmarks;

/// <summary>Entry point: <c>dotnet run -c Release -- --list flat</c>, <c>-- --filter '*Crc*'</c>.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchmarkConfig.Create());
        foreach (var summary in summaries)
        {
            if (summary.HasCriticalValidationErrors || summary.Reports.Any(r => !r.Success))
            {
                return 1;
            }
        }
        return 0;
    }
}
