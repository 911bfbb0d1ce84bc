namespace DeltaSnap.Btrfs;

/// <summary>How a <see cref="BtrfsDriver"/> lays out snapshots and which program it runs.</summary>
public sealed record BtrfsDriverOptions
{
    /// <summary>The default <see cref="SnapshotDirectory"/>: <c>.deltasnap-snapshots</c> next to the volumes.</summary>
    public const string DefaultSnapshotDirectory = ".deltasnap-snapshots";

    /// <summary>
    /// Where read-only snapshots live: each volume's snapshots are subvolumes in
    /// <c>SnapshotDirectory/VOLUME/SNAPSHOT</c>. A relative path is taken relative to the driver's root
    /// directory (the directory holding the volumes); it must be on the same Btrfs file system as the volumes.
    /// The default is <see cref="DefaultSnapshotDirectory"/>, so the snapshots of <c>/mnt/data/vm1</c> are in
    /// <c>/mnt/data/.deltasnap-snapshots/vm1/</c>. DeltaSnap owns this directory: writable subvolumes found in it
    /// are half-received leftovers and may be removed.
    /// </summary>
    public string SnapshotDirectory { get; init; } = DefaultSnapshotDirectory;

    /// <summary>The <c>btrfs</c> program to run: a name looked up on the PATH, or an absolute path.</summary>
    public string Program { get; init; } = "btrfs";

    /// <summary>
    /// Read subvolume information (UUIDs, flags, generations, creation time) with the <c>BTRFS_IOC_GET_SUBVOL_INFO</c>
    /// ioctl that <c>btrfs subvolume show</c> itself uses, instead of starting that command once per subvolume. On by
    /// default; where the ioctl is unavailable (not Linux x64/Arm64, a kernel before 4.18) the command is used anyway.
    /// Everything that changes the file system or streams data always runs the <c>btrfs</c> command.
    /// </summary>
    public bool ReadSubvolumeInfoDirectly { get; init; } = true;

    /// <summary>How many <c>btrfs subvolume show</c> processes run at once while a lineage is read (when they are used).</summary>
    public int LineageParallelism { get; init; } = 4;

    /// <summary>Throws <see cref="ArgumentException"/> unless the options are usable.</summary>
    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(SnapshotDirectory) || SnapshotDirectory.Any(char.IsControl))
        {
            ThrowArgument(nameof(SnapshotDirectory), "The snapshot directory must be a non-empty path without control characters.");
        }
        if (!Path.IsPathRooted(SnapshotDirectory) && SnapshotDirectory.Split('/').Any(p => p is ".." or "."))
        {
            ThrowArgument(nameof(SnapshotDirectory), $"The relative snapshot directory '{SnapshotDirectory}' must not have '.' or '..' components.");
        }
        if (string.IsNullOrWhiteSpace(Program) || Program.Any(char.IsControl))
        {
            ThrowArgument(nameof(Program), "The btrfs program must be a non-empty name or path without control characters.");
        }
        if (LineageParallelism < 1)
        {
            ThrowArgument(nameof(LineageParallelism), "The lineage parallelism must be at least 1.");
        }
    }

    private static void ThrowArgument(string name, string message) => throw new ArgumentException(message, name);
}
