using System.Buffers.Binary;
using DeltaSnap.Checksums;
using DeltaSnap.Delta;
using DeltaSnap.Devices;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Tests.Delta;

/// <summary>
/// Bad input, counted: ≥ 10,000 mutated delta streams (bit flips, truncations, duplicated and dropped records, lengths of
/// 2^40, splices of two valid streams) through the reader and through <see cref="DeltaStream.ApplyOrRollBackAsync"/>
/// onto a device: every one is rejected with a <see cref="DeltaStreamException"/>, none hangs or allocates in proportion
/// to a declared length, and the device is unchanged afterwards. <c>DELTASNAP_CAMPAIGN_SCALE=N</c> runs N times as many.
/// </summary>
[NonParallelizable]
public sealed class DeltaStreamCampaignTests
{
    private const long VolumeSize = 256 * 1024;

    private static DeltaStreamHeader Header(string target, string? baseName, DeltaStreamPayloadKind kind = DeltaStreamPayloadKind.Blocks) =>
        new(kind, VolumeSize, 4096, ChecksumAlgorithm.Crc32C,
            new DeltaStreamSnapshot(target, new SnapshotIdentity("lvol-uuid", target + "-id"), DateTimeOffset.FromUnixTimeSeconds(1_767_225_600)),
            baseName is null ? null : new DeltaStreamSnapshot(baseName, new SnapshotIdentity("lvol-uuid", baseName + "-id"), DateTimeOffset.FromUnixTimeSeconds(1_767_139_200)))
        {
            MaxRecordPayload = 4096,
        };

    /// <summary>Valid streams over the same volume, several carrying the same content under different headers (what a header swap needs).</summary>
    private static async Task<List<byte[]>> ValidStreamsAsync()
    {
        var streams = new List<byte[]>();
        var rng = new Random(7);
        foreach (var (target, baseName, seed) in new[] { ("v@t2", "v@t1", 1), ("v@t3", "v@t2", 1), ("v@t2", null, 1), ("w@x", "w@y", 2), ("v@t4", "v@t3", 3) })
        {
            var data = new byte[3 * 4096 + 100];
            new Random(seed).NextBytes(data);
            streams.Add(await DeltaStreamTestData.WriteAsync(Header(target, baseName), async writer =>
            {
                await writer.WriteAsync(4096, data);
                await writer.WriteZeroAsync(new ByteRange(65536, 8192));
                await writer.UnmapAsync(new ByteRange(131072, 4096));
                await writer.WriteAsync(200_000, data.AsMemory(0, 333));
            }, [1, 2, 3, (byte)seed]));
        }
        var native = new byte[10_000];
        rng.NextBytes(native);
        streams.Add(await DeltaStreamTestData.WriteAsync(Header("z@2", "z@1", DeltaStreamPayloadKind.ZfsSend), async writer =>
        {
            await writer.AsNativeStream().WriteAsync(native);
        }));
        return streams;
    }

