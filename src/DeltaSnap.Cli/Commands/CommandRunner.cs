using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// Runs a command line: parses it, turns parse errors into one line on standard error and exit code 2, runs the
/// chosen command's handler, and maps what the handler throws to one line on standard error and an exit code
/// (<see cref="ExitCodes"/>). Nothing a user can cause prints a stack trace.
/// </summary>
internal static class CommandRunner
{
    /// <summary>The name error messages and hints start with.</summary>
    public const string ToolName = "deltasnap";

    private static readonly TimeSpan TerminationGracePeriod = TimeSpan.FromSeconds(5);

    /// <summary>Parses <paramref name="args"/> against <paramref name="root"/> and invokes the result.</summary>
    /// <param name="root">The command tree.</param>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="output">Standard output: results, help, version.</param>
    /// <param name="error">Standard error: error messages.</param>
    /// <param name="handleTermination">Whether Ctrl+C and SIGTERM cancel the command (true for the real process, false in tests).</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>The exit code.</returns>
    public static Task<int> InvokeAsync(RootCommand root, IReadOnlyList<string> args, TextWriter output, TextWriter error,
        bool handleTermination = false, CancellationToken cancellationToken = default) =>
        InvokeAsync(root, args, output, error, handleTermination, parsed: null, cancellationToken);

    /// <summary>As <see cref="InvokeAsync(RootCommand, IReadOnlyList{string}, TextWriter, TextWriter, bool, CancellationToken)"/>, calling <paramref name="parsed"/> with a parse without errors before the command runs (to apply global options).</summary>
    public static async Task<int> InvokeAsync(RootCommand root, IReadOnlyList<string> args, TextWriter output, TextWriter error,
        bool handleTermination, Action<ParseResult>? parsed, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var parseResult = root.Parse(args);
        // An unknown option taken for a file name is the real mistake, even when it also caused other parse errors.
        if (parseResult.Action is not HelpAction && FindOptionLikeArgument(parseResult) is { } unknown)
        {
            await error.WriteLineAsync(FormatError($"Unrecognized option '{unknown}' (put -- before a file name that starts with '-').") + " " + HelpHint(parseResult)).ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        if (parseResult.Action is ParseErrorAction)
        {
            await error.WriteLineAsync(FormatError(JoinErrors(parseResult)) + " " + HelpHint(parseResult)).ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        parsed?.Invoke(parseResult);
        var configuration = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            EnableDefaultExceptionHandler = false,
        };
        if (handleTermination)
        {
            // Not on by default in System.CommandLine 2.0: cancel the command's token on SIGINT/SIGTERM and give it
            // this long to stop (a saved map is written to a temporary name, so stopping never leaves half a map).
            configuration.ProcessTerminationTimeout = TerminationGracePeriod;
        }
        if (parseResult.Action is not HelpAction)
        {
            return await parseResult.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }

        // Help names the root command after the entry assembly (DeltaSnap.Cli.dll, however the tool is installed);
        // write it to a buffer and start every "Usage:" line with the tool's name instead.
        using var help = new StringWriter(CultureInfo.InvariantCulture) { NewLine = output.NewLine };
        configuration.Output = help;
        var exitCode = await parseResult.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(WithToolName(help.ToString(), root.Name)).ConfigureAwait(false);
        return exitCode;
    }

    /// <summary>Replaces <paramref name="rootName"/> where it starts a line of help text with <see cref="ToolName"/>.</summary>
    public static string WithToolName(string help, string rootName)
    {
        ArgumentNullException.ThrowIfNull(help);
        ArgumentException.ThrowIfNullOrEmpty(rootName);
        var pattern = @"^(\s*)" + Regex.Escape(rootName) + @"(?=\s|$)";
        return Regex.Replace(help, pattern, "$1" + ToolName, RegexOptions.Multiline | RegexOptions.CultureInvariant);
    }

    /// <summary>
    /// Sets <paramref name="command"/>'s action to <paramref name="handler"/>, guarded: the handler's exceptions become an
    /// error line and an exit code.
    /// </summary>
    public static void SetHandler(Command command, Func<ParseResult, CommandOutput, CancellationToken, Task<int>> handler)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(handler);
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var output = new CommandOutput(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);
            // System.CommandLine hooks SIGINT/SIGTERM only after the action hands back its task: yield first, so a
            // handler that works a long time before its first real await can still be cancelled.
            await Task.Yield();
            try
            {
                return await handler(parseResult, output, cancellationToken).ConfigureAwait(false);
            }
            catch (UsageException e)
            {
                await output.Error.WriteLineAsync(FormatError(e.Message) + " " + HelpHint(parseResult)).ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            catch (DeltaSnap.Drivers.InvalidNameException e)
            {
                await output.Error.WriteLineAsync(FormatError(e.Message)).ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            catch (Exception e)
            {
                await output.Error.WriteLineAsync(FormatError(Describe(e))).ConfigureAwait(false);
                return ExitCodeOf(e);
            }
        });
    }

