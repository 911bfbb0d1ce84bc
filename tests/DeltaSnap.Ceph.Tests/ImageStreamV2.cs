using System.Buffers.Binary;
using System.Text;

namespace DeltaSnap.Ceph.Tests;

/// <summary>
/// The <c>rbd export --export-format 2</c> container around v2 diffs (Ceph's <c>doc/dev/rbd-export.rst</c>):
/// <c>"rbd image v2\n"</c>, tagged u64-length metadata records up to <c>E</c>, <c>"rbd image diffs v2\n"</c>,
/// a u64 count, then that many v2 diffs. Like the diffs' own end record, <c>E</c> carries no length.
/// </summary>
internal static class ImageStreamV2
{
    public static List<byte[]> SplitDiffs(byte[] image)
    {
        var position = "rbd image v2\n".Length;
        Assert.That(Encoding.ASCII.GetString(image, 0, position), Is.EqualTo("rbd image v2\n"));
        while (image[position] != (byte)'E')
        {
            var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(position + 1));
            position += 9 + length;
        }
        position++; // the end-of-metadata tag has no length
        const string DiffsBanner = "rbd image diffs v2\n";
        Assert.That(Encoding.ASCII.GetString(image, position, DiffsBanner.Length), Is.EqualTo(DiffsBanner));
        position += DiffsBanner.Length;
        var count = (int)BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(position));
        position += 8;
        var diffs = new List<byte[]>();
        for (var i = 0; i < count; i++)
        {
            using var reader = new RbdDiffReader(new MemoryStream(image, position, image.Length - position));
            reader.ReadHeaderAsync().GetAwaiter().GetResult();
            reader.ValidateRestAsync().GetAwaiter().GetResult();
            diffs.Add(image.AsSpan(position, (int)reader.Position).ToArray());
            position += (int)reader.Position;
        }
        Assert.That(position, Is.EqualTo(image.Length));
        return diffs;
    }

    public static byte[] Build(IReadOnlyList<byte[]> diffs)
    {
        var stream = new MemoryStream();
        stream.Write("rbd image v2\n"u8);
        void Record(char tag, ulong value)
        {
            stream.WriteByte((byte)tag);
            stream.Write(BitConverter.GetBytes(8UL));
            stream.Write(BitConverter.GetBytes(value));
        }
        Record('O', 22);
        Record('T', 61);
        Record('U', 4 << 20);
        Record('C', 1);
        stream.WriteByte((byte)'E');
        stream.Write("rbd image diffs v2\n"u8);
        stream.Write(BitConverter.GetBytes((ulong)diffs.Count));
        foreach (var diff in diffs)
        {
            stream.Write(diff);
        }
        return stream.ToArray();
    }
}
