using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Cli.Logging;

/// <summary><c>--log-level LEVEL</c>: a global option (every command takes it) that turns on log lines on standard error.</summary>
internal static class LogLevelOption
{
    /// <summary>
    /// The level without the option: none. Every failure is already one line on standard error with its exit code; the
    /// library's warnings are mostly recovery it did itself (a zfs-fuse receive retried, a half-received leftover removed),
    /// and its error event repeats the failure's line, so logging by default would break "one line per failure".
    /// </summary>
    public const LogLevel Default = LogLevel.None;

    /// <summary>The option's name.</summary>
    public const string Name = "--log-level";

    public static Option<LogLevel?> Create()
    {
        var option = new Option<LogLevel?>(Name)
        {
            Description = "Write the library's log messages at LEVEL and above to standard error (default none).",
            HelpName = string.Join('|', StandardErrorLoggerFactory.LevelNames),
            Recursive = true,
            CustomParser = Parse,
        };
        option.CompletionSources.Add([.. StandardErrorLoggerFactory.LevelNames]);
        return option;
    }

    private static LogLevel? Parse(ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var text = result.Tokens[0].Value;
        if (StandardErrorLoggerFactory.TryParseLevel(text, out var level))
        {
            return level;
        }
        result.AddError($"Unknown log level '{text}': use one of {string.Join(", ", StandardErrorLoggerFactory.LevelNames)}.");
        return null;
    }
}