    /// <summary>The header and each frame of a valid stream, and its length fields (frame payload lengths, record lengths).</summary>
    private static readonly MutationCampaign.Structure Structure = new(
        bytes =>
        {
            var ranges = new List<Range>();
            var h = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(10));
            ranges.Add(new Range(0, h));
            for (int p = h; p < bytes.Length;)
            {
                var end = p + 32 + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(p + 4)) + 4;
                ranges.Add(new Range(p, end));
                p = end;
            }
            return ranges;
        },
        bytes =>
        {
            var fields = new List<(int, int)> { (24, 8) };
            var h = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(10));
            for (var p = (int)h; p < bytes.Length;)
            {
                fields.Add((p + 4, 4));
                fields.Add((p + 24, 8));
                p += 32 + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(p + 4)) + 4;
            }
            return fields;
        });

    [Test]
    public async Task MutatedStreams_everyOneRejectedTyped_noHang_boundedMemory_targetUnchanged()
    {
        var valid = await ValidStreamsAsync();
        var count = 10_500 * MutationCampaign.Scale;
        var original = new byte[VolumeSize];
        new Random(3).NextBytes(original);
        var device = new MemoryBlockDevice(original);
        var identical = 0;
        var changedTargets = new List<string>();
        var mutations = MutationCampaign.Generate(valid, count, seed: 20261206, Structure)
            .Where(m =>
            {
                // A mutation can rebuild a valid stream byte for byte (a splice at the same boundary): not bad input.
                if (valid.Any(v => v.AsSpan().SequenceEqual(m.Bytes)))
                {
                    identical++;
                    return false;
                }
                return true;
            });

        var result = await MutationCampaign.RunAsync("delta stream (DeltaStreamReader + ApplyOrRollBackAsync)", mutations, async (bytes, token) =>
        {
            await using var reader = new DeltaStreamReader(new MemoryStream(bytes));
            var header = await reader.ReadHeaderAsync(token);
            if (header.PayloadKind == DeltaStreamPayloadKind.Blocks)
            {
                try
                {
                    await DeltaStream.ApplyOrRollBackAsync(reader, device, null, token);
                }
                finally
                {
                    var now = new byte[VolumeSize];
                    await device.ReadAsync(0, now, token);
                    if (!now.AsSpan().SequenceEqual(original))
                    {
                        changedTargets.Add($"case {changedTargets.Count}");
                        await device.WriteAsync(0, original, token);
                    }
                }
            }
            else
            {
                await reader.AsNativeStream().CopyToAsync(Stream.Null, token);
            }
        }, e => e is DeltaStreamException, TimeSpan.FromSeconds(10));

        await TestContext.Out.WriteLineAsync(result + $"; {identical} mutation(s) rebuilt a valid stream and were skipped");
        Assert.That(result.Cases, Is.GreaterThanOrEqualTo(10_000));
        Assert.That(result.Failures, Is.Empty);
        Assert.That(result.Accepted, Is.Zero, "every mutated stream is rejected");
        Assert.That(changedTargets, Is.Empty, "a rejected stream leaves the target as it was");
    }

    [Test]
    public async Task HeaderSwap_sameContentOtherSnapshots_rejectedAtTheFirstRecord()
    {
        var valid = await ValidStreamsAsync();
        var a = valid[0];
        var b = valid[1]; // same records and volume checksum, another target and base
        var headerA = BinaryPrimitives.ReadUInt16LittleEndian(a.AsSpan(10));
        var headerB = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(10));
        byte[] spliced = [.. b[..headerB], .. a[headerA..]];

        var error = Assert.ThrowsAsync<DeltaStreamException>(async () => await DeltaStreamTestData.ReadAllAsync(spliced));

        Assert.That(error!.RecordIndex, Is.Zero);
        Assert.That(error.Message, Does.Contain("CRC-32C"));
    }

    /// <summary>
    /// Forged records that pass every per-record check (CRCs recomputed with the right binding) but carry other data:
    /// the stream is accepted to the trailer and rejected only by the volume check; the file device is as before.
    /// </summary>
    [Test]
    public async Task ForgedRecordsPassingEveryCheck_rejectedByVolumeCheck_fileTargetUnchanged()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ds-forge-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        try
        {
            var path = Path.Combine(directory, "target.img");
            var before = new byte[VolumeSize];
            new Random(11).NextBytes(before);
            await File.WriteAllBytesAsync(path, before);

            // What the sender would send: new data, with the checksum of the volume it produces.
            var source = before.ToArray();
            var data = new byte[8192];
            new Random(12).NextBytes(data);
            data.CopyTo(source, 16384);
            var checksum = Crc32C.Compute(source);
            byte[] checksumBytes = [(byte)(checksum >> 24), (byte)(checksum >> 16), (byte)(checksum >> 8), (byte)checksum];
            var stream = await DeltaStreamTestData.WriteAsync(Header("v@t2", "v@t1"), w => w.WriteAsync(16384, data).AsTask(), checksumBytes);

            // Forge: flip a payload byte of the second record and recompute its CRC (seeded with the header's CRC bytes).
            var h = BinaryPrimitives.ReadUInt16LittleEndian(stream.AsSpan(10));
            var second = h + 32 + 4096 + 4;
            stream[second + 32 + 10] ^= 0xFF;
            var crc = Crc32C.Compute([.. stream.AsSpan(h - 4, 4), .. stream.AsSpan(second, 32 + 4096)]);
            BinaryPrimitives.WriteUInt32LittleEndian(stream.AsSpan(second + 32 + 4096), crc);
            Assert.That(async () => await DeltaStreamTestData.ReadAllAsync(stream), Throws.Nothing, "the forgery passes every check of the stream itself");

            await using (var device = FileBlockDevice.Open(path))
            {
                await using var reader = new DeltaStreamReader(new MemoryStream(stream));
                var options = new DeltaStreamApplyOptions
                {
                    Verify = async (trailer, token) =>
                    {
                        var now = new byte[VolumeSize];
                        await device.ReadAsync(0, now, token);
                        var actual = Crc32C.Compute(now);
                        if (BinaryPrimitives.ReadUInt32BigEndian(trailer.VolumeChecksum.Span) != actual)
                        {
                            throw new CorruptDataException($"The target's CRC-32C 0x{actual:x8} is not the stream's volume checksum.");
                        }
                    },
                };
                Assert.That(async () => await DeltaStream.ApplyOrRollBackAsync(reader, device, options),
                    Throws.InstanceOf<CorruptDataException>().With.Message.Contains("volume checksum"));
            }
            Assert.That(await File.ReadAllBytesAsync(path), Is.EqualTo(before), "the target is as it was");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task ApplyOrRollBack_volumeSizeDiffers_refusedBeforeWriting()
    {
        var valid = await ValidStreamsAsync();
        var device = new MemoryBlockDevice(VolumeSize * 2);
        await using var reader = new DeltaStreamReader(new MemoryStream(valid[0]));

        Assert.That(async () => await DeltaStream.ApplyOrRollBackAsync(reader, device, null),
            Throws.InstanceOf<DeltaStreamException>().With.Message.Contains($"{VolumeSize} bytes").And.Message.Contains("nothing was written"));
        Assert.That(reader.RecordCount, Is.Zero);
    }
}