    /// <summary>Writes <paramref name="e"/> as one error line; for commands that go on after a failure (as <c>sha256sum</c> does with a missing file).</summary>
    public static void ReportError(CommandOutput output, Exception e)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(e);
        output.Error.WriteLine(FormatError(Describe(e)));
    }

    /// <summary>Whether <paramref name="e"/> is a failure of one input that a multi-file command reports and goes past.</summary>
    public static bool IsInputFailure(Exception e) => e is IOException or UnauthorizedAccessException or DeltaSnapException;

    /// <summary>The exit code for a handler that threw <paramref name="e"/>.</summary>
    public static int ExitCodeOf(Exception e) => e switch
    {
        AggregateException { InnerExceptions: [var single] } => ExitCodeOf(single),
        UsageException or DeltaSnap.Drivers.InvalidNameException => ExitCodes.Usage,
        OperationCanceledException => ExitCodes.Cancelled,
        NoCommonBaseException => ExitCodes.NoCommonBase,
        VerificationFailedException => ExitCodes.VerificationFailed,
        NativeStreamMismatchException => ExitCodes.NativeStreamMismatch,
        DeltaSnap.RefreshInProgressException => ExitCodes.Busy,
        BackendCommandException => ExitCodes.BackendFailed,
        DeltaSnap.Remote.Transports.PeerRefusedException => ExitCodes.PeerRefused,
        DeltaSnap.Remote.SessionException { Reason: DeltaSnap.Remote.SessionErrorReason.Unauthorized } => ExitCodes.PeerRefused,
        _ => ExitCodes.Failure,
    };

    /// <summary>A one-line explanation of <paramref name="e"/> for a user (no type names for the failures users cause).</summary>
    public static string Describe(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e switch
        {
            OperationCanceledException => "Cancelled.",
            UnauthorizedAccessException or IOException or DeltaSnapException or UsageException or DeltaSnap.Drivers.InvalidNameException => e.Message,
            // Anything else is a bug in the tool or the library: still one line, but say what it was.
            _ => $"{e.Message} ({e.GetType().Name})",
        };
    }

    private static string FormatError(string message) =>
        ToolName + ": " + message.ReplaceLineEndings(" ").Trim();

    private static string JoinErrors(ParseResult parseResult)
    {
        var messages = parseResult.Errors.Select(e => e.Message.ReplaceLineEndings(" ").Trim()).Distinct().ToList();
        return messages.Count > 0 ? string.Join(" ", messages) : "Invalid arguments.";
    }

    // The parser takes "--bogus" as a file name when a command has a variadic argument; GNU tools reject it, and so
    // do we, unless it comes after "--".
    private static string? FindOptionLikeArgument(ParseResult parseResult)
    {
        var commandArguments = parseResult.CommandResult.Children.OfType<ArgumentResult>()
            .SelectMany(r => r.Tokens)
            .ToHashSet(ReferenceEqualityComparer.Instance);
        foreach (var token in parseResult.Tokens)
        {
            if (token.Type == TokenType.DoubleDash)
            {
                return null;
            }
            if (token.Value.Length > 1 && token.Value[0] == '-' && commandArguments.Contains(token))
            {
                return token.Value;
            }
        }
        return null;
    }

    private static string HelpHint(ParseResult parseResult)
    {
        var names = new List<string>();
        for (SymbolResult? result = parseResult.CommandResult; result is not null; result = result.Parent)
        {
            if (result is CommandResult { Command: var command } && command is not RootCommand)
            {
                names.Insert(0, command.Name);
            }
        }
        names.Insert(0, ToolName);
        return $"See '{string.Join(' ', names)} --help'.";
    }
}
