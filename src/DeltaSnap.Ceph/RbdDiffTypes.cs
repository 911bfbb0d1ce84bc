namespace DeltaSnap.Ceph;

/// <summary>The version of an <c>rbd diff</c> stream (Ceph's <c>doc/dev/rbd-diff.rst</c>).</summary>
public enum RbdDiffFormat
{
    /// <summary><c>rbd diff v1</c>: what <c>rbd export-diff</c> writes and <c>rbd import-diff</c> reads.</summary>
    V1 = 1,

    /// <summary><c>rbd diff v2</c>: every record but the end carries its length (unknown records can be skipped); adds snapshot protection. Used inside <c>rbd export --export-format 2</c> streams.</summary>
    V2 = 2,
}

/// <summary>The metadata at the head of an <c>rbd diff</c> stream.</summary>
public sealed record RbdDiffHeader
{
    /// <summary>The stream's version.</summary>
    public RbdDiffFormat Format { get; init; } = RbdDiffFormat.V1;

    /// <summary>The snapshot the diff starts from (<c>f</c> record); null for a diff from an empty image.</summary>
    public string? FromSnapshot { get; init; }

    /// <summary>The snapshot the diff ends at (<c>t</c> record); null for a diff of the live image.</summary>
    public string? ToSnapshot { get; init; }

    /// <summary>The image size at the end of the diff (<c>s</c> record); null when the stream has none.</summary>
    public long? ImageSize { get; init; }

    /// <summary>Whether the end snapshot is protected (v2 <c>p</c> record); null when the stream does not say.</summary>
    public bool? IsProtected { get; init; }
}

/// <summary>What a data record of an <c>rbd diff</c> does.</summary>
public enum RbdDiffRecordKind
{
    /// <summary>A <c>w</c> record: bytes to write.</summary>
    Data,

    /// <summary>A <c>z</c> record: a range that reads as zeros (discarded or zeroed).</summary>
    Zero,
}

/// <summary>
/// One data record of an <c>rbd diff</c> stream, or a piece of one (records longer than the reader's buffer limit
/// arrive in pieces). For <see cref="RbdDiffRecordKind.Data"/> records <see cref="Data"/> holds the bytes; it is
/// valid only until the reader moves on.
/// </summary>
/// <param name="Kind">Data or zero.</param>
/// <param name="Offset">The image offset.</param>
/// <param name="Length">The length in bytes.</param>
/// <param name="Data">The bytes of a data record; empty for zero records.</param>
public readonly record struct RbdDiffRecord(RbdDiffRecordKind Kind, long Offset, long Length, ReadOnlyMemory<byte> Data)
{
    /// <summary>The range the record covers.</summary>
    public ByteRange Range => new(Offset, Length);
}

/// <summary>How <see cref="RbdDiff.ApplyAsync"/> applies a diff.</summary>
public sealed record RbdDiffApplyOptions
{
    /// <summary>
    /// Read a seekable stream through once to check it before writing anything, so a corrupt or truncated file
    /// changes nothing (default on). A stream that cannot seek (a pipe) is applied record by record: what came
    /// before the bad record stays applied, as with <c>rbd import-diff</c>.
    /// </summary>
    public bool ValidateSeekableStreamFirst { get; init; } = true;

    /// <summary>Resize the target to the diff's image size when the device can be resized (default on).</summary>
    public bool ResizeTarget { get; init; } = true;

    /// <summary>How many writes may be in flight at once (1–64). RBD targets gain from many: writes spread over objects.</summary>
    public int MaxWritesInFlight { get; init; } = 16;

    /// <summary>Records longer than this arrive in pieces (bytes; 64 KiB–256 MiB).</summary>
    public int MaxBufferedRecordLength { get; init; } = 32 << 20;
}

/// <summary>What <see cref="RbdDiff.ApplyAsync"/> did.</summary>
public sealed record RbdDiffApplyResult
{
    /// <summary>The stream's header.</summary>
    public required RbdDiffHeader Header { get; init; }

    /// <summary>Bytes written from data records.</summary>
    public long BytesWritten { get; init; }

    /// <summary>Bytes zeroed from zero records.</summary>
    public long BytesZeroed { get; init; }

    /// <summary>Data and zero records applied.</summary>
    public long Records { get; init; }
}

/// <summary>How <see cref="RbdDiff.ExportAsync"/> writes a diff.</summary>
public sealed record RbdDiffExportOptions
{
    /// <summary>The <c>f</c> record: the snapshot the target must already have; null for a full diff.</summary>
    public string? FromSnapshot { get; init; }

    /// <summary>The <c>t</c> record: the snapshot <c>rbd import-diff</c> creates at the end; null for none.</summary>
    public string? ToSnapshot { get; init; }

    /// <summary>The <c>s</c> record; null for the source device's length.</summary>
    public long? ImageSize { get; init; }

    /// <summary>The stream version; <c>rbd import-diff</c> reads only <see cref="RbdDiffFormat.V1"/>.</summary>
    public RbdDiffFormat Format { get; init; } = RbdDiffFormat.V1;

    /// <summary>
    /// Blocks of this size (a power of two, 512 B–4 MiB, aligned to the image) that read back as all zeros are
    /// written as <c>z</c> records instead of data, as <c>rbd export-diff</c> does per extent.
    /// </summary>
    public int ZeroBlockSize { get; init; } = 4096;

    /// <summary>The largest read (and data record), split at multiples of it: 4 MiB, RBD's default object size.</summary>
    public int ChunkSize { get; init; } = 4 << 20;

    /// <summary>How many reads may be in flight ahead of the writer (1–64).</summary>
    public int MaxReadsInFlight { get; init; } = 8;
}

/// <summary>What <see cref="RbdDiff.ExportAsync"/> wrote.</summary>
public sealed record RbdDiffExportResult
{
    /// <summary>The header written.</summary>
    public required RbdDiffHeader Header { get; init; }

    /// <summary>Bytes of data in <c>w</c> records.</summary>
    public long BytesWritten { get; init; }

    /// <summary>Bytes covered by <c>z</c> records.</summary>
    public long BytesZeroed { get; init; }

    /// <summary>Number of <c>w</c> and <c>z</c> records.</summary>
    public long Records { get; init; }

    /// <summary>The length of the stream written.</summary>
    public long StreamLength { get; init; }
}
