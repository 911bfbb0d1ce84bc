namespace DeltaSnap.Delta;

/// <summary>The kinds of record in a delta stream. The numeric values are part of the format (<c>docs/delta-stream.md</c>).</summary>
public enum DeltaRecordKind : byte
{
    /// <summary>Bytes to write at a volume offset.</summary>
    Data = 1,

    /// <summary>A range known to hold only zeros; it carries no payload.</summary>
    Zero = 2,

    /// <summary>A range to discard (it reads as zeros afterwards); it carries no payload.</summary>
    Unmap = 3,

    /// <summary>An opaque chunk of a backend's native stream (<c>zfs send</c>, <c>btrfs send</c>, <c>rbd export-diff</c>).</summary>
    Native = 4,
}
