using DeltaSnap.Testing;

namespace DeltaSnap.Tests;

public class PublicApiTests
{
    [Test]
    public void PublicApi_matchesShippedBaseline() =>
        PublicApiSurface.AssertMatchesShipped(typeof(ByteRange).Assembly, "DeltaSnap");
}
