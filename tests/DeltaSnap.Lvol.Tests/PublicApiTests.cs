using DeltaSnap.Testing;

namespace DeltaSnap.Lvol.Tests;

public sealed class PublicApiTests
{
    [Test]
    public void PublicSurface_matchesPublicApiShipped() =>
        PublicApiSurface.AssertMatchesShipped(typeof(LvolStore).Assembly, "DeltaSnap.Lvol");
}
