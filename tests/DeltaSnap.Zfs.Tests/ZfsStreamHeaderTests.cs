using System.Buffers.Binary;
using System.Text;

namespace DeltaSnap.Zfs.Tests;

/// <summary>
/// The BEGIN record parser, on real streams from zfs-fuse and on records built by hand (both byte orders); and the check
/// of a resumed send's BEGIN record (zfs-fuse has no <c>zfs send -t</c>, so only on records built by hand).
/// </summary>
[TestFixture]
public class ZfsStreamHeaderTests
{
    [Test]
    public async Task ReadAsync_realFullAndIncrementalStreams_fieldsMatchZfsProperties()
    {
        await using var bed = await ZfsTestBed.OpenAsync();
        var source = await bed.CreateAsync(bed.A, "hdr");
        Trees.WriteRandom(await source.GetPathAsync(null), "a", 3, 4096, seed: 1);
        await source.CreateSnapshotAsync("s1");
        Trees.WriteRandom(await source.GetPathAsync(null), "b", 3, 4096, seed: 2);
        await source.CreateSnapshotAsync("s2");
        var guid1 = ulong.Parse(ZfsTestBed.GuidOf($"{source.Dataset}@s1"), System.Globalization.CultureInfo.InvariantCulture);
        var guid2 = ulong.Parse(ZfsTestBed.GuidOf($"{source.Dataset}@s2"), System.Globalization.CultureInfo.InvariantCulture);
        var creation2 = ulong.Parse(ZfsTestBed.Zfs("get", "-H", "-p", "-o", "value", "creation", $"{source.Dataset}@s2").Trim(), System.Globalization.CultureInfo.InvariantCulture);

        var full = await NativeTransfer.CaptureAsync(source, null, "s1");
        var (fullHeader, fullConsumed) = await ZfsStreamHeader.ReadAsync(new MemoryStream(full), default);
        Assert.That(fullHeader.FromGuid, Is.Zero);
        Assert.That(fullHeader.ToGuid, Is.EqualTo(guid1));
        Assert.That(fullHeader.ToName, Is.EqualTo($"{source.Dataset}@s1"));
        Assert.That(fullHeader.IsIncremental, Is.False);
        Assert.That(fullHeader.BigEndian, Is.False);
        Assert.That(fullConsumed, Is.EqualTo(full[..ZfsStreamHeader.RecordSize]));

        var incremental = await NativeTransfer.CaptureAsync(source, "s1", "s2");
        var (header, _) = await ZfsStreamHeader.ReadAsync(new MemoryStream(incremental), default);
        Assert.That(header.FromGuid, Is.EqualTo(guid1));
        Assert.That(header.ToGuid, Is.EqualTo(guid2));
        Assert.That(header.SnapshotName, Is.EqualTo("s2"));
        Assert.That(header.CreationTime, Is.EqualTo(creation2));
        Assert.That(header.IsRaw || header.IsCompressed || header.IsResuming, Is.False);
    }

