using System.Globalization;
using DeltaSnap.Cli.Commands;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Cli.Logging;

/// <summary>
/// The tool's logging: every log message at or above <see cref="MinimumLevel"/> becomes one line on standard error,
/// <c>deltasnap: LEVEL: CATEGORY[EVENT]: MESSAGE</c>. A few lines instead of Microsoft.Extensions.Logging.Console: that
/// package brings its own logger factory, options, configuration and a background writer thread into every start of
/// the tool (and writes to the process's console, not to the writer a test gives).
/// </summary>
internal sealed class StandardErrorLoggerFactory(TextWriter error) : ILoggerFactory
{
    private readonly Lock _lock = new();

    /// <summary>The least severe level written; <see cref="LogLevel.None"/> (the default) writes nothing.</summary>
    public LogLevel MinimumLevel { get; set; } = LogLevel.None;

    /// <summary>The names <c>--log-level</c> takes, most verbose first.</summary>
    public static IReadOnlyList<string> LevelNames { get; } = ["trace", "debug", "information", "warning", "error", "critical", "none"];

    /// <summary>Parses a level name of <see cref="LevelNames"/> (in any case).</summary>
    public static bool TryParseLevel(string text, out LogLevel level)
    {
        ArgumentNullException.ThrowIfNull(text);
        var index = LevelNames.ToList().FindIndex(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase));
        level = index < 0 ? LogLevel.None : (LogLevel)index;
        return index >= 0;
    }

    public ILogger CreateLogger(string categoryName)
    {
        ArgumentNullException.ThrowIfNull(categoryName);
        var dot = categoryName.LastIndexOf('.');
        return new StandardErrorLogger(this, dot >= 0 ? categoryName[(dot + 1)..] : categoryName);
    }

    /// <summary>Not supported: the tool logs to standard error only.</summary>
    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("The deltasnap tool logs to standard error only.");

    public void Dispose()
    {
    }

    private void Write(LogLevel level, string category, EventId eventId, string message, Exception? exception)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"{CommandRunner.ToolName}: {LevelNames[(int)level]}: {category}[{eventId.Id}]: {message}");
        if (exception is not null)
        {
            // One line, as every error line of the tool; the stack only when the user asked for the most detail.
            line += MinimumLevel <= LogLevel.Debug
                ? Environment.NewLine + exception
                : $" ({exception.Message.ReplaceLineEndings(" ")})";
        }
        lock (_lock)
        {
            error.WriteLine(line);
            error.Flush();
        }
    }

    private sealed class StandardErrorLogger(StandardErrorLoggerFactory factory, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= factory.MinimumLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (IsEnabled(logLevel))
            {
                factory.Write(logLevel, category, eventId, formatter(state, exception), exception);
            }
        }
    }
}
