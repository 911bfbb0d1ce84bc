namespace DeltaSnap.Delta;

/// <summary>
/// What a delta stream carries. The numeric values are part of the format (<c>docs/delta-stream.md</c>).
/// </summary>
public enum DeltaStreamPayloadKind : byte
{
    /// <summary>Block records (<see cref="DeltaRecordKind.Data"/>, <see cref="DeltaRecordKind.Zero"/>, <see cref="DeltaRecordKind.Unmap"/>) at volume offsets.</summary>
    Blocks = 1,

    /// <summary>A <c>zfs send</c> stream, carried opaquely in <see cref="DeltaRecordKind.Native"/> records.</summary>
    ZfsSend = 2,

    /// <summary>A <c>btrfs send</c> stream, carried opaquely in <see cref="DeltaRecordKind.Native"/> records.</summary>
    BtrfsSend = 3,

    /// <summary>An <c>rbd export-diff</c> stream, carried opaquely in <see cref="DeltaRecordKind.Native"/> records.</summary>
    RbdDiff = 4,

    /// <summary>
    /// An lvol store's diff stream (the 4 KiB blocks that changed between two snapshot lvols, as <c>DeltaSnap.Lvol</c>'s
    /// <c>LvolDiffStream</c> writes it), carried opaquely in <see cref="DeltaRecordKind.Native"/> records.
    /// </summary>
    LvolDiff = 5,
}
