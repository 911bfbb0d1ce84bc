using DeltaSnap.Drivers;
using DeltaSnap.Testing;

namespace DeltaSnap.Lvol.Tests;

/// <summary>The driver contract against two real lvol stores (files in a temporary directory).</summary>
public sealed class LvolDriverContractTests : DriverContractTests
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "dslvol-contract-" + Guid.NewGuid().ToString("N")[..8]);

    protected override VolumeKind Kind => VolumeKind.Block;

    protected override async Task<VolumeDriver> CreateSourceDriverAsync()
    {
        Directory.CreateDirectory(_directory);
        return await LvolDriver.CreateStoreAsync(Path.Combine(_directory, "source.lvs"));
    }

    protected override async Task<VolumeDriver> CreateTargetDriverAsync() =>
        await LvolDriver.CreateStoreAsync(Path.Combine(_directory, "target.lvs"));

    [OneTimeTearDown]
    public void RemoveDirectory()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
