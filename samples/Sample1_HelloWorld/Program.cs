// Sample 1: keep a copy of a volume up to date by moving only what changed.
//
// Two lvol stores (DeltaSnap's default backend: one file each, nothing to install) in a temporary directory.
// A volume with recognisable data is snapshotted and refreshed into the second store; then a few scattered
// blocks are rewritten and it is refreshed again. Each refresh prints what moved, and the copy is proven equal.
//
//     dotnet run --project samples/Sample1_HelloWorld

using System.Security.Cryptography;
using System.Text;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lvol;
using DeltaSnap.Replication;

const long VolumeSize = 256L << 20;   // 256 MiB
const int Block = 4096;

var directory = Path.Combine(Path.GetTempPath(), "deltasnap-hello-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(directory);
try
{
    await using var siteA = await LvolDriver.CreateStoreAsync(Path.Combine(directory, "site-a.lvs"));
    await using var siteB = await LvolDriver.CreateStoreAsync(Path.Combine(directory, "site-b.lvs"));
    Console.WriteLine($"Two lvol stores in {directory}: site-a.lvs and site-b.lvs (1 MiB clusters).");

    var source = await siteA.CreateVolumeAsync("hello", new VolumeCreateOptions { Size = VolumeSize });
    var copy = await siteB.CreateVolumeAsync("hello", new VolumeCreateOptions { Size = VolumeSize });

    // 1. Recognisable data: the first 64 MiB, every 4 KiB block saying which block it is.
    await using (var disk = await source.OpenDeviceAsync(null, writable: true))
    {
        var chunk = new byte[1 << 20];
        for (long offset = 0; offset < 64L << 20; offset += chunk.Length)
        {
            for (var b = 0; b < chunk.Length; b += Block)
            {
                Fill(chunk.AsSpan(b, Block), $"Hello from DeltaSnap! This is block {(offset + b) / Block} of volume 'hello'.");
            }
            await disk.WriteAsync(offset, chunk);
        }
        await disk.FlushAsync();
    }
    await source.CreateSnapshotAsync("monday");
    Console.WriteLine($"Wrote 64 MiB into {source.Address} and took snapshot 'monday'.");

    var replicator = new Replicator();
    Report("First refresh", await replicator.RefreshAsync(source, copy), siteB.Store, "hello@monday");

    // 2. A few scattered 4 KiB blocks change.
    var random = new Random(2026);
    var changed = 0;
    await using (var disk = await source.OpenDeviceAsync(null, writable: true))
    {
        var block = new byte[Block];
        foreach (var index in Enumerable.Range(0, (int)(VolumeSize / Block)).OrderBy(_ => random.Next()).Take(12))
        {
            Fill(block, $"Block {index} was rewritten on Tuesday.");
            await disk.WriteAsync((long)index * Block, block);
            changed++;
        }
        await disk.FlushAsync();
    }
    await source.CreateSnapshotAsync("tuesday");
    Console.WriteLine($"Rewrote {changed} scattered 4 KiB blocks ({changed * Block / 1024} KiB) and took snapshot 'tuesday'.");
    Report("Second refresh", await replicator.RefreshAsync(source, copy), siteB.Store, "hello@tuesday");

    // 3. Proof: the copy's snapshots and live state hold the same bytes as the source's.
    var same = true;
    foreach (var snapshot in new string?[] { "monday", "tuesday", null })
    {
        var a = await DigestAsync(source, snapshot);
        var b = await DigestAsync(copy, snapshot);
        same &= a == b;
        Console.WriteLine($"  {snapshot ?? "live state",-10}  source {a[..16]}…  copy {b[..16]}…  {(a == b ? "equal" : "DIFFERENT")}");
    }
    var lineage = await copy.GetLineageAsync();
    Console.WriteLine($"The copy's snapshots: {string.Join(", ", lineage.Select(s => $"{s.Name} (received from {s.ReceivedFrom})"))}.");
    Console.WriteLine(same ? "The copy matches the source." : "The copy does NOT match the source.");
    return same ? 0 : 1;
}
finally
{
    Directory.Delete(directory, recursive: true);
}

static void Fill(Span<byte> block, string text)
{
    block.Clear();
    Encoding.ASCII.GetBytes(text).CopyTo(block);
}

static void Report(string what, RefreshResult result, LvolStore target, string newestSnapshot)
{
    var clusters = result.ClustersCopied > 0 ? result.ClustersCopied : target.GetLvol(newestSnapshot).AllocatedClusters;
    Console.WriteLine(
        $"{what}: route {result.Route}, {result.Kind}, snapshots sent [{string.Join(", ", result.SnapshotsSent)}]" +
        $"{(result.LiveStateSent ? " + live state" : "")}; {Size(result.BytesSent)} sent, {Size(result.BytesWritten)} written, " +
        $"{clusters} cluster(s) touched on the copy, {result.Duration.TotalSeconds:F2} s.");
}

static string Size(long bytes) => bytes >= 1 << 20 ? $"{bytes / 1048576.0:F1} MiB" : $"{bytes / 1024.0:F1} KiB";

static async Task<string> DigestAsync(Volume volume, string? snapshot)
{
    await using BlockDevice device = await volume.OpenDeviceAsync(snapshot);
    using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    var buffer = new byte[1 << 20];
    for (long offset = 0; offset < device.Length; offset += buffer.Length)
    {
        var n = (int)Math.Min(buffer.Length, device.Length - offset);
        await device.ReadAsync(offset, buffer.AsMemory(0, n));
        hash.AppendData(buffer, 0, n);
    }
    return Convert.ToHexStringLower(hash.GetHashAndReset());
}
