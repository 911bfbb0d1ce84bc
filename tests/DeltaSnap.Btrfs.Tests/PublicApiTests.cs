using DeltaSnap.Testing;

namespace DeltaSnap.Btrfs.Tests;

public sealed class PublicApiTests
{
    [Test]
    public void PublicSurface_matchesShippedFile() =>
        PublicApiSurface.AssertMatchesShipped(typeof(BtrfsDriver).Assembly, "DeltaSnap.Btrfs");
}
