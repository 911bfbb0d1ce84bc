using DeltaSnap.Testing;

namespace DeltaSnap.Remote.Tests;

public sealed class PublicApiTests
{
    [Test]
    public void PublicSurface_matchesPublicApiShipped() =>
        PublicApiSurface.AssertMatchesShipped(typeof(RemoteSession).Assembly, "DeltaSnap.Remote");
}
