using System.CommandLine;

namespace DeltaSnap.Bench;

/// <summary>
/// <c>deltasnap-bench</c>: runs a benchmark matrix over every backend pair the machine can open, DeltaSnap against the
/// native pipes and the tools users run instead, and writes a report (<c>run</c>); rewrites a report from its result
/// file (<c>report</c>); compares two result files (<c>compare</c>).
/// </summary>
public static class Program
{
    /// <summary>Exit code of a successful run.</summary>
    public const int Success = 0;

    /// <summary>Exit code of a failed run.</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a bad command line or matrix.</summary>
    public const int Usage = 2;

    /// <summary>Runs the command line against the console.</summary>
    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out, Console.Error);

    /// <summary>Runs a command line with the given writers (progress goes to <paramref name="error"/>).</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var matrixArgument = new Argument<string>("MATRIX") { Description = "The matrix file (JSON): pairs, sizes, patterns, rates, rounds." };
        var outputOption = new Option<string>("--output", "-o") { Description = "The results directory (default: bench-results/UTC-TIMESTAMP).", HelpName = "DIR" };
        var cliOption = new Option<string>("--cli") { Description = "The deltasnap tool to run as a whole process (an executable, or DeltaSnap.Cli.dll run through dotnet); default: the Release build of src/DeltaSnap.Cli.", HelpName = "PATH" };
        var run = new Command("run", "Run a matrix and write the report (results.json, a CSV per metric, summary.md, report.html with plots).") { matrixArgument, outputOption, cliOption };
        run.SetAction(async (parseResult, token) =>
        {
            var matrix = await Matrix.LoadAsync(parseResult.GetRequiredValue(matrixArgument), token).ConfigureAwait(false);
            var environment = new BenchEnvironment(
                Path.GetFullPath(matrix.WorkDirectory ?? Path.GetTempPath()),
                BenchEnvironment.FindCli(parseResult.GetValue(cliOption)));
            var report = await new BenchRunner(matrix, environment, error).RunAsync(token).ConfigureAwait(false);
            var directory = parseResult.GetValue(outputOption) ?? Path.Combine("bench-results", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture));
            foreach (var file in await ReportWriter.WriteAsync(report, directory, token).ConfigureAwait(false))
            {
                await output.WriteLineAsync(file).ConfigureAwait(false);
            }
            return Success;
        });

        var resultArgument = new Argument<string>("RESULTS") { Description = "A results.json of an earlier run." };
        var report = new Command("report", "Write the report files again from a result file.") { resultArgument, outputOption };
        report.SetAction(async (parseResult, token) =>
        {
            var path = parseResult.GetRequiredValue(resultArgument);
            var loaded = await ReportComparison.LoadAsync(path, token).ConfigureAwait(false);
            foreach (var file in await ReportWriter.WriteAsync(loaded, parseResult.GetValue(outputOption) ?? Path.GetDirectoryName(Path.GetFullPath(path))!, token).ConfigureAwait(false))
            {
                await output.WriteLineAsync(file).ConfigureAwait(false);
            }
            return Success;
        });

        var a = new Argument<string>("A") { Description = "The earlier result file." };
        var b = new Argument<string>("B") { Description = "The later result file." };
        var compare = new Command("compare", "Print the change from A to B in % per case, contender and metric (medians).") { a, b };
        compare.SetAction(async (parseResult, token) =>
        {
            var first = await ReportComparison.LoadAsync(parseResult.GetRequiredValue(a), token).ConfigureAwait(false);
            var second = await ReportComparison.LoadAsync(parseResult.GetRequiredValue(b), token).ConfigureAwait(false);
            await output.WriteAsync(ReportComparison.Compare(first, second)).ConfigureAwait(false);
            return Success;
        });

        var root = new RootCommand("deltasnap-bench: DeltaSnap against the native pipes and the tools users run instead, over a matrix of backend pairs, sizes and changes.")
        {
            run, report, compare,
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            await error.WriteLineAsync("deltasnap-bench: " + string.Join(" ", parsed.Errors.Select(e => e.Message))).ConfigureAwait(false);
            return Usage;
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken).ConfigureAwait(false);
        }
        catch (MatrixException e)
        {
            await error.WriteLineAsync($"deltasnap-bench: {e.Message}").ConfigureAwait(false);
            return Usage;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DeltaSnapException or System.Text.Json.JsonException or InvalidOperationException)
        {
            await error.WriteLineAsync($"deltasnap-bench: {e.Message.ReplaceLineEndings(" ").Trim()} ({e.GetType().Name})").ConfigureAwait(false);
            return Failure;
        }
    }
}
