using System.Buffers.Binary;
using System.Text;
using DeltaSnap.Devices;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Ceph.Tests;

/// <summary>rbd diff files both ways with the real <c>rbd</c> command.</summary>
public class RbdDiffInteropTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("dsnap-rbd-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>An image with s1 (data in every other object, one 4 KiB hole-ful object) and s2 (writes, a discard, zeros written as data, a grow).</summary>
    private static async Task<RbdVolume> CreateImageWithTwoSnapshotsAsync(CephScope scope, string pool)
    {
        var volume = await scope.CreateAsync(pool, 24 << 20);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            for (var o = 0; o < 6; o += 2)
            {
                await device.WriteAsync((long)o << 22, CephCluster.RandomBytes(4 << 20, o));
            }
            await device.WriteAsync((5L << 22) + 12345, CephCluster.RandomBytes(70_000, 77));
        }
        await volume.CreateSnapshotAsync("s1");
        await volume.ResizeAsync(28 << 20);
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(100_000, CephCluster.RandomBytes(300_000, 101));
            await device.UnmapAsync(new ByteRange(2L << 22, 4 << 20));          // a whole object discarded
            await device.WriteAsync((4L << 22) + 4096, new byte[64 << 10]);       // zeros written as data
            await device.WriteAsync((26L << 20) + 7, CephCluster.RandomBytes(9000, 102)); // in the grown part
        }
        await volume.CreateSnapshotAsync("s2");
        return volume;
    }

    [Test]
    public async Task RbdExportDiff_fullAndIncremental_appliedToMemoryAndFileDevicesMatchRbdExport()
    {
        await using var scope = await CephScope.CreateAsync();
        var volume = await CreateImageWithTwoSnapshotsAsync(scope, CephCluster.PoolA);
        var full = await CephCluster.RbdAsync(["export-diff", "--no-progress", $"{volume.Name}@s1", "-"]);
        var incremental = await CephCluster.RbdAsync(["export-diff", "--no-progress", "--from-snap", "s1", $"{volume.Name}@s2", "-"]);
        var s1 = CephCluster.Hash(await CephCluster.ExportAsync($"{volume.Name}@s1"));
        var s2 = CephCluster.Hash(await CephCluster.ExportAsync($"{volume.Name}@s2"));

        var memory = new MemoryBlockDevice(0);
        var first = await RbdDiff.ApplyAsync(new MemoryStream(full), memory);
        var memoryAtS1 = CephCluster.Hash(memory.ToArray());
        var second = await RbdDiff.ApplyAsync(new ThrowAfterNBytesStream(new MemoryStream(incremental), long.MaxValue), memory); // as from a pipe

        await using var file = FileBlockDevice.Create(Path.Combine(_dir, "image"), 0);
        await RbdDiff.ApplyAsync(new MemoryStream(full), file);
        await RbdDiff.ApplyAsync(new MemoryStream(incremental), file);

        Assert.Multiple(async () =>
        {
            Assert.That(first.Header.ToSnapshot, Is.EqualTo("s1"));
            Assert.That(second.Header.FromSnapshot, Is.EqualTo("s1"));
            Assert.That(second.Header.ImageSize, Is.EqualTo(28 << 20));
            Assert.That(second.BytesZeroed, Is.GreaterThanOrEqualTo(4 << 20), "the discard (and the zeros written) come as z records");
            Assert.That(memoryAtS1, Is.EqualTo(s1));
            Assert.That(CephCluster.Hash(memory.ToArray()), Is.EqualTo(s2));
            Assert.That(await CephCluster.HashAsync(file), Is.EqualTo(s2));
        });
    }

    [Test]
    public async Task DeltaSnapExport_fullAndIncremental_loadedByRbdImportDiff()
    {
        await using var scope = await CephScope.CreateAsync();
        var content = CephCluster.RandomBytes(20 << 20, 8);
        Array.Clear(content, 4 << 20, 4 << 20);
        var device = new MemoryBlockDevice(content);
        var target = scope.Track($"{CephCluster.PoolB}/{CephCluster.UniqueName("imp")}");
        await CephCluster.RbdAsync(["create", "--size", "1M", target]);

        var full = new MemoryStream();
        await RbdDiff.ExportAsync(device, await device.ReadAllocationAsync(), full, new RbdDiffExportOptions { ToSnapshot = "s1" });
        full.Position = 0;
        await CephCluster.RbdAsync(["import-diff", "--no-progress", "-", target], full);
        var s1 = CephCluster.Hash(content);

        // Changes: new data, an all-zero range that held data (must arrive as zeros), and a shrink of nothing.
        var changed = new RangeSet([new ByteRange(1_000_000, 2_000_000), new ByteRange(12 << 20, 2 << 20)]);
        await device.WriteAsync(1_000_000, CephCluster.RandomBytes(2_000_000, 9));
        await device.UnmapAsync(new ByteRange(12 << 20, 2 << 20));
        var incremental = new MemoryStream();
        var result = await RbdDiff.ExportAsync(device, changed, incremental, new RbdDiffExportOptions { FromSnapshot = "s1", ToSnapshot = "s2" });
        incremental.Position = 0;
        await CephCluster.RbdAsync(["import-diff", "--no-progress", "-", target], incremental);

        Assert.Multiple(async () =>
        {
            Assert.That(result.BytesZeroed, Is.EqualTo(2 << 20));
            Assert.That(result.BytesWritten, Is.EqualTo(2_000_000));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{target}@s1")), Is.EqualTo(s1));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{target}@s2")), Is.EqualTo(CephCluster.Hash(device.ToArray())));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync(target)), Is.EqualTo(CephCluster.Hash(device.ToArray())));
        });
    }

    [Test]
    public async Task DeltaSnapExport_wrongBase_refusedByRbdImportDiff()
    {
        await using var scope = await CephScope.CreateAsync();
        var device = new MemoryBlockDevice(CephCluster.RandomBytes(1 << 20, 1));
        var target = scope.Track($"{CephCluster.PoolB}/{CephCluster.UniqueName("imp")}");
        await CephCluster.RbdAsync(["create", "--size", "1M", target]);
        var stream = new MemoryStream();
        await RbdDiff.ExportAsync(device, new RangeSet([new ByteRange(0, 1 << 20)]), stream, new RbdDiffExportOptions { FromSnapshot = "missing", ToSnapshot = "s2" });
        stream.Position = 0;
        var (exit, _, stderr) = await CephCluster.RbdRawAsync(["import-diff", "--no-progress", "-", target], stream);
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(22), stderr);
            Assert.That(stderr, Does.Contain("missing"));
        });
    }

    [Test]
    public async Task VolumeExportDiff_loadedByRbdImportDiff_andRbdExportDiff_loadedByVolumeImportDiff()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await CreateImageWithTwoSnapshotsAsync(scope, CephCluster.PoolA);

        // DeltaSnap writes, rbd reads.
        var byRbd = scope.Track($"{CephCluster.PoolB}/{CephCluster.UniqueName("byrbd")}");
        await CephCluster.RbdAsync(["create", "--size", "1M", byRbd]);
        foreach (var (from, to) in new[] { ((string?)null, "s1"), ("s1", "s2") })
        {
            var file = Path.Combine(_dir, $"{to}.diff");
            await using (var stream = File.Create(file))
            {
                await source.ExportDiffAsync(from, to, stream);
            }
            await CephCluster.RbdAsync(["import-diff", "--no-progress", file, byRbd]);
        }

        // rbd writes, DeltaSnap reads.
        var byDeltaSnap = await scope.CreateAsync(CephCluster.PoolB, 1 << 20, "byds");
        var created = new List<string>();
        foreach (var args in new[] { new[] { $"{source.Name}@s1" }, ["--from-snap", "s1", $"{source.Name}@s2"] })
        {
            var file = Path.Combine(_dir, $"rbd-{created.Count}.diff");
            await CephCluster.RbdAsync(["export-diff", "--no-progress", .. args, file]);
            await using var stream = File.OpenRead(file);
            created.Add((await byDeltaSnap.ImportDiffAsync(stream))!.Name);
        }

        var s1 = CephCluster.Hash(await CephCluster.ExportAsync($"{source.Name}@s1"));
        var s2 = CephCluster.Hash(await CephCluster.ExportAsync($"{source.Name}@s2"));
        Assert.Multiple(async () =>
        {
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{byRbd}@s1")), Is.EqualTo(s1));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{byRbd}@s2")), Is.EqualTo(s2));
            Assert.That(created, Is.EqualTo(new[] { "s1", "s2" }));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{byDeltaSnap.Name}@s1")), Is.EqualTo(s1));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{byDeltaSnap.Name}@s2")), Is.EqualTo(s2));
            Assert.That((await byDeltaSnap.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }));
        });
    }

    [Test]
    public async Task VolumeImportDiff_missingBaseOrExistingEnd_refusedBeforeWriting()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await CreateImageWithTwoSnapshotsAsync(scope, CephCluster.PoolA);
        var incremental = await CephCluster.RbdAsync(["export-diff", "--no-progress", "--from-snap", "s1", $"{source.Name}@s2", "-"]);
        var full = await CephCluster.RbdAsync(["export-diff", "--no-progress", $"{source.Name}@s1", "-"]);
        var target = await scope.CreateAsync(CephCluster.PoolB, 1 << 20);
        var before = CephCluster.Hash(await CephCluster.ExportAsync(target.Name));

        var noBase = Assert.ThrowsAsync<NativeStreamMismatchException>(() => target.ImportDiffAsync(new ThrowAfterNBytesStream(new MemoryStream(incremental), long.MaxValue)));
        await target.ImportDiffAsync(new MemoryStream(full));
        var atS1 = CephCluster.Hash(await CephCluster.ExportAsync(target.Name));
        var exists = Assert.ThrowsAsync<NativeStreamMismatchException>(() => target.ImportDiffAsync(new MemoryStream(full)));
        Assert.Multiple(async () =>
        {
            Assert.That(noBase!.Message, Does.Contain("'s1'"));
            Assert.That(exists!.Message, Does.Contain("'s1'"));
            Assert.That(before, Is.EqualTo(CephCluster.Hash(new byte[1 << 20])));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync(target.Name)), Is.EqualTo(atS1));
        });
    }

    [Test]
    public async Task VolumeImportDiff_corruptFile_writesNothingAndCreatesNoSnapshot()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await CreateImageWithTwoSnapshotsAsync(scope, CephCluster.PoolA);
        var full = await CephCluster.RbdAsync(["export-diff", "--no-progress", $"{source.Name}@s1", "-"]);
        var target = await scope.CreateAsync(CephCluster.PoolB, 1 << 20);
        var file = Path.Combine(_dir, "cut.diff");
        await File.WriteAllBytesAsync(file, Damage.Truncate(full, full.Length - 1000));
        await using (var stream = File.OpenRead(file))
        {
            Assert.ThrowsAsync<CorruptDataException>(() => target.ImportDiffAsync(stream));
        }
        Assert.Multiple(async () =>
        {
            Assert.That(await target.GetLineageAsync(), Is.Empty);
            Assert.That(await target.GetSizeAsync(), Is.EqualTo(1 << 20), "not even resized");
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync(target.Name)), Is.EqualTo(CephCluster.Hash(new byte[1 << 20])));
        });
    }

    [Test]
    public async Task V2_rbdExportFormat2Diffs_appliedInOrderMatchImage()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await CreateImageWithTwoSnapshotsAsync(scope, CephCluster.PoolA);
        await using (var device = await source.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(3 << 20, CephCluster.RandomBytes(10_000, 5)); // a head change after s2
        }
        var export = await CephCluster.RbdAsync(["export", "--no-progress", "--export-format", "2", source.Name, "-"]);
        var diffs = ImageStreamV2.SplitDiffs(export);
        var device2 = new MemoryBlockDevice(0);
        var headers = new List<RbdDiffHeader>();
        foreach (var diff in diffs)
        {
            headers.Add((await RbdDiff.ApplyAsync(new MemoryStream(diff), device2)).Header);
        }
        Assert.Multiple(async () =>
        {
            Assert.That(headers.Select(h => h.Format), Is.All.EqualTo(RbdDiffFormat.V2));
            Assert.That(headers.Select(h => (h.FromSnapshot, h.ToSnapshot)), Is.EqualTo(new[] { ((string?)null, (string?)"s1"), ("s1", "s2"), ("s2", null) }));
            Assert.That(headers[0].IsProtected, Is.False);
            Assert.That(CephCluster.Hash(device2.ToArray()), Is.EqualTo(CephCluster.Hash(await CephCluster.ExportAsync(source.Name))));
        });
    }

    [Test]
    public async Task V2_deltaSnapDiffsInExportFormat2_loadedByRbdImport()
    {
        await using var scope = await CephScope.CreateAsync();
        var first = CephCluster.RandomBytes(12 << 20, 21);
        Array.Clear(first, 0, 4 << 20);
        var device = new MemoryBlockDevice(first);
        var diff1 = new MemoryStream();
        await RbdDiff.ExportAsync(device, new RangeSet([new ByteRange(0, 12 << 20)]), diff1, new RbdDiffExportOptions { ToSnapshot = "s1", Format = RbdDiffFormat.V2 });
        await device.WriteAsync(5 << 20, CephCluster.RandomBytes(1 << 20, 22));
        await device.UnmapAsync(new ByteRange(9 << 20, 1 << 20));
        var diff2 = new MemoryStream();
        await RbdDiff.ExportAsync(device, new RangeSet([new ByteRange(5 << 20, 1 << 20), new ByteRange(9 << 20, 1 << 20)]), diff2,
            new RbdDiffExportOptions { FromSnapshot = "s1", Format = RbdDiffFormat.V2 });
        var image = ImageStreamV2.Build([diff1.ToArray(), diff2.ToArray()]);
        var target = scope.Track($"{CephCluster.PoolB}/{CephCluster.UniqueName("v2")}");
        await CephCluster.RbdAsync(["import", "--no-progress", "--export-format", "2", "-", target], new MemoryStream(image));
        Assert.Multiple(async () =>
        {
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{target}@s1")), Is.EqualTo(CephCluster.Hash(first)));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync(target)), Is.EqualTo(CephCluster.Hash(device.ToArray())));
        });
    }
}
