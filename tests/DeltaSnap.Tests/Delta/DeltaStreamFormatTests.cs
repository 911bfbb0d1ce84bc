using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using DeltaSnap.Checksums;
using DeltaSnap.Delta;

namespace DeltaSnap.Tests.Delta;

/// <summary>The byte layout described in docs/delta-stream.md, checked against an independent encoder built from that page.</summary>
public partial class DeltaStreamFormatTests
{
    [Test]
    public async Task Read_streamBuiltFromTheDocument_readsBack()
    {
        var checksum = Enumerable.Range(1, 8).Select(i => (byte)i).ToArray();
        var bytes = new SpecStreamBuilder()
            .Header(volumeSize: 1 << 20, withBase: true)
            .Record(kind: 1, index: 0, offset: 4096, length: 3, payload: [0xAA, 0xBB, 0xCC])
            .Record(kind: 2, index: 1, offset: 8192, length: 4096)
            .Record(kind: 3, index: 2, offset: 65536, length: 65536)
            .Trailer(recordCount: 3, dataBytes: 3, unmappedBytes: 4096 + 65536, checksum: checksum)
            .ToArray();

        var read = await DeltaStreamTestData.ReadAllAsync(bytes);

        Assert.That(read.Header.PayloadKind, Is.EqualTo(DeltaStreamPayloadKind.Blocks));
        Assert.That(read.Header.Target.Name, Is.EqualTo("target"));
        Assert.That(read.Header.Base!.Identity, Is.EqualTo(new SnapshotIdentity("zfs-guid", "111")));
        Assert.That(read.Header.Base.CreatedAt, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)));
        Assert.That(read.Records.Select(r => (r.Kind, r.Offset, r.Length)), Is.EqualTo(new[]
        {
            (DeltaRecordKind.Data, 4096L, 3L), (DeltaRecordKind.Zero, 8192L, 4096L), (DeltaRecordKind.Unmap, 65536L, 65536L),
        }));
        Assert.That(read.Records[0].Payload, Is.EqualTo(new byte[] { 0xAA, 0xBB, 0xCC }));
        Assert.That(read.Trailer.VolumeChecksum.ToArray(), Is.EqualTo(checksum));
    }

    [Test]
    public async Task Write_sameContentAsDocument_producesTheDocumentBytes()
    {
        var written = await DeltaStreamTestData.WriteAsync(
            DeltaStreamTestData.Header(DeltaStreamPayloadKind.Blocks, volumeSize: 1 << 20, withBase: true, algorithm: ChecksumAlgorithm.Crc64Iso),
            async writer =>
            {
                await writer.WriteAsync(4096, new byte[] { 0xAA, 0xBB, 0xCC });
                await writer.WriteZeroAsync(new ByteRange(8192, 4096));
                await writer.UnmapAsync(new ByteRange(65536, 65536));
            },
            Enumerable.Range(1, 8).Select(i => (byte)i).ToArray());
        var spec = new SpecStreamBuilder()
            .Header(volumeSize: 1 << 20, withBase: true)
            .Record(kind: 1, index: 0, offset: 4096, length: 3, payload: [0xAA, 0xBB, 0xCC])
            .Record(kind: 2, index: 1, offset: 8192, length: 4096)
            .Record(kind: 3, index: 2, offset: 65536, length: 65536)
            .Trailer(recordCount: 3, dataBytes: 3, unmappedBytes: 4096 + 65536, checksum: Enumerable.Range(1, 8).Select(i => (byte)i).ToArray())
            .ToArray();

        Assert.That(written, Is.EqualTo(spec));
    }

    [Test]
    public async Task Document_exampleHexDump_matchesWriterOutput()
    {
        var document = await File.ReadAllTextAsync(DocumentPath());
        var dump = ExampleDump().Match(document);
        Assert.That(dump.Success, Is.True, "docs/delta-stream.md has no ```hexdump block");
        var documented = Convert.FromHexString(string.Concat(
            dump.Groups[1].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Length > 10 ? line[10..Math.Min(line.Length, 58)] : "")
                .Select(hex => hex.Replace(" ", "", StringComparison.Ordinal))));

        var written = await DeltaStreamTestData.WriteDocumentExampleAsync();

        Assert.That(Convert.ToHexString(documented), Is.EqualTo(Convert.ToHexString(written)));
    }

    [Test]
    public async Task Document_payloadKindTable_listsEveryKindWithItsValue()
    {
        var document = await File.ReadAllTextAsync(DocumentPath());
        var section = PayloadKindSection().Match(document);
        Assert.That(section.Success, Is.True, "docs/delta-stream.md has no '### Payload kinds' section");
        var documented = PayloadKindRow().Matches(section.Groups[1].Value)
            .Select(m => (Value: int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Name: m.Groups[2].Value))
            .ToList();

        var defined = Enum.GetValues<DeltaStreamPayloadKind>().Select(k => (Value: (int)k, Name: k.ToString())).ToList();

        Assert.That(documented, Is.EqualTo(defined));
        Assert.That(document, Does.Contain("| payload kind | " + string.Join(", ", defined.Select(k => $"`{k.Value}` {k.Name}")) + ";"),
            "the header table's payload kind row lists the same kinds");
    }

    /// <summary>Prints the example for the document (run it after a format change, then paste).</summary>
    [Test]
    [Explicit("Prints the hex dump for docs/delta-stream.md.")]
    public async Task Document_printExampleHexDump()
    {
        var written = await DeltaStreamTestData.WriteDocumentExampleAsync();
        var text = new StringBuilder();
        for (var i = 0; i < written.Length; i += 16)
        {
            var line = written.AsSpan(i, Math.Min(16, written.Length - i));
            var hex = string.Join(' ', line.ToArray().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
            var ascii = new string(line.ToArray().Select(b => b is >= 0x20 and < 0x7f ? (char)b : '.').ToArray());
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i:x8}  {hex,-47}  |{ascii}|\n");
        }
        await TestContext.Out.WriteLineAsync(text.ToString());
        Assert.That(written, Is.Not.Empty);
    }

    private static string DocumentPath()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "docs", "delta-stream.md");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException("docs/delta-stream.md was not found above the test directory.");
    }

    [GeneratedRegex("```hexdump\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ExampleDump();

    [GeneratedRegex("^### Payload kinds\\n(.*?)^##", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex PayloadKindSection();

    [GeneratedRegex(@"^\| (\d+) \| (\w+) \|", RegexOptions.Multiline)]
    private static partial Regex PayloadKindRow();
}

/// <summary>
/// Builds delta streams byte by byte as docs/delta-stream.md describes them, without the library's writer, so
/// tests can craft streams the writer refuses to produce (overlaps, wrong indexes, wrong totals).
/// </summary>
internal sealed class SpecStreamBuilder
{
    private readonly List<byte> _bytes = [];
    private byte[] _headerCrc = [];

    public SpecStreamBuilder Header(ulong volumeSize, bool withBase = false, ushort version = 2, byte algorithm = 2, byte payloadKind = 1,
        uint clusterSize = 65536, uint maxRecordPayload = 1 << 20)
    {
        var body = new List<byte>();
        body.AddRange("DSNAPDLT"u8.ToArray());
        body.AddRange(U16(version));
        body.AddRange(U16(0)); // header length, patched below
        body.Add(algorithm);
        body.Add(payloadKind);
        body.Add(withBase ? (byte)1 : (byte)0);
        body.Add(0);
        body.AddRange(U32(clusterSize));
        body.AddRange(U32(maxRecordPayload));
        body.AddRange(U64(volumeSize));
        body.AddRange(Snapshot(1_700_000_100, "target", "zfs-guid", "222"));
        if (withBase)
        {
            body.AddRange(Snapshot(1_700_000_000, "base", "zfs-guid", "111"));
        }
        var length = (ushort)(body.Count + 4);
        body[10] = (byte)length;
        body[11] = (byte)(length >> 8);
        var array = body.ToArray();
        _headerCrc = U32(Crc32C.Compute(array));
        _bytes.AddRange(array);
        _bytes.AddRange(_headerCrc);
        return this;
    }

    /// <summary>Uses another header's CRC to bind the frames that follow (to build spliced streams).</summary>
    public SpecStreamBuilder BindTo(uint headerCrc)
    {
        _headerCrc = U32(headerCrc);
        return this;
    }

    public SpecStreamBuilder Record(byte kind, ulong index, ulong offset, ulong length, byte[]? payload = null)
    {
        payload ??= [];
        var frame = new List<byte> { kind, 0, 0, 0 };
        frame.AddRange(U32((uint)payload.Length));
        frame.AddRange(U64(index));
        frame.AddRange(U64(offset));
        frame.AddRange(U64(length));
        frame.AddRange(payload);
        var array = frame.ToArray();
        _bytes.AddRange(array);
        // Version 2: the CRC covers the header's 4 CRC bytes followed by the frame.
        _bytes.AddRange(U32(Crc32C.Compute([.. _headerCrc, .. array])));
        return this;
    }

    public SpecStreamBuilder Trailer(ulong recordCount, ulong dataBytes, ulong unmappedBytes, byte[]? checksum = null) =>
        Record(0xFF, recordCount, dataBytes, unmappedBytes, checksum);

    public SpecStreamBuilder Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public byte[] ToArray() => [.. _bytes];

    private static byte[] Snapshot(long seconds, string name, string kind, string value)
    {
        var bytes = new List<byte>();
        var time = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(time, seconds);
        bytes.AddRange(time);
        foreach (var text in new[] { name, kind, value })
        {
            var utf8 = Encoding.UTF8.GetBytes(text);
            bytes.AddRange(U16((ushort)utf8.Length));
            bytes.AddRange(utf8);
        }
        return [.. bytes];
    }

    private static byte[] U16(ushort value) => [(byte)value, (byte)(value >> 8)];

    private static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }
}
