namespace DeltaSnap.Zfs.Tests;

/// <summary>
/// The base of the fixtures that run against the two real zfs-fuse pools: each test gets a fresh
/// <see cref="ZfsTestBed"/> (failed or ignored when the pools are not up), and everything it made is destroyed after it.
/// </summary>
public abstract class ZfsFixture
{
    private ZfsTestBed? _bed;

    /// <summary>The pools of the running test.</summary>
    private protected ZfsTestBed Bed => _bed ?? throw new InvalidOperationException("The test bed is open only while a test runs.");

    [SetUp]
    public async Task OpenBedAsync() => _bed = await ZfsTestBed.OpenAsync();

    [TearDown]
    public async Task CloseBedAsync()
    {
        if (_bed is not null)
        {
            await _bed.DisposeAsync();
            _bed = null;
        }
    }
}
