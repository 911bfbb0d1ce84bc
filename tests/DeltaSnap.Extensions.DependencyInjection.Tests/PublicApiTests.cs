using DeltaSnap.Testing;

namespace DeltaSnap.Extensions.DependencyInjection.Tests;

public sealed class PublicApiTests
{
    [Test]
    public void PublicSurface_matchesPublicApiShipped() =>
        PublicApiSurface.AssertMatchesShipped(typeof(DeltaSnapOptions).Assembly, "DeltaSnap.Extensions.DependencyInjection");
}
