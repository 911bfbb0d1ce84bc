using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace DeltaSnap.Testing.Streams;

/// <summary>
/// Btrfs send streams a hostile peer could push: the header and first command of a genuine stream (the snapshot a
/// receive is asked for, so every check of the stream's start passes), then commands of the caller's, then END.
/// Commands are framed as btrfs frames them (kdave/btrfs-progs, send.h): le32 length of the attributes, le16 command,
/// le32 CRC-32C (seed 0, no inversion, over the command with the CRC field zero), attributes as le16 type, le16
/// length, value.
/// </summary>
public static class HostileBtrfsStreams
{
    private const int StreamHeaderLength = 17; // "btrfs-stream\0", le32 version
    private const ushort Mkfile = 3;
    private const ushort Symlink = 8;
    private const ushort Write = 15;
    private const ushort End = 21;
    private const ushort AttributeIno = 3;
    private const ushort AttributePath = 15;
    private const ushort AttributePathLink = 17;
    private const ushort AttributeFileOffset = 18;
    private const ushort AttributeData = 19;

    /// <summary>The stream header and first command of <paramref name="genuineStream"/>, then <paramref name="commands"/>, then END.</summary>
    public static byte[] After(byte[] genuineStream, params byte[][] commands)
    {
        ArgumentNullException.ThrowIfNull(genuineStream);
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(genuineStream.AsSpan(StreamHeaderLength));
        return [.. genuineStream.AsSpan(0, StreamHeaderLength + 10 + length), .. commands.SelectMany(c => c), .. Command(End)];
    }

    /// <summary>MKFILE and WRITE of <paramref name="path"/> (relative to the received subvolume, as a stream's paths are).</summary>
    public static byte[] WriteFile(string path, ulong inode)
    {
        var name = Encoding.UTF8.GetBytes(path);
        return [.. Command(Mkfile, Attribute(AttributePath, name), Attribute(AttributeIno, U64(inode))),
            .. Command(Write, Attribute(AttributePath, name), Attribute(AttributeFileOffset, U64(0)), Attribute(AttributeData, "hostile\n"u8.ToArray()))];
    }

    /// <summary>SYMLINK <paramref name="path"/> pointing to <paramref name="target"/>.</summary>
    public static byte[] SymbolicLink(string path, string target, ulong inode) =>
        Command(Symlink, Attribute(AttributePath, Encoding.UTF8.GetBytes(path)), Attribute(AttributeIno, U64(inode)),
            Attribute(AttributePathLink, Encoding.UTF8.GetBytes(target)));

    private static byte[] Command(ushort command, params byte[][] attributes)
    {
        byte[] body = [.. attributes.SelectMany(a => a)];
        var result = new byte[10 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(result, (uint)body.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(4), command);
        body.CopyTo(result, 10);
        var crc = 0u;
        foreach (var b in result)
        {
            crc = BitOperations.Crc32C(crc, b);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(6), crc);
        return result;
    }

    private static byte[] Attribute(ushort type, byte[] value)
    {
        var result = new byte[4 + value.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(result, type);
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(2), (ushort)value.Length);
        value.CopyTo(result, 4);
        return result;
    }

    private static byte[] U64(ulong value)
    {
        var result = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(result, value);
        return result;
    }
}
