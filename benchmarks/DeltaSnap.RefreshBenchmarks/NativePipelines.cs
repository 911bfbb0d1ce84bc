namespace DeltaSnap.RefreshBenchmarks;

/// <summary>
/// The backends' own shell pipelines the benchmarks compare DeltaSnap with, as argument lists for <c>sh</c>: the
/// script is fixed and the names are its positional parameters (never spliced into it). Shared by the paired
/// harnesses and the matrix report. <see cref="StreamSize"/> gives the same send counted by <c>wc -c</c>.
/// </summary>
public static class NativePipelines
{
    /// <summary><c>zfs send -i BASE SNAP | zfs receive -F TARGET</c> (full datasets@snapshots, target dataset).</summary>
    public static IReadOnlyList<string> ZfsSendReceive(string baseSnapshot, string snapshot, string targetDataset) =>
        Shell("zfs send -i \"$1\" \"$2\" | zfs receive -F \"$3\"", baseSnapshot, snapshot, targetDataset);

    /// <summary>
    /// The same pipe with the base protection DeltaSnap's ZFS driver does by default, as a script would: the source's
    /// base and snapshot held with <paramref name="tag"/> while the stream flows, then the received snapshot held on
    /// the target and the tag released from the target's base. A hold that exists already, or a release of a tag
    /// that is not there, is not an error (as in the driver).
    /// </summary>
    public static IReadOnlyList<string> ZfsSendReceiveHeld(string tag, string baseSnapshot, string snapshot, string targetDataset, string targetBase) =>
        Shell("zfs hold \"$1\" \"$2\" \"$3\" 2>/dev/null & zfs send -i \"$2\" \"$3\" | zfs receive -F \"$4\" || exit 1; wait; " +
              "zfs hold \"$1\" \"$4@${3#*@}\" 2>/dev/null & zfs release \"$1\" \"$5\" 2>/dev/null; wait; exit 0",
            tag, baseSnapshot, snapshot, targetDataset, targetBase);

    /// <summary><c>btrfs send -p PARENT SNAP | btrfs receive DIR</c> (snapshot paths, the target's snapshot directory).</summary>
    public static IReadOnlyList<string> BtrfsSendReceive(string parentPath, string snapshotPath, string targetDirectory) =>
        Shell("btrfs -q send -p \"$1\" \"$2\" | btrfs -q receive -e \"$3\"", parentPath, snapshotPath, targetDirectory);

    /// <summary><c>rbd export-diff --from-snap BASE IMAGE@SNAP - | rbd import-diff - TARGET</c> (base snapshot name, source image@snapshot, target image).</summary>
    public static IReadOnlyList<string> RbdExportImportDiff(string baseSnapshot, string imageSnapshot, string targetImage) =>
        Shell("set -e; rbd export-diff --no-progress --from-snap \"$1\" \"$2\" - | rbd import-diff --no-progress - \"$3\"", baseSnapshot, imageSnapshot, targetImage);

    /// <summary>
    /// The send half of <paramref name="pipeline"/> (one of this class's) into <c>wc -c</c> instead of the receiver:
    /// it prints the stream's size in bytes. The receiving argument is ignored.
    /// </summary>
    public static IReadOnlyList<string> StreamSize(IReadOnlyList<string> pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        var script = pipeline[1];
        var pipe = script.IndexOf(" | ", StringComparison.Ordinal);
        return [pipeline[0], script[..pipe] + " | wc -c", .. pipeline.Skip(2)];
    }

    private static string[] Shell(string script, params string[] arguments) => ["-c", script, "sh", .. arguments];
}
