using System.CommandLine;
using System.Text;
using DeltaSnap.Cli.Commands;
using DeltaSnap.Cli.Logging;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Cli;

/// <summary>The <c>deltasnap</c> tool: builds the command tree and runs it.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        OpenSslDefaultTrust.Ignore();
        // Buffered standard output: a cluster listing can run to millions of lines.
        var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 1 << 16);
        var exitCode = await RunAsync(args, output, Console.Error, handleTermination: true).ConfigureAwait(false);
        try
        {
            await output.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // Standard output is a file on a full or failing disk. (A closed pipe is not reported: .NET ignores EPIPE on the console.)
            await Console.Error.WriteLineAsync(CommandRunner.ToolName + ": cannot write the output: " + e.Message).ConfigureAwait(false);
            return exitCode == ExitCodes.Success ? ExitCodes.Failure : exitCode;
        }
        return exitCode;
    }

    /// <summary>Runs a command line with the given writers; the in-process entry point the tests use.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error,
        bool handleTermination = false, CancellationToken cancellationToken = default)
    {
        var context = new CliContext(error);
        await using (context.ConfigureAwait(false))
        {
            return await RunAsync(context, args, output, error, handleTermination, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a command line with the given context (its resolver opens the volumes; log lines go to its writer).</summary>
    public static Task<int> RunAsync(CliContext context, IReadOnlyList<string> args, TextWriter output, TextWriter error,
        bool handleTermination = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var root = BuildRootCommand(context);
        var logLevel = root.Options.OfType<Option<LogLevel?>>().Single(o => o.Name == LogLevelOption.Name);
        return CommandRunner.InvokeAsync(root, args, output, error, handleTermination,
            parseResult => context.Logging.MinimumLevel = parseResult.GetValue(logLevel) ?? LogLevelOption.Default, cancellationToken);
    }

    /// <summary>The command tree, its volume commands opening volumes through <paramref name="context"/>'s resolver. Each command group lives in its own file under Commands/ and adds one line here.</summary>
    public static RootCommand BuildRootCommand(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new("deltasnap: keep copies of snapshotted volumes up to date by moving only what changed.")
        {
            LogLevelOption.Create(),
            HashCommand.Create(),
            ChecksumsCommand.Create(),
            DiffCommand.Create(),
            VolumeCommands.Create(context),
            SnapshotCommands.Create(context),
            PlanCommand.Create(context),
            RefreshCommand.Create(context),
            LvolCommands.Create(),
            RbdCommands.Create(),
            ZfsCommands.Create(),
            ServeCommand.Create(context),
        };
    }
}
