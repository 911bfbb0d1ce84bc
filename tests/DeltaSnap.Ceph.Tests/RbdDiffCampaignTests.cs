using System.Reflection;
using System.Text;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Ceph.Tests;

/// <summary>
/// Bad input, counted, for the rbd diff reader and the native RBD stream's own records (identity and coverage): ≥ 10,000
/// mutated streams (no cluster needed). The rbd diff format has no checksum, so a flipped data byte or a changed
/// offset can make another valid stream: those are counted as accepted. What must never happen: an exception outside
/// the <see cref="DeltaSnapException"/> family, a hang, or an allocation in proportion to a declared length.
/// </summary>
[NonParallelizable]
public sealed class RbdDiffCampaignTests
{
    private static async Task<byte[]> WriteAsync(RbdDiffFormat format, int seed, bool native)
    {
        var stream = new MemoryStream();
        var writer = new RbdDiffWriter(stream, format);
        await writer.WriteHeaderAsync(new RbdDiffHeader { FromSnapshot = "a" + seed, ToSnapshot = "b" + seed, ImageSize = 1 << 20, IsProtected = format == RbdDiffFormat.V2 ? false : null });
        if (native)
        {
            var identity = Encoding.UTF8.GetBytes($"{{\"v\":1,\"from\":\"rbd:a{seed}@1767139200\",\"to\":\"rbd:b{seed}@1767225600\"}}");
            await writer.WriteExtraRecordAsync((byte)'D', identity, default);
            foreach (var coverage in RbdStreamCoverage.Encode([new ByteRange(0, 65536), new ByteRange(131072, 4096)]))
            {
                await writer.WriteExtraRecordAsync((byte)'X', coverage, default);
            }
        }
        await writer.WriteDataAsync(4096, CephCluster.RandomBytes(3000, seed));
        await writer.WriteZeroAsync(65536, 8192);
        await writer.WriteDataAsync(200_000, CephCluster.RandomBytes(700, seed + 1));
        await writer.CompleteAsync();
        return stream.ToArray();
    }

    private static readonly MethodInfo FindIdentities = typeof(RbdVolume).GetNestedType("NativeIdentities", BindingFlags.NonPublic)!
        .GetMethod("Find", BindingFlags.Public | BindingFlags.Static)!;

    [Test]
    public async Task MutatedDiffs_noUntypedException_noHang_boundedMemory()
    {
        var valid = new List<byte[]>
        {
            await WriteAsync(RbdDiffFormat.V1, 1, native: false),
            await WriteAsync(RbdDiffFormat.V2, 2, native: false),
            await WriteAsync(RbdDiffFormat.V2, 3, native: true),
            await WriteAsync(RbdDiffFormat.V2, 4, native: true),
        };
        var mutations = MutationCampaign.Generate(valid, 10_200 * MutationCampaign.Scale, seed: 20261206);
        var result = await MutationCampaign.RunAsync("rbd diff (RbdDiffReader, native identity and coverage records)", mutations, async (bytes, token) =>
        {
            using var reader = new RbdDiffReader(new MemoryStream(bytes));
            var header = await reader.ReadHeaderAsync(token);
            if (reader.ExtraRecords.Any(r => r.Tag == 'D'))
            {
                try
                {
                    FindIdentities.Invoke(null, [reader, header, "rbd:pool/image"]);
                }
                catch (TargetInvocationException e) when (e.InnerException is not null)
                {
                    throw e.InnerException;
                }
                RbdStreamCoverage.Decode(reader.ExtraRecords.Where(r => r.Tag == 'X').Select(r => r.Payload), header.ImageSize ?? long.MaxValue);
            }
            await foreach (var record in reader.ReadRecordsAsync(token))
            {
                _ = record.Length;
            }
        }, e => e is DeltaSnapException, TimeSpan.FromSeconds(10));

        await TestContext.Out.WriteLineAsync(result.ToString());
        Assert.That(result.Cases, Is.GreaterThanOrEqualTo(10_000));
        Assert.That(result.Failures, Is.Empty);
        Assert.That(result.Rejected, Is.GreaterThan(result.Cases / 3), "much damage is detected even without a checksum");
    }
}
