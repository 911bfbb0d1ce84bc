namespace DeltaSnap.Drivers;

/// <summary>What a backend can do. Callers check these flags; they never probe by catching <see cref="NotSupportedException"/>.</summary>
[Flags]
public enum DriverCapabilities
{
    /// <summary>Nothing beyond the basics every driver has (lineage, snapshot create and delete, rollback).</summary>
    None = 0,

    /// <summary>Volumes are block devices (<see cref="Volume.OpenDeviceAsync"/>).</summary>
    BlockVolumes = 1 << 0,

    /// <summary>Volumes are file system trees (<see cref="Volume.GetPathAsync"/>).</summary>
    FilesystemVolumes = 1 << 1,

    /// <summary>The backend has its own incremental stream (<see cref="Volume.SendAsync"/> and <see cref="Volume.ReceiveAsync"/>).</summary>
    NativeStream = 1 << 2,

    /// <summary>The backend can say which ranges changed between two snapshots (<see cref="Volume.GetChangedRangesAsync"/>).</summary>
    ChangedRanges = 1 << 3,

    /// <summary>The backend stores per-cluster checksums of snapshots (<see cref="Volume.GetStoredChecksumsAsync"/>).</summary>
    StoredChecksums = 1 << 4,

    /// <summary>Snapshots can be renamed.</summary>
    RenameSnapshots = 1 << 5,

    /// <summary>A target can keep its own snapshots newer than the base while receiving (ZFS cannot: it must roll back).</summary>
    KeepSnapshotsAfterBase = 1 << 6,

    /// <summary>Block volumes can be resized.</summary>
    Resize = 1 << 7,

    /// <summary>An interrupted native receive can be resumed (OpenZFS resume tokens).</summary>
    ResumableStream = 1 << 8,

    /// <summary>The common base can be protected against pruning (ZFS holds or bookmarks).</summary>
    ProtectBase = 1 << 9,

    /// <summary>
    /// A native receive brings the target's live state back to the request's base by itself (ZFS <c>receive -F</c>,
    /// the RBD receiver), so the replicator does not roll the target back before a native transfer. A refresh that
    /// fails before anything is received then leaves the target's live state as it was.
    /// </summary>
    NativeReceiveRestoresBase = 1 << 10,

    /// <summary>
    /// File system volumes share unchanged blocks between the live tree and its snapshots (ZFS, Btrfs, reflinked
    /// directories), so a tree synchronizer updates changed files in place instead of rewriting them whole.
    /// </summary>
    CopyOnWriteTarget = 1 << 11,

    /// <summary>
    /// The backend can tell, without taking a snapshot, that a volume's live state still equals one of its snapshots
    /// (<see cref="Volume.IsLiveStateUnchangedAsync"/>: the lvol map, the Btrfs generation, the ZFS <c>written</c>
    /// property, an empty RBD diff), so a refresh skips the temporary snapshot of an unchanged live state.
    /// </summary>
    LiveStateComparison = 1 << 12,

    /// <summary>
    /// File system volumes are on another machine: their trees have no local path (<see cref="Volume.GetPathAsync"/>
    /// is not available) and a tree synchronizer reaches them by running its server half where they are
    /// (<see cref="Volume.RunTreeServerAsync"/>; DeltaSnap.Rsync's <c>rsync --server</c> relayed through the session).
    /// </summary>
    RemoteTrees = 1 << 13,

    /// <summary>
    /// Sending the same snapshot pair again yields the same native stream, byte for byte (Btrfs), so an interrupted
    /// transfer can continue after the bytes the receiving side already has (<see cref="Volume.SendAfterPrefixAsync"/>):
    /// with a checkpoint directory, the replicator spools such streams on the receiving side and resumes them.
    /// </summary>
    ReproducibleNativeStream = 1 << 14,

    /// <summary>
    /// File system volumes receive each tree in a fresh directory that replaces nothing until it is complete
    /// (<see cref="Volume.ReceiveTreeAsync"/>): a tree synchronizer fills it, hard-linking the files that equal the
    /// newest snapshot's (<c>rsync --link-dest</c>), and the volume makes it a snapshot or its live tree. The live tree
    /// is never written in place, so files it shares with snapshots are never modified.
    /// </summary>
    StagedTrees = 1 << 15,

    /// <summary>
    /// A native receive never writes into the target's live state: it builds the new snapshot aside (<c>btrfs receive</c>
    /// makes a new subvolume from the base snapshot; the lvol store writes into a scratch clone of the base), and the live
    /// state is replaced whole once the snapshot is complete (by the promotion, or by the receive's own end). So, as with
    /// <see cref="NativeReceiveRestoresBase"/>, the replicator does not roll the target back before a native transfer,
    /// and a refresh that fails before the replacement leaves the target's live state as it was.
    /// </summary>
    NativeReceiveLeavesLiveState = 1 << 16,
}

/// <summary>The kind of data a volume holds.</summary>
public enum VolumeKind
{
    /// <summary>A block device: an lvol, an RBD image, a zvol, an image file.</summary>
    Block,

    /// <summary>A file system tree: a ZFS dataset, a Btrfs subvolume, a directory.</summary>
    Filesystem,
}
