using DeltaSnap;

namespace DeltaSnap.Tests.Ranges;

public class ClusterLayoutTests
{
    [Test]
    public void Layout_shortTail_lastClusterIsShorter()
    {
        var layout = new ClusterLayout((3L << 20) + 100, 1 << 20);
        Assert.Multiple(() =>
        {
            Assert.That(layout.ClusterCount, Is.EqualTo(4));
            Assert.That(layout.LengthOf(3), Is.EqualTo(100));
            Assert.That(layout.LengthOf(2), Is.EqualTo(1 << 20));
            Assert.That(layout.OffsetOf(3), Is.EqualTo(3L << 20));
            Assert.That(layout.ClusterIndexOf((3L << 20) + 99), Is.EqualTo(3));
            Assert.That(layout.RangeOf(2, 2), Is.EqualTo(new ByteRange(2L << 20, (1 << 20) + 100)));
        });
    }

    [Test]
    public void Layout_exactMultiple_hasNoTail()
    {
        var layout = new ClusterLayout(8L << 30, 64 << 20);
        Assert.That(layout.ClusterCount, Is.EqualTo(128));
        Assert.That(layout.LengthOf(127), Is.EqualTo(64 << 20));
    }

    [TestCase(0)]
    [TestCase(2048)]
    [TestCase(4097)]
    [TestCase(3 << 20)]
    [TestCase(128 << 20)]
    public void Layout_invalidClusterSize_throws(int clusterSize)
    {
        Assert.That(() => new ClusterLayout(1 << 20, clusterSize),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("power of two"));
    }

    [Test]
    public void Layout_outOfRangeIndexOrOffset_throws()
    {
        var layout = new ClusterLayout(10 << 20, 1 << 20);
        Assert.Multiple(() =>
        {
            Assert.That(() => layout.OffsetOf(10), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => layout.OffsetOf(-1), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => layout.ClusterIndexOf(10 << 20), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new ClusterLayout(-1), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void Layout_emptyVolume_hasNoClusters() =>
        Assert.That(new ClusterLayout(0).ClusterCount, Is.Zero);
}
