using DeltaSnap.Devices;

namespace DeltaSnap.Tests.Devices;

/// <summary>The same round-trip behaviour for every device kind (Garnet runs its device tests against every device).</summary>
[TestFixture("memory")]
[TestFixture("file")]
public class BlockDeviceTests(string kind)
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("dsnap-dev-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private BlockDevice Create(long length) => kind == "memory"
        ? new MemoryBlockDevice(length)
        : FileBlockDevice.Create(Path.Combine(_dir, "image"), length);

    [Test]
    public async Task WriteRead_randomBlocks_roundTrip()
    {
        await using var device = Create(8 << 20);
        var random = new Random(42);
        var model = new byte[device.Length];
        for (var i = 0; i < 50; i++)
        {
            var offset = random.NextInt64(0, device.Length - 70_000);
            var data = new byte[random.Next(1, 70_000)];
            random.NextBytes(data);
            await device.WriteAsync(offset, data);
            data.CopyTo(model, offset);
        }
        var back = new byte[device.Length];
        await device.ReadAsync(0, back);
        Assert.That(back.AsSpan().SequenceEqual(model), Is.True);
    }

    [Test]
    public async Task Unmap_range_readsZerosAndFreesAllocation()
    {
        await using var device = Create(4 << 20);
        var data = new byte[4 << 20];
        new Random(1).NextBytes(data);
        await device.WriteAsync(0, data);
        await device.UnmapAsync(new ByteRange(1 << 20, 2 << 20));
        var back = new byte[4 << 20];
        await device.ReadAsync(0, back);
        Assert.Multiple(() =>
        {
            Assert.That(back.AsSpan(0, 1 << 20).SequenceEqual(data.AsSpan(0, 1 << 20)), Is.True);
            Assert.That(back.AsSpan(1 << 20, 2 << 20).ContainsAnyExcept((byte)0), Is.False);
            Assert.That(back.AsSpan(3 << 20).SequenceEqual(data.AsSpan(3 << 20)), Is.True);
        });
        if (device.CanReportAllocation)
        {
            var allocated = await device.ReadAllocationAsync();
            Assert.That(allocated.Intersect(new RangeSet([new ByteRange(1 << 20, 2 << 20)])).IsEmpty, Is.True,
                $"The unmapped range still shows as allocated: {allocated}");
        }
    }

    [Test]
    public async Task GetAllocatedRanges_sparseDevice_reportsOnlyWrittenParts()
    {
        await using var device = Create(16 << 20);
        await device.WriteAsync(5 << 20, new byte[] { 1, 2, 3 });
        var allocated = await device.ReadAllocationAsync();
        Assert.That(device.CanReportAllocation, Is.True);
        Assert.That(allocated.Contains(5 << 20), Is.True);
        Assert.That(allocated.Contains(0), Is.False);
        Assert.That(allocated.TotalLength, Is.LessThanOrEqualTo(1 << 20));
    }

    [Test]
    public async Task ReadWrite_outsideDevice_throws()
    {
        await using var device = Create(1 << 20);
        Assert.That(async () => await device.ReadAsync((1 << 20) - 1, new byte[2]), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(async () => await device.WriteAsync(-1, new byte[1]), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(async () => await device.UnmapAsync(new ByteRange(0, 2 << 20)), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public async Task SetLength_grow_readsZerosInNewPart()
    {
        await using var device = Create(1 << 20);
        await device.WriteAsync(0, new byte[] { 9 });
        await device.SetLengthAsync(3 << 20);
        var back = new byte[3 << 20];
        await device.ReadAsync(0, back);
        Assert.That(device.Length, Is.EqualTo(3 << 20));
        Assert.That(back[0], Is.EqualTo(9));
        Assert.That(back.AsSpan(1).ContainsAnyExcept((byte)0), Is.False);
    }

    [Test]
    public async Task Dispose_thenRead_throwsObjectDisposed()
    {
        var device = Create(4096);
        await device.DisposeAsync();
        Assert.That(async () => await device.ReadAsync(0, new byte[1]), Throws.TypeOf<ObjectDisposedException>());
    }
}

public class FileBlockDeviceTests
{
    [Test]
    public void Open_missingFile_throwsFileNotFound() =>
        Assert.That(() => FileBlockDevice.Open("/nonexistent/dsnap/image"), Throws.InstanceOf<IOException>());

    [Test]
    public async Task Open_readOnly_refusesWrites()
    {
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(path, new byte[8192]);
            await using var device = FileBlockDevice.Open(path, readOnly: true);
            Assert.That(device.Length, Is.EqualTo(8192));
            Assert.That(async () => await device.WriteAsync(0, new byte[1]), Throws.InvalidOperationException);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