    [Test]
    public async Task ReadAsync_compoundStreamFromSendCapitalI_readsFirstSubstreamAndKeepsEveryByte()
    {
        await using var bed = await ZfsTestBed.OpenAsync();
        var source = await bed.CreateAsync(bed.A, "hdr");
        await source.CreateSnapshotAsync("s1");
        await source.CreateSnapshotAsync("s2");
        await source.CreateSnapshotAsync("s3");
        using var captured = new MemoryStream();
        using (var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("zfs")
               {
                   ArgumentList = { "send", "-I", $"{source.Dataset}@s1", $"{source.Dataset}@s3" },
                   RedirectStandardOutput = true,
               })!)
        {
            await process.StandardOutput.BaseStream.CopyToAsync(captured);
            await process.WaitForExitAsync();
            Assert.That(process.ExitCode, Is.Zero);
        }
        var bytes = captured.ToArray();
        var (header, consumed) = await ZfsStreamHeader.ReadAsync(new MemoryStream(bytes), default);
        Assert.That(header.Compound, Is.True);
        Assert.That(header.FromGuid.ToString(System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(ZfsTestBed.GuidOf($"{source.Dataset}@s1")));
        Assert.That(header.ToGuid.ToString(System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(ZfsTestBed.GuidOf($"{source.Dataset}@s2")));
        Assert.That(consumed, Is.EqualTo(bytes[..consumed.Length]));
        Assert.That(consumed, Has.Length.GreaterThanOrEqualTo(3 * ZfsStreamHeader.RecordSize));
    }

    [Test]
    public void Parse_bigEndianRecord_readsTheSameFields()
    {
        var little = Build(bigEndian: false, fromGuid: 0x1122334455667788, toGuid: 0x99AABBCCDDEEFF00, name: "tank/ds@snap", creation: 1_700_000_000);
        var big = Build(bigEndian: true, fromGuid: 0x1122334455667788, toGuid: 0x99AABBCCDDEEFF00, name: "tank/ds@snap", creation: 1_700_000_000);
        var a = ZfsStreamHeader.Parse(little);
        var b = ZfsStreamHeader.Parse(big);
        Assert.That(a.BigEndian, Is.False);
        Assert.That(b.BigEndian, Is.True);
        Assert.That((b.FromGuid, b.ToGuid, b.ToName, b.CreationTime, b.Features), Is.EqualTo((a.FromGuid, a.ToGuid, a.ToName, a.CreationTime, a.Features)));
        Assert.That(b.FromGuid, Is.EqualTo(0x1122334455667788));
        Assert.That(b.SnapshotName, Is.EqualTo("snap"));
    }

    [Test]
    public void Parse_rawAndCompressedFeatureFlags_areReported()
    {
        var record = Build(bigEndian: false, fromGuid: 1, toGuid: 2, name: "p/d@s", creation: 1, features: (1u << 24) | (1u << 22));
        var header = ZfsStreamHeader.Parse(record);
        Assert.That(header.IsRaw, Is.True);
        Assert.That(header.IsCompressed, Is.True);
        Assert.That(header.IsResuming, Is.False);
    }

    [Test]
    public void Parse_badMagic_throwsCorruptData()
    {
        var record = Build(bigEndian: false, fromGuid: 1, toGuid: 2, name: "p/d@s", creation: 1);
        record[8] ^= 0xFF;
        Assert.That(() => ZfsStreamHeader.Parse(record), Throws.InstanceOf<CorruptDataException>().With.Message.Contains("magic"));
    }

    [Test]
    public void Parse_notABeginRecord_throwsCorruptData()
    {
        var record = Build(bigEndian: false, fromGuid: 1, toGuid: 2, name: "p/d@s", creation: 1);
        BinaryPrimitives.WriteUInt32LittleEndian(record, 3);
        Assert.That(() => ZfsStreamHeader.Parse(record), Throws.InstanceOf<CorruptDataException>().With.Message.Contains("BEGIN"));
    }

    [TestCase(1)]
    [TestCase(100)]
    [TestCase(312)]
    [TestCase(4096)]
    public async Task ResumedSendCheck_streamOfTheRequestedSnapshot_passesEveryByteInOrder(int chunk)
    {
        var record = Build(bigEndian: false, fromGuid: 1, toGuid: 2, name: "p/d@s", creation: 1);
        byte[] stream = [.. record, .. Enumerable.Range(0, 1000).Select(i => (byte)i)];
        using var written = new MemoryStream();
        using var writtenAsync = new MemoryStream();
        var check = new ResumedSendCheck(written, "p/d@s");
        var checkAsync = new ResumedSendCheck(writtenAsync, "p/d@s");

        foreach (var part in stream.Chunk(chunk))
        {
            check.Write(part);
            await checkAsync.WriteAsync(part);
        }

        check.Complete();
        checkAsync.Complete();
        Assert.That(written.ToArray(), Is.EqualTo(stream));
        Assert.That(writtenAsync.ToArray(), Is.EqualTo(stream));
    }

    [Test]
    public void ResumedSendCheck_streamOfAnotherSnapshot_throwsBeforeAByteIsWritten()
    {
        // What a token of a peer's making could ask zfs send -t for: a snapshot of another dataset.
        var record = Build(bigEndian: false, fromGuid: 0, toGuid: 2, name: "p/secret@s", creation: 1);
        using var destination = new MemoryStream();
        var check = new ResumedSendCheck(destination, "p/d@s");

        check.Write(record.AsSpan(0, 100));

        Assert.That(() => check.Write(record.AsSpan(100)), Throws.InstanceOf<UnauthorizedAccessException>().With.Message.Contains("p/secret@s"));
        Assert.That(() => check.Write(new byte[10]), Throws.InstanceOf<UnauthorizedAccessException>(), "and every later write");
        Assert.That(check.Complete, Throws.InstanceOf<UnauthorizedAccessException>());
        Assert.That(destination.Length, Is.Zero);
    }

    [Test]
    public void ResumedSendCheck_streamShorterThanARecord_isNotComplete()
    {
        using var destination = new MemoryStream();
        var check = new ResumedSendCheck(destination, "p/d@s");

        check.Write(new byte[200]);

        Assert.That(check.Complete, Throws.InstanceOf<CorruptDataException>().With.Message.Contains("after 200 bytes"));
        Assert.That(destination.Length, Is.Zero);
    }

    [Test]
    public void ReadAsync_truncatedRecord_throwsCorruptDataNamingTheBytes()
    {
        var record = Build(bigEndian: false, fromGuid: 1, toGuid: 2, name: "p/d@s", creation: 1);
        Assert.That(async () => await ZfsStreamHeader.ReadAsync(new MemoryStream(record[..100]), default),
            Throws.InstanceOf<CorruptDataException>().With.Message.Contains("100 of 312"));
        Assert.That(async () => await ZfsStreamHeader.ReadAsync(new MemoryStream(), default),
            Throws.InstanceOf<CorruptDataException>().With.Message.Contains("empty"));
    }

    private static byte[] Build(bool bigEndian, ulong fromGuid, ulong toGuid, string name, ulong creation, uint features = 0)
    {
        var r = new byte[ZfsStreamHeader.RecordSize];
        void U32(int offset, uint v)
        {
            if (bigEndian)
            {
                BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(offset), v);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(offset), v);
            }
        }
        void U64(int offset, ulong v)
        {
            if (bigEndian)
            {
                BinaryPrimitives.WriteUInt64BigEndian(r.AsSpan(offset), v);
            }
            else
            {
                BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(offset), v);
            }
        }
        U32(0, 0);
        U32(4, 0);
        U64(8, ZfsStreamHeader.Magic);
        U64(16, 1 | ((ulong)features << 2));
        U64(24, creation);
        U32(32, 2);
        U32(36, 0);
        U64(40, toGuid);
        U64(48, fromGuid);
        Encoding.UTF8.GetBytes(name).CopyTo(r, 56);
        return r;
    }
}
