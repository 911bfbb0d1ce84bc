using System.Buffers.Binary;
using DeltaSnap.Checksums;

namespace DeltaSnap.Ceph;

/// <summary>
/// An XXH3-128 digest of an rbd diff's data and zero records as written: per record its tag, offset and length,
/// then a data record's bytes. The native RBD stream carries it in a trailer record; the receiver compares it
/// with what it read, then again with what it reads back from the image.
/// </summary>
internal sealed class RecordDigest
{
    private readonly ChecksumHasher _hasher = ChecksumHasher.Create(ChecksumAlgorithm.Xxh128);

    /// <summary>Starts a record.</summary>
    public void AddRecord(RbdDiffRecordKind kind, long offset, long length)
    {
        Span<byte> header = stackalloc byte[17];
        header[0] = kind == RbdDiffRecordKind.Data ? (byte)'w' : (byte)'z';
        BinaryPrimitives.WriteInt64LittleEndian(header[1..], offset);
        BinaryPrimitives.WriteInt64LittleEndian(header[9..], length);
        _hasher.Append(header);
    }

    /// <summary>Adds bytes of the current data record.</summary>
    public void AddData(ReadOnlySpan<byte> data) => _hasher.Append(data);

    /// <summary>The digest so far.</summary>
    public byte[] GetHash() => _hasher.GetCurrentHash();
}
