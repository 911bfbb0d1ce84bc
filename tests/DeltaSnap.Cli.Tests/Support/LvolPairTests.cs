namespace DeltaSnap.Cli.Tests.Support;

/// <summary>
/// A base for tests of commands between two volumes: a source volume <c>vm1</c> and a target volume <c>copy</c>, each in
/// its own lvol store in a temporary directory, both empty. Derived fixtures add their data in a [SetUp] of their own
/// (NUnit runs this one first).
/// </summary>
public abstract class LvolPairTests
{
    private protected TempDirectory Dir { get; private set; } = null!;

    private protected LvolFixture Lvol { get; private set; } = null!;

    private protected string SourceStore { get; private set; } = null!;

    private protected string TargetStore { get; private set; } = null!;

    /// <summary>The source volume's address.</summary>
    private protected string Source { get; private set; } = null!;

    /// <summary>The target volume's address.</summary>
    private protected string Target { get; private set; } = null!;

    [SetUp]
    public async Task CreateStoresAsync()
    {
        Dir = new TempDirectory();
        Lvol = new LvolFixture(Dir);
        SourceStore = await Lvol.CreateStoreAsync("source");
        TargetStore = await Lvol.CreateStoreAsync("target");
        Source = await LvolFixture.CreateVolumeAsync(SourceStore, "vm1");
        Target = await LvolFixture.CreateVolumeAsync(TargetStore, "copy");
    }

    [TearDown]
    public void DeleteStores() => Dir.Dispose();

    /// <summary>The bytes of the source's live state, or of one of its snapshots.</summary>
    private protected Task<byte[]> SourceBytesAsync(string? snapshot = null) => Lvol.ReadAsync(SourceStore, snapshot is null ? "vm1" : "vm1@" + snapshot);

    /// <summary>The bytes of the target's live state, or of one of its snapshots.</summary>
    private protected Task<byte[]> TargetBytesAsync(string? snapshot = null) => Lvol.ReadAsync(TargetStore, snapshot is null ? "copy" : "copy@" + snapshot);

    /// <summary>Fills <c>{dir}</c>, <c>{source}</c> and <c>{target}</c> into an address template of a test case.</summary>
    private protected string Expand(string template) => template
        .Replace("{dir}", Dir.Path, StringComparison.Ordinal)
        .Replace("{source}", Source, StringComparison.Ordinal)
        .Replace("{target}", Target, StringComparison.Ordinal);
}
