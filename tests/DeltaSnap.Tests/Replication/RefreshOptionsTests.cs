using DeltaSnap.Delta;
using DeltaSnap.Replication;

namespace DeltaSnap.Tests.Replication;

public class RefreshOptionsTests
{
    [Test]
    public void Defaults_deltaOptionsAreThePlannersAndCleanupTimeoutIsTwoMinutes()
    {
        var options = new RefreshOptions();

        Assert.That(options.Delta, Is.EqualTo(new DeltaPlanOptions()));
        Assert.That(options.CleanupTimeout, Is.EqualTo(TimeSpan.FromMinutes(2)));
        Assert.That(RefreshOptions.DefaultCleanupTimeout, Is.EqualTo(TimeSpan.FromMinutes(2)));
    }

    [Test]
    public void CleanupTimeout_zeroOrNegative_throws([Values(0, -5)] int seconds)
    {
        Assert.That(() => new RefreshOptions { CleanupTimeout = TimeSpan.FromSeconds(seconds) }, Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new RefreshOptions() with { CleanupTimeout = TimeSpan.FromSeconds(seconds) }, Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void CleanupTimeout_infinite_isAccepted()
    {
        Assert.That(new RefreshOptions { CleanupTimeout = Timeout.InfiniteTimeSpan }.CleanupTimeout, Is.EqualTo(Timeout.InfiniteTimeSpan));
    }

    [Test]
    public void Delta_null_throws()
    {
        Assert.That(() => new RefreshOptions { Delta = null! }, Throws.ArgumentNullException);
        Assert.That(() => new RefreshOptions { Plan = null! }, Throws.ArgumentNullException);
        Assert.That(() => new RefreshOptions { Native = null! }, Throws.ArgumentNullException);
    }

    [Test]
    public void Delta_with_changesOnlyTheCopy()
    {
        var options = new RefreshOptions();

        var small = options with { Delta = options.Delta with { ClusterSize = 64 << 10 } };

        Assert.That(small.Delta.ClusterSize, Is.EqualTo(64 << 10));
        Assert.That(options.Delta.ClusterSize, Is.EqualTo(ClusterLayout.DefaultClusterSize));
        Assert.That(small.Delta.RefinementBlockSize, Is.EqualTo(DeltaPlanOptions.DefaultRefinementBlockSize));
    }
}
