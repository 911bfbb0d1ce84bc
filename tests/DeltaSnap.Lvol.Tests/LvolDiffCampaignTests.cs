using System.Buffers;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// Bad input, counted, for the lvol native stream (<c>DSLVDIFF</c>): ≥ 10,000 mutated streams read as the receive reads
/// them (header, records with their bounds check, end record totals). Every part carries a CRC-32C, so every mutation
/// must be rejected with a <see cref="CorruptDataException"/>; none may hang or allocate in proportion to a declared length.
/// </summary>
[NonParallelizable]
public sealed class LvolDiffCampaignTests
{
    private static byte[] Stream(string name, string? baseName, int seed)
    {
        var w = new ArrayBufferWriter<byte>();
        var header = LvolDiffStream.EncodeHeader(new LvolDiffHeader
        {
            VolumeSize = 1 << 20,
            ClusterSize = 65536,
            SnapshotName = name,
            Snapshot = new SnapshotIdentity("lvol-uuid", Guid.NewGuid().ToString()),
            CreatedUtc = DateTimeOffset.FromUnixTimeSeconds(1_767_225_600),
            BaseName = baseName,
            Base = baseName is null ? null : new SnapshotIdentity("lvol-uuid", Guid.NewGuid().ToString()),
        });
        var recordSeed = LvolDiffStream.SeedOf(header);
        w.Write(header);
        var data = new byte[5000];
        new Random(seed).NextBytes(data);
        LvolDiffStream.PutRecord(w, recordSeed, LvolDiffRecordKind.Data, 4096, data.Length, data);
        LvolDiffStream.PutRecord(w, recordSeed, LvolDiffRecordKind.Zero, 65536, 8192, default);
        LvolDiffStream.PutRecord(w, recordSeed, LvolDiffRecordKind.Data, 300_000, 700, data.AsSpan(0, 700));
        LvolDiffStream.PutRecord(w, recordSeed, LvolDiffRecordKind.End, 3, 5700, default);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Reads a stream as <c>LvolVolume</c>'s receive does, without a store.</summary>
    private static async Task ReadAsync(byte[] bytes, CancellationToken token)
    {
        var source = new MemoryStream(bytes);
        var header = await LvolDiffStream.ReadHeaderAsync(source, token);
        var payload = ArrayPool<byte>.Shared.Rent(LvolDiffStream.MaxDataRecord);
        try
        {
            long records = 0, dataBytes = 0;
            while (true)
            {
                var (kind, offset, length) = await LvolDiffStream.ReadRecordAsync(source, header.RecordSeed, payload, token);
                if (kind == LvolDiffRecordKind.End)
                {
                    if (offset != records || length != dataBytes)
                    {
                        throw new CorruptDataException("end record totals differ");
                    }
                    await LvolDiffStream.CheckEndOfStreamAsync(source, token);
                    break;
                }
                if (offset > header.VolumeSize - length)
                {
                    throw new CorruptDataException("record outside the volume");
                }
                dataBytes += kind == LvolDiffRecordKind.Data ? length : 0;
                records++;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
    }

    [Test]
    public async Task MutatedStreams_everyOneRejectedTyped_noHang_boundedMemory()
    {
        List<byte[]> valid = [Stream("s2", "s1", 1), Stream("s3", "s2", 1), Stream("s1", null, 2)];
        foreach (var v in valid)
        {
            await ReadAsync(v, default);
        }
        var skipped = 0;
        var mutations = MutationCampaign.Generate(valid, 10_200 * MutationCampaign.Scale, seed: 20261206).Where(m =>
        {
            if (valid.Any(v => v.AsSpan().SequenceEqual(m.Bytes)))
            {
                skipped++;
                return false;
            }
            return true;
        });
        var result = await MutationCampaign.RunAsync("lvol diff stream (LvolDiffStream, as the receive reads it)", mutations, ReadAsync,
            e => e is DeltaSnapException, TimeSpan.FromSeconds(10));

        await TestContext.Out.WriteLineAsync(result + $"; {skipped} mutation(s) rebuilt a valid stream and were skipped");
        Assert.That(result.Cases, Is.GreaterThanOrEqualTo(10_000));
        Assert.That(result.Failures, Is.Empty);
        Assert.That(result.Accepted, Is.Zero);
    }
}
