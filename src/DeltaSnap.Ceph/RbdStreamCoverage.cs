using System.Buffers.Binary;

namespace DeltaSnap.Ceph;

/// <summary>
/// The coverage records (<c>X</c>) of the native RBD stream: the ranges its data and zero records write, listed by
/// the sender before the first of them. A receiver need not bring those ranges of a diverged live image back to
/// the base, because the stream overwrites them; it still checks, once the records are applied, that they were
/// all written. Each record holds up to <see cref="RangesPerRecord"/> little-endian (u64 offset, u64 length) pairs.
/// A sender may list fewer ranges than it writes (at most <see cref="MaxRecords"/> records), never more: a range
/// not listed is only restored first and then overwritten.
/// </summary>
internal static class RbdStreamCoverage
{
    /// <summary>Ranges per record: 16 bytes each, within the writer's 60 KiB bound for an extra record.</summary>
    public const int RangesPerRecord = 3840;

    /// <summary>Records at most (7.5 MiB, within the 8 MiB the reader keeps of extra records).</summary>
    public const int MaxRecords = 128;

    /// <summary>The coverage records for <paramref name="ranges"/> (in stream order; the first ranges when there are too many).</summary>
    public static IEnumerable<byte[]> Encode(IEnumerable<ByteRange> ranges)
    {
        var records = 0;
        foreach (var chunk in ranges.Where(r => !r.IsEmpty).Chunk(RangesPerRecord))
        {
            if (records++ == MaxRecords)
            {
                yield break;
            }
            var payload = new byte[chunk.Length * 16];
            for (var i = 0; i < chunk.Length; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(i * 16), (ulong)chunk[i].Offset);
                BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan((i * 16) + 8), (ulong)chunk[i].Length);
            }
            yield return payload;
        }
    }

    /// <summary>The ranges the records list, checked against the image size.</summary>
    /// <exception cref="CorruptDataException">A record is not whole pairs, or lists a range outside the image.</exception>
    public static RangeSet Decode(IEnumerable<byte[]> records, long imageSize)
    {
        var ranges = new List<ByteRange>();
        foreach (var payload in records)
        {
            if (payload.Length % 16 != 0)
            {
                throw new CorruptDataException($"The native RBD stream has a coverage record of {payload.Length} bytes, not a whole number of 16-byte ranges.");
            }
            for (var i = 0; i < payload.Length; i += 16)
            {
                var offset = BinaryPrimitives.ReadUInt64LittleEndian(payload.AsSpan(i));
                var length = BinaryPrimitives.ReadUInt64LittleEndian(payload.AsSpan(i + 8));
                if (offset > (ulong)imageSize || length > (ulong)imageSize - offset)
                {
                    throw new CorruptDataException($"The native RBD stream's coverage lists [{offset}, +{length}), outside the image of {imageSize} bytes.");
                }
                ranges.Add(new ByteRange((long)offset, (long)length));
            }
        }
        return new RangeSet(ranges);
    }
}
