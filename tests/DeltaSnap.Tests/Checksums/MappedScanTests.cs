using DeltaSnap.Checksums;
using DeltaSnap.Devices;

namespace DeltaSnap.Tests.Checksums;

/// <summary>
/// The checksum scan's mapped read path: a read-only image on a local file system is hashed straight from a shared
/// memory map under a read lease; an image opened for writing (whose own descriptor rules the lease out) is read with
/// <c>pread</c>. Both must give the same map, and a file cut short or grown during a mapped scan must give a clear
/// error or a correct map, never a fault.
/// </summary>
public class MappedScanTests
{
    private const int MiB = 1 << 20;

    // Where the scan is expected to map: Linux, a file system whose size changes all go through the kernel's VFS, and
    // the kernel's lease settings that FileReadLease asks for.
    private static bool ExpectsMaps(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }
        var local = new[] { "ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "f2fs" }.Contains(new DriveInfo(path).DriveFormat);
        return local
            && File.ReadAllText("/proc/sys/fs/leases-enable").Trim() == "1"
            && int.Parse(File.ReadAllText("/proc/sys/fs/lease-break-time").Trim(), System.Globalization.CultureInfo.InvariantCulture) >= 10;
    }

    // Whether this process has a memory map of the file open right now.
    private static bool IsMapped(string path) =>
        File.ReadLines("/proc/self/maps").Any(line => line.EndsWith(" " + Path.GetFullPath(path), StringComparison.Ordinal));

    [Test]
    public async Task Compute_readOnlyImage_mappedScanAgreesWithPread(
        [Values(ChecksumAlgorithm.Xxh128, ChecksumAlgorithm.Crc64Iso)] ChecksumAlgorithm algorithm,
        [Values(4096, 1 << 20, 2 << 20)] int clusterSize, [Values] bool zeroTail, [Values(1, 2)] int workers)
    {
        var path = Path.GetTempFileName();
        try
        {
            await ClusterChecksumsTests.WriteImageWithHolesAsync(path, zeroTail);
            var options = new ClusterChecksumOptions { ClusterSize = clusterSize, Algorithm = algorithm, MaxDegreeOfParallelism = workers };
            ClusterChecksums pread;
            using (var writable = FileBlockDevice.Open(path))
            {
                pread = await ClusterChecksums.ComputeAsync(writable, options);
            }

            using var device = FileBlockDevice.Open(path, readOnly: true);
            var mapped = false;
            var progress = new ClusterChecksumsTests.SynchronousProgress<ChecksumProgress>(_ => mapped |= OperatingSystem.IsLinux() && IsMapped(path));
            var map = await ClusterChecksums.ComputeAsync(device, options, progress);
            ClusterChecksumsTests.AssertSameMap(map, pread, "mapped against pread");
            Assert.That(mapped, Is.EqualTo(ExpectsMaps(path)), "the read-only scan read through a map (where the file system allows it)");
            Assert.That(IsMapped(path), Is.False, "the maps are gone after the scan");

            // Two scans of one device at once share its lease; the first to end must not end the other's.
            var both = await Task.WhenAll(ClusterChecksums.ComputeAsync(device, options), ClusterChecksums.ComputeAsync(device, options));
            ClusterChecksumsTests.AssertSameMap(both[0], pread, "concurrent scan 1");
            ClusterChecksumsTests.AssertSameMap(both[1], pread, "concurrent scan 2");
        }
        finally
        {
            File.Delete(path);
        }
    }

    // A 48 MiB image of random bytes, scanned by one worker; after the first cluster the progress callback starts
    // another thread that changes the file (opening it for writing breaks the scan's lease: the kernel makes that open
    // wait until the scan stops reading through its map) and gives it a moment to get there.
    private static async Task<(ClusterChecksums? Map, Exception? Error, byte[] Content)> ScanWhileChangingAsync(string path, Action<FileStream> change)
    {
        var content = new byte[48 * MiB];
        new Random(5).NextBytes(content);
        await File.WriteAllBytesAsync(path, content);
        using var device = FileBlockDevice.Open(path, readOnly: true);
        Task? changing = null;
        var progress = new ClusterChecksumsTests.SynchronousProgress<ChecksumProgress>(_ =>
        {
            if (changing is null)
            {
                changing = Task.Factory.StartNew(() =>
                {
                    using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                    change(stream);
                }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                Thread.Sleep(50);
            }
        });
        var options = new ClusterChecksumOptions { ClusterSize = MiB, Algorithm = ChecksumAlgorithm.Xxh128, MaxDegreeOfParallelism = 1 };
        ClusterChecksums? map = null;
        Exception? error = null;
        try
        {
            map = await ClusterChecksums.ComputeAsync(device, options, progress);
        }
        catch (EndOfStreamException e)
        {
            error = e;
        }
        Assert.That(changing, Is.Not.Null);
        await changing!.WaitAsync(TimeSpan.FromMinutes(2));
        return (map, error, content);
    }

    private static async Task<ClusterChecksums> MapOfAsync(byte[] content)
    {
        await using var memory = new MemoryBlockDevice(content.Length, pageSize: 4096);
        await memory.WriteAsync(0, content);
        return await ClusterChecksums.ComputeAsync(memory, new ClusterChecksumOptions { ClusterSize = MiB, Algorithm = ChecksumAlgorithm.Xxh128 });
    }

    [Test]
    public async Task Compute_fileCutShortDuringMappedScan_endOfStreamOrTheWholeMap_neverAFault()
    {
        var path = Path.GetTempFileName();
        try
        {
            var (map, error, content) = await ScanWhileChangingAsync(path, stream => stream.SetLength(8 * MiB));
            Assert.That(new FileInfo(path).Length, Is.EqualTo(8 * MiB), "the file was cut short");
            await TestContext.Out.WriteLineAsync(map is null ? "the scan failed: " + error!.Message : "the scan ended before the cut");
            if (map is null)
            {
                Assert.That(error!.Message, Does.Contain(path).And.Contain("before its expected length"));
            }
            else
            {
                // The cut came after the scan's last read: the whole map of what was there.
                ClusterChecksumsTests.AssertSameMap(map, await MapOfAsync(content), "scan that ended before the cut");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Compute_fileGrownDuringMappedScan_mapsTheLengthItWasOpenedWith()
    {
        var path = Path.GetTempFileName();
        try
        {
            var (map, error, content) = await ScanWhileChangingAsync(path, stream =>
            {
                stream.Seek(0, SeekOrigin.End);
                stream.Write(new byte[3 * MiB + 17]);
            });
            Assert.That(error, Is.Null);
            Assert.That(new FileInfo(path).Length, Is.EqualTo(content.Length + 3 * MiB + 17), "the file grew");
            ClusterChecksumsTests.AssertSameMap(map!, await MapOfAsync(content), "scan of a growing file");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
