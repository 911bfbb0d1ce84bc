using System.Buffers;

namespace DeltaSnap.Delta;

/// <summary>
/// One record read from a delta stream by <see cref="DeltaStreamReader.ReadRecordAsync"/>. Its
/// <see cref="Payload"/> points into the reader's buffers and is valid only until the next call on the reader.
/// </summary>
public readonly struct DeltaRecord : IEquatable<DeltaRecord>
{
    internal DeltaRecord(DeltaRecordKind kind, long index, long offset, long length, ReadOnlySequence<byte> payload, long streamOffset)
    {
        Kind = kind;
        Index = index;
        Offset = offset;
        Length = length;
        Payload = payload;
        StreamOffset = streamOffset;
    }

    /// <summary>The kind of record.</summary>
    public DeltaRecordKind Kind { get; }

    /// <summary>The record's position in the stream: 0 for the first record, then 1, 2, … without gaps.</summary>
    public long Index { get; }

    /// <summary>The volume offset of a block record; 0 for a <see cref="DeltaRecordKind.Native"/> record.</summary>
    public long Offset { get; }

    /// <summary>The bytes the record covers: the payload length for data and native records, the range length for zero and unmap records.</summary>
    public long Length { get; }

    /// <summary>The volume range of a block record (<see cref="Offset"/>, <see cref="Length"/>).</summary>
    public ByteRange Range => new(Offset, Length);

    /// <summary>The bytes of a data or native record (empty for zero and unmap records); valid until the next call on the reader.</summary>
    public ReadOnlySequence<byte> Payload { get; }

    /// <summary>The byte offset of the record's first byte in the delta stream.</summary>
    public long StreamOffset { get; }

    /// <summary>Whether both records have the same kind, index, range and stream offset, and their payloads are the same buffer slice.</summary>
    public bool Equals(DeltaRecord other) =>
        Kind == other.Kind && Index == other.Index && Offset == other.Offset && Length == other.Length && StreamOffset == other.StreamOffset
        && Payload.Start.Equals(other.Payload.Start) && Payload.End.Equals(other.Payload.End);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is DeltaRecord other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Index, Offset, Length, StreamOffset);

    /// <summary>Whether the records are equal.</summary>
    public static bool operator ==(DeltaRecord left, DeltaRecord right) => left.Equals(right);

    /// <summary>Whether the records differ.</summary>
    public static bool operator !=(DeltaRecord left, DeltaRecord right) => !left.Equals(right);

    /// <inheritdoc />
    public override string ToString() => Kind == DeltaRecordKind.Native
        ? $"#{Index} {Kind} {Length} bytes"
        : $"#{Index} {Kind} {Range}";
}
