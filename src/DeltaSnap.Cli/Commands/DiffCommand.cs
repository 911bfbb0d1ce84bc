using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DeltaSnap.Checksums;
using DeltaSnap.Cli.Output;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// <c>deltasnap diff A B [--json] [--cluster-size SIZE] [--algorithm ALG]</c>: the clusters whose content differs
/// between A (old) and B (new), as coalesced byte ranges, and the bytes that would move to turn A into B. Each side is
/// a saved checksum map (recognised by its magic bytes) or an image, checksummed on the fly.
/// </summary>
internal static class DiffCommand
{
    public static Command Create()
    {
        var clusterSize = CommonOptions.ClusterSize(
            $"The cluster size for images: a power of two from 4K to 64M (default: a map's, else {ByteSize.Format(ClusterLayout.DefaultClusterSize)}).");
        var algorithm = CommonOptions.Algorithm(
            $"The checksum algorithm for images (default: a map's, else {AlgorithmNames.Format(AlgorithmNames.Default)}).");
        var json = CommonOptions.Json("Print one JSON object instead of text.");
        var a = new Argument<string>("A") { Description = "The old side: a saved checksum map or an image." };
        var b = new Argument<string>("B") { Description = "The new side: a saved checksum map or an image." };
        var command = new Command("diff", "List the clusters that differ between A and B, and the bytes that would move to turn A into B.")
        {
            clusterSize,
            algorithm,
            json,
            a,
            b,
        };
        CommandRunner.SetHandler(command, (parseResult, output, cancellationToken) => RunAsync(
            new DiffSettings(
                parseResult.GetRequiredValue(a),
                parseResult.GetRequiredValue(b),
                parseResult.GetValue(clusterSize),
                parseResult.GetValue(algorithm),
                parseResult.GetValue(json)),
            output,
            cancellationToken));
        return command;
    }

