using System.Security.Cryptography;

namespace DeltaSnap.Lvol.Tests;

/// <summary>A temporary directory per test, and helpers to create stores and read whole lvols.</summary>
public abstract class StoreFixture
{
    protected string Directory { get; private set; } = "";

    [SetUp]
    public void CreateDirectory()
    {
        Directory = Path.Combine(Path.GetTempPath(), "dslvol-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Directory);
    }

    [TearDown]
    public void RemoveDirectory()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    protected string StorePath(string name = "store") => Path.Combine(Directory, name + ".lvs");

    protected Task<LvolStore> CreateStoreAsync(int clusterSize = 64 * 1024, string name = "store", long capacity = 0) =>
        LvolStore.CreateAsync(StorePath(name), new LvolStoreOptions { ClusterSize = clusterSize, CapacityClusters = capacity });

    protected static async Task<byte[]> ReadAllAsync(LvolStore store, string name)
    {
        await using var device = store.OpenDevice(name);
        var data = new byte[device.Length];
        await device.ReadAsync(0, data);
        return data;
    }

    protected static async Task WriteAsync(LvolStore store, string name, long offset, byte[] data, bool flush = true)
    {
        await using var device = store.OpenDevice(name, writable: true);
        await device.WriteAsync(offset, data);
        if (flush)
        {
            await device.FlushAsync();
        }
    }

    protected static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    protected static string Hash(byte[] data) => Convert.ToHexString(SHA256.HashData(data));

    protected static async Task AssertConsistentAsync(LvolStore store)
    {
        var report = await store.FsckAsync();
        Assert.That(report.Problems, Is.Empty, "fsck found problems");
    }
}
