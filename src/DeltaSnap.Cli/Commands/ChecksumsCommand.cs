using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DeltaSnap.Checksums;
using DeltaSnap.Cli.Output;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// <c>deltasnap checksums [--cluster-size SIZE] [--algorithm ALG] [--json] FILE [-o MAP]</c>: computes the per-cluster
/// checksum map of an image, then lists it (or saves it with <c>-o</c>) with a summary.
/// </summary>
internal static class ChecksumsCommand
{
    public static Command Create()
    {
        var clusterSize = CommonOptions.ClusterSize($"The cluster size: a power of two from 4K to 64M (default {ByteSize.Format(ClusterLayout.DefaultClusterSize)}).");
        var algorithm = CommonOptions.Algorithm($"The checksum algorithm (default {AlgorithmNames.Format(AlgorithmNames.Default)}).");
        var json = CommonOptions.Json("Print one JSON object: the summary, and every cluster unless -o saves the map.");
        var map = new Option<string>("--output", "-o")
        {
            Description = "Save the map to this file (DeltaSnap's binary map format) instead of listing the clusters.",
            HelpName = "MAP",
        };
        var file = new Argument<string>("FILE") { Description = "The image file or block device to read (read-only)." };
        var command = new Command("checksums", "Compute the per-cluster checksum map of an image: list it, or save it with -o.")
        {
            clusterSize,
            algorithm,
            json,
            map,
            file,
        };
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) => RunAsync(
            new ChecksumsSettings(
                parseResult.GetRequiredValue(file),
                parseResult.GetValue(clusterSize) ?? ClusterLayout.DefaultClusterSize,
                parseResult.GetValue(algorithm) ?? AlgorithmNames.Default,
                parseResult.GetValue(json),
                parseResult.GetValue(map)),
            output,
            cancellationToken));
        return command;
    }

    public static async Task<int> RunAsync(ChecksumsSettings settings, CommandOutput output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        if (settings.MapPath is { } mapPath && string.Equals(Path.GetFullPath(mapPath), Path.GetFullPath(settings.File), StringComparison.Ordinal))
        {
            throw new UsageException($"-o {mapPath} would overwrite the image it checksums.");
        }
        var options = new ClusterChecksumOptions { ClusterSize = settings.ClusterSize, Algorithm = settings.Algorithm };
        var stopwatch = Stopwatch.StartNew();
        var checksums = await ClusterMapFiles.ComputeAsync(settings.File, options, cancellationToken).ConfigureAwait(false);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        if (settings.MapPath is not null)
        {
            await checksums.SaveAsync(settings.MapPath, cancellationToken).ConfigureAwait(false);
        }

        var bytesRead = ClusterMapFiles.AllocatedBytes(checksums);
        var rate = seconds > 0 ? bytesRead / seconds / 1e9 : 0;
        if (settings.Json)
        {
            var report = new ChecksumsReport(
                settings.File,
                checksums.Layout.VolumeSize,
                checksums.Layout.ClusterSize,
                checksums.Layout.ClusterCount,
                AlgorithmNames.Format(checksums.Algorithm),
                checksums.DataClusters,
                checksums.ZeroClusters,
                checksums.UnallocatedClusters,
                bytesRead,
                Convert.ToHexStringLower(checksums.VolumeChecksum),
                Convert.ToHexStringLower(checksums.ContentChecksum),
                Math.Round(seconds, 6),
                Math.Round(rate, 3),
                settings.MapPath,
                settings.MapPath is null ? EnumerateClusters(checksums) : null);
            await JsonOutput.WriteAsync(output, report, CliJsonContext.Default.ChecksumsReport, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        var text = output.Out;
        if (settings.MapPath is null)
        {
            WriteClusterTable(text, checksums, cancellationToken);
        }
        var layout = checksums.Layout;
        var invariant = CultureInfo.InvariantCulture;
        text.WriteLine(string.Create(invariant,
            $"{settings.File}: {layout.VolumeSize} bytes ({ByteSize.Format(layout.VolumeSize)}), {layout.ClusterCount} clusters of {ByteSize.Format(layout.ClusterSize)}, {AlgorithmNames.Format(checksums.Algorithm)}"));
        text.WriteLine(string.Create(invariant,
            $"clusters: {checksums.DataClusters} data, {checksums.ZeroClusters} zero, {checksums.UnallocatedClusters} unallocated"));
        text.WriteLine("volume checksum:  " + Convert.ToHexStringLower(checksums.VolumeChecksum));
        text.WriteLine("content checksum: " + Convert.ToHexStringLower(checksums.ContentChecksum));
        text.WriteLine(string.Create(invariant, $"read {bytesRead} bytes in {seconds:0.000} s: {rate:0.00} GB/s"));
        if (settings.MapPath is not null)
        {
            text.WriteLine("map saved to " + settings.MapPath);
        }
        return ExitCodes.Success;
    }

    /// <summary>The command-line name of a cluster state: <c>data</c>, <c>zero</c> or <c>unallocated</c>.</summary>
    public static string FormatState(ClusterState state) => state switch
    {
        ClusterState.Data => "data",
        ClusterState.Zero => "zero",
        _ => "unallocated",
    };

    private static IEnumerable<ClusterEntry> EnumerateClusters(ClusterChecksums checksums)
    {
        var layout = checksums.Layout;
        for (long i = 0; i < layout.ClusterCount; i++)
        {
            var state = checksums.GetState(i);
            yield return new ClusterEntry(i, layout.OffsetOf(i), layout.LengthOf(i), FormatState(state),
                state == ClusterState.Unallocated ? null : Convert.ToHexStringLower(checksums.GetChecksum(i)));
        }
    }

    // One row per cluster: index, offset, state, checksum ("-" when unallocated), in aligned columns.
    private static void WriteClusterTable(TextWriter text, ClusterChecksums checksums, CancellationToken cancellationToken)
    {
        var layout = checksums.Layout;
        var last = Math.Max(0, layout.ClusterCount - 1);
        var indexWidth = Math.Max("cluster".Length, Digits(last));
        var offsetWidth = Math.Max("offset".Length, Digits(last << layout.ClusterShift));
        var stateWidth = "unallocated".Length;
        text.WriteLine($"{"cluster".PadRight(indexWidth)}  {"offset".PadRight(offsetWidth)}  {"state".PadRight(stateWidth)}  checksum");
        for (long i = 0; i < layout.ClusterCount; i++)
        {
            if ((i & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            var state = checksums.GetState(i);
            var checksum = state == ClusterState.Unallocated ? "-" : Convert.ToHexStringLower(checksums.GetChecksum(i));
            text.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{i.ToString(CultureInfo.InvariantCulture).PadLeft(indexWidth)}  {layout.OffsetOf(i).ToString(CultureInfo.InvariantCulture).PadLeft(offsetWidth)}  {FormatState(state).PadRight(stateWidth)}  {checksum}"));
        }
    }

    private static int Digits(long value) => value.ToString(CultureInfo.InvariantCulture).Length;
}

/// <summary>What <c>deltasnap checksums</c> was asked to do.</summary>
/// <param name="File">The image or block device to read.</param>
/// <param name="ClusterSize">The cluster size in bytes.</param>
/// <param name="Algorithm">The checksum algorithm.</param>
/// <param name="Json">Print JSON instead of text.</param>
/// <param name="MapPath">Where to save the map, or null to list it.</param>
internal sealed record ChecksumsSettings(string File, int ClusterSize, ChecksumAlgorithm Algorithm, bool Json, string? MapPath);