    public static async Task<int> RunAsync(DiffSettings settings, CommandOutput output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        var stopwatch = Stopwatch.StartNew();
        var aIsMap = await ClusterMapFiles.IsSavedMapAsync(settings.A, cancellationToken).ConfigureAwait(false);
        var bIsMap = await ClusterMapFiles.IsSavedMapAsync(settings.B, cancellationToken).ConfigureAwait(false);
        var aMap = aIsMap ? await ClusterMapFiles.LoadAsync(settings.A, cancellationToken).ConfigureAwait(false) : null;
        var bMap = bIsMap ? await ClusterMapFiles.LoadAsync(settings.B, cancellationToken).ConfigureAwait(false) : null;

        if (aMap is not null && bMap is not null)
        {
            RequireComparable(settings, aMap, bMap);
        }
        var options = ChooseOptions(settings, aMap is not null ? (settings.A, aMap) : null, bMap is not null ? (settings.B, bMap) : null);
        aMap ??= await ClusterMapFiles.ComputeAsync(settings.A, options, cancellationToken).ConfigureAwait(false);
        bMap ??= await ClusterMapFiles.ComputeAsync(settings.B, options, cancellationToken).ConfigureAwait(false);
        var diff = ClusterDiff.Compute(aMap, bMap, cancellationToken);
        var seconds = stopwatch.Elapsed.TotalSeconds;

        if (settings.Json)
        {
            var report = new DiffReport(
                new DiffSide(settings.A, aIsMap ? "map" : "image", aMap.Layout.VolumeSize),
                new DiffSide(settings.B, bIsMap ? "map" : "image", bMap.Layout.VolumeSize),
                aMap.Layout.ClusterSize,
                AlgorithmNames.Format(aMap.Algorithm),
                diff.ChangedClusters,
                diff.Changed.TotalLength,
                diff.BytesToCopy,
                diff.BytesToUnmap,
                Math.Round(seconds, 6),
                [.. diff.Changed.Select(r => new RangeEntry(r.Offset, r.Length))]);
            await JsonOutput.WriteAsync(output, report, CliJsonContext.Default.DiffReport, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        var text = output.Out;
        var invariant = CultureInfo.InvariantCulture;
        if (!diff.Changed.IsEmpty)
        {
            var offsetWidth = Math.Max("offset".Length, diff.Changed[^1].Offset.ToString(invariant).Length);
            text.WriteLine($"{"offset".PadRight(offsetWidth)}  length");
            foreach (var range in diff.Changed)
            {
                text.WriteLine(string.Create(invariant, $"{range.Offset.ToString(invariant).PadLeft(offsetWidth)}  {range.Length}"));
            }
        }
        var clusterCount = Math.Max(aMap.Layout.ClusterCount, bMap.Layout.ClusterCount);
        text.WriteLine(string.Create(invariant,
            $"{diff.ChangedClusters} of {clusterCount} clusters of {ByteSize.Format(aMap.Layout.ClusterSize)} changed ({AlgorithmNames.Format(aMap.Algorithm)}), in {diff.Changed.Count} {(diff.Changed.Count == 1 ? "range" : "ranges")}: {diff.Changed.TotalLength} bytes"));
        text.WriteLine(string.Create(invariant,
            $"to turn A into B: {diff.BytesToCopy} bytes would move, {diff.BytesToUnmap} bytes would be unmapped"));
        if (aMap.Layout.VolumeSize != bMap.Layout.VolumeSize)
        {
            text.WriteLine(string.Create(invariant,
                $"sizes differ: A is {aMap.Layout.VolumeSize} bytes, B is {bMap.Layout.VolumeSize} bytes"));
        }
        return ExitCodes.Success;
    }

    // Two saved maps must agree with each other (operational failure: the files do not fit together).
    private static void RequireComparable(DiffSettings settings, ClusterChecksums a, ClusterChecksums b)
    {
        if (a.Algorithm != b.Algorithm || a.Layout.ClusterSize != b.Layout.ClusterSize)
        {
            throw new DeltaSnapException(
                $"Cannot compare {settings.A} ({Describe(a)}) with {settings.B} ({Describe(b)}): both maps need the same algorithm and cluster size.");
        }
    }

    // The parameters for computing image sides: a map's own, else the options, else the defaults. An option that
    // contradicts a saved map is a usage error: the map cannot be recomputed.
    private static ClusterChecksumOptions ChooseOptions(DiffSettings settings, (string Path, ClusterChecksums Map)? a, (string Path, ClusterChecksums Map)? b)
    {
        var map = a ?? b;
        if (map is { } m)
        {
            if (settings.ClusterSize is { } size && size != m.Map.Layout.ClusterSize)
            {
                throw new UsageException(
                    $"--cluster-size {ByteSize.Format(size)} contradicts {m.Path}, a map of {ByteSize.Format(m.Map.Layout.ClusterSize)} clusters.");
            }
            if (settings.Algorithm is { } algorithm && algorithm != m.Map.Algorithm)
            {
                throw new UsageException(
                    $"--algorithm {AlgorithmNames.Format(algorithm)} contradicts {m.Path}, a map of {AlgorithmNames.Format(m.Map.Algorithm)} checksums.");
            }
            return new ClusterChecksumOptions { ClusterSize = m.Map.Layout.ClusterSize, Algorithm = m.Map.Algorithm };
        }
        return new ClusterChecksumOptions
        {
            ClusterSize = settings.ClusterSize ?? ClusterLayout.DefaultClusterSize,
            Algorithm = settings.Algorithm ?? AlgorithmNames.Default,
        };
    }

    private static string Describe(ClusterChecksums map) =>
        $"{AlgorithmNames.Format(map.Algorithm)}, {ByteSize.Format(map.Layout.ClusterSize)} clusters";
}

/// <summary>What <c>deltasnap diff</c> was asked to do.</summary>
/// <param name="A">The old side: a saved map or an image.</param>
/// <param name="B">The new side: a saved map or an image.</param>
/// <param name="ClusterSize">The cluster size for image sides, or null for a map's or the default.</param>
/// <param name="Algorithm">The algorithm for image sides, or null for a map's or the default.</param>
/// <param name="Json">Print JSON instead of text.</param>
internal sealed record DiffSettings(string A, string B, int? ClusterSize, ChecksumAlgorithm? Algorithm, bool Json);
