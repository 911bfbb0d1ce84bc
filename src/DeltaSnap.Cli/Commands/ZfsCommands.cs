using System.CommandLine;
using System.Text.Json.Serialization;
using DeltaSnap.Cli.Output;
using DeltaSnap.Zfs;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// The <c>deltasnap zfs</c> command group: <c>features</c> prints what the installed <c>zfs</c> can do. (The
/// benchmark of the native refresh path is under benchmarks/DeltaSnap.RefreshBenchmarks.) (Refresh between <c>zfs:</c> addresses is the generic <c>deltasnap refresh</c>, through the ZFS backend
/// registered with the tool's volume resolver, <c>AddZfs()</c>.)
/// </summary>
public static class ZfsCommands
{
    /// <summary>Creates the <c>zfs</c> command with its subcommands.</summary>
    public static Command Create()
    {
        var command = new Command("zfs", "ZFS tools: the features DeltaSnap detects.");
        command.Subcommands.Add(CreateFeatures());
        return command;
    }

    private static Command CreateFeatures()
    {
        var json = CommonOptions.Json("Print the features as JSON.");
        var features = new Command("features", "Show what the installed zfs supports (zvols, holds, resumable, compressed and raw streams, …).") { json };
        CommandRunner.SetHandler(features, async (parseResult, output, cancellationToken) =>
        {
            var driver = await ZfsDriver.OpenAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await driver.DisposeAsync().ConfigureAwait(false); // it holds nothing: only its detected features are used
            var f = driver.Features;
            if (parseResult.GetValue(json))
            {
                await JsonOutput.WriteAsync(output, f, ZfsJsonContext.Default.ZfsFeatures, cancellationToken).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            foreach (var (name, value) in new (string, bool)[]
                     {
                         ("zvols", f.Zvols), ("holds", f.Holds), ("bookmarks", f.Bookmarks), ("resumable streams", f.ResumableStreams),
                         ("compressed send", f.CompressedSend), ("raw send", f.RawSend), ("receive -u", f.ReceiveWithoutMount),
                         ("receive -x", f.ReceiveExcludeProperty),
                     })
            {
                await output.Out.WriteLineAsync($"{name,-18} {(value ? "yes" : "no")}").ConfigureAwait(false);
            }
            return ExitCodes.Success;
        });
        return features;
    }
}

/// <summary>JSON of the ZFS commands' reports (source-generated, as the tool's other reports).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(ZfsFeatures))]
internal sealed partial class ZfsJsonContext : JsonSerializerContext;
