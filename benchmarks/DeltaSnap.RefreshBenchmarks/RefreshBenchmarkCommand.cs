using DeltaSnap.Cli.Commands;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace DeltaSnap.RefreshBenchmarks;

/// <summary>
/// The command of a native refresh benchmark (<c>zfs</c>, <c>btrfs</c>, <c>rbd</c>): the options every backend shares
/// (<c>--size</c>, <c>--changed</c>, <c>--runs</c>, <c>--json</c>) next to the backend's own, their checks, and the
/// report as JSON or as a table. Progress goes to standard output, or to standard error with <c>--json</c>.
/// </summary>
internal static class RefreshBenchmarkCommand
{
    /// <summary>Exit code of a successful run.</summary>
    public const int Success = 0;

    /// <summary>Exit code of a failed run.</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a bad command line.</summary>
    public const int Usage = 2;

    /// <summary>Exit code of a cancelled run.</summary>
    public const int Cancelled = 130;

    /// <summary>The name error messages start with.</summary>
    public const string ToolName = "refresh-benchmarks";

    /// <summary>Creates the command <paramref name="name"/> with <paramref name="backendOptions"/> first and the shared options after them.</summary>
    /// <param name="name">The command's name (the backend).</param>
    /// <param name="description">The command's description.</param>
    /// <param name="backendOptions">The backend's own options (where the volumes go).</param>
    /// <param name="create">Makes the benchmark from the parsed command line and the shared values.</param>
    /// <param name="jsonTypeInfo">The results' JSON.</param>
    /// <param name="header">The table's first lines (what the numbers are, then the column names).</param>
    /// <param name="row">One case as a table row.</param>
    public static Command Create<TResult>(
        string name,
        string description,
        IReadOnlyList<Option> backendOptions,
        Func<ParseResult, BenchmarkSettings, NativeRefreshBenchmark<TResult>> create,
        JsonTypeInfo<IReadOnlyList<TResult>> jsonTypeInfo,
        IReadOnlyList<string> header,
        Func<TResult, string> row)
    {
        var size = new Option<string>("--size") { Description = "The data size (default 1G).", HelpName = "SIZE" };
        var changed = new Option<double[]>("--changed")
        {
            Description = "A changed share of the data in percent; repeat for several cases (default 1 and 10).",
            HelpName = "PERCENT",
            AllowMultipleArgumentsPerToken = true,
        };
        var runs = new Option<int?>("--runs") { Description = "Measured runs per case and route (default 5).", HelpName = "N" };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON." };
        var command = new Command(name, description);
        foreach (var option in backendOptions)
        {
            command.Options.Add(option);
        }
        command.Options.Add(size);
        command.Options.Add(changed);
        command.Options.Add(runs);
        command.Options.Add(json);
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            await Task.Yield(); // System.CommandLine hooks SIGINT/SIGTERM only after the action hands back its task
            try
            {
                var sizeText = parseResult.GetValue(size);
                long bytes = 1L << 30;
                if (sizeText is not null && (!ByteSize.TryParse(sizeText, out bytes) || bytes < (16 << 20)))
                {
                    throw new UsageException($"--size {sizeText}: expected a size of at least 16M, such as 256M or 1G.");
                }
                var percents = parseResult.GetValue(changed) is { Length: > 0 } given ? given : [1.0, 10.0];
                if (percents.Any(p => p is <= 0 or > 100))
                {
                    throw new UsageException("--changed takes percentages above 0 and at most 100.");
                }
                var runCount = parseResult.GetValue(runs) ?? 5;
                if (runCount < 1)
                {
                    throw new UsageException("--runs must be at least 1.");
                }
                var benchmark = create(parseResult, new BenchmarkSettings(bytes, percents, runCount));
                var asJson = parseResult.GetValue(json);
                var results = await benchmark.RunAsync(asJson ? error : output, cancellationToken).ConfigureAwait(false);
                if (asJson)
                {
                    await output.WriteLineAsync(JsonSerializer.Serialize(results, jsonTypeInfo)).ConfigureAwait(false);
                    return Success;
                }
                foreach (var line in header)
                {
                    await output.WriteLineAsync(line).ConfigureAwait(false);
                }
                foreach (var r in results)
                {
                    await output.WriteLineAsync(row(r)).ConfigureAwait(false);
                }
                return Success;
            }
            catch (UsageException e)
            {
                await error.WriteLineAsync($"{ToolName}: {e.Message} See '{ToolName} {name} --help'.").ConfigureAwait(false);
                return Usage;
            }
            catch (OperationCanceledException)
            {
                await error.WriteLineAsync($"{ToolName}: Cancelled.").ConfigureAwait(false);
                return Cancelled;
            }
            catch (Exception e)
            {
                var message = e is IOException or UnauthorizedAccessException or DeltaSnapException ? e.Message : $"{e.Message} ({e.GetType().Name})";
                await error.WriteLineAsync($"{ToolName}: {message.ReplaceLineEndings(" ").Trim()}").ConfigureAwait(false);
                return Failure;
            }
        });
        return command;
    }

    /// <summary>Checks a name the backend's command will see (a pool name): a usage error naming <paramref name="option"/> when the library rejects it.</summary>
    public static string CheckName(string value, string option, string what, Action<string> validate)
    {
        ArgumentNullException.ThrowIfNull(validate);
        try
        {
            validate(value);
            return value;
        }
        catch (ArgumentException e)
        {
            var message = e.Message;
            var suffix = e.ParamName is null ? null : $" (Parameter '{e.ParamName}')";
            if (suffix is not null && message.EndsWith(suffix, StringComparison.Ordinal))
            {
                message = message[..^suffix.Length];
            }
            throw new UsageException($"{option} '{value}': expected {what}. {message}", e);
        }
    }


    /// <summary>The shared options' values.</summary>
    /// <param name="Size">The data size.</param>
    /// <param name="ChangedPercents">The changes measured, in percent.</param>
    /// <param name="Runs">Measured runs per case and route.</param>
    public readonly record struct BenchmarkSettings(long Size, IReadOnlyList<double> ChangedPercents, int Runs);
}
