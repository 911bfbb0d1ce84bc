namespace DeltaSnap.Rsync.Tests;

public sealed class PublicApiTests
{
    [Test]
    public void PublicSurface_matchesShippedFile() =>
        PublicApiSurface.AssertMatchesShipped(typeof(RsyncTreeSynchronizer).Assembly, "DeltaSnap.Rsync");
}
