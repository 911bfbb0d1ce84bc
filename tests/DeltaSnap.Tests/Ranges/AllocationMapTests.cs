using DeltaSnap;

namespace DeltaSnap.Tests.Ranges;

public class AllocationMapTests
{
    [Test]
    public void ToFragmap_bitOrder_isLeastSignificantFirst()
    {
        var map = new AllocationMap(12);
        map[0] = true;
        map[3] = true;
        map[9] = true;
        // byte 0 = 0b00001001 = 0x09, byte 1 = 0b00000010 = 0x02
        Assert.That(map.ToFragmap(), Is.EqualTo(Convert.ToBase64String([0x09, 0x02])));
    }

    [Test]
    public void FromFragmap_roundTripsRandomMaps([Values(1, 7, 8, 63, 64, 65, 1000, 4099)] int count)
    {
        var random = new Random(count);
        var map = new AllocationMap(count);
        for (var i = 0; i < count; i++)
        {
            map[i] = random.Next(3) == 0;
        }
        var decoded = AllocationMap.FromFragmap(map.ToFragmap(), count);
        Assert.That(decoded, Is.EqualTo(map));
        Assert.That(decoded.AllocatedCount, Is.EqualTo(Enumerable.Range(0, count).Count(i => map[i])));
        Assert.That(decoded.EnumerateAllocated(), Is.EqualTo(Enumerable.Range(0, count).Where(i => map[i]).Select(i => (long)i)));
    }

    [Test]
    public void FromFragmap_tooShortOrBitsPastEnd_throwsFormatException()
    {
        Assert.That(() => AllocationMap.FromFragmap(Convert.ToBase64String([0xff]), 9), Throws.TypeOf<FormatException>());
        Assert.That(() => AllocationMap.FromFragmap(Convert.ToBase64String([0xff, 0x02]), 9), Throws.TypeOf<FormatException>());
        Assert.That(() => AllocationMap.FromFragmap("not base64!", 8), Throws.TypeOf<FormatException>());
    }

    [Test]
    public void OrAnd_combineLayers()
    {
        var a = new AllocationMap(70);
        var b = new AllocationMap(70);
        a[1] = true;
        a[69] = true;
        b[1] = true;
        b[2] = true;
        Assert.That(a.Or(b).EnumerateAllocated(), Is.EqualTo(new long[] { 1, 2, 69 }));
        Assert.That(a.And(b).EnumerateAllocated(), Is.EqualTo(new long[] { 1 }));
        Assert.That(() => a.Or(new AllocationMap(71)), Throws.InstanceOf<ArgumentException>());
    }

    [Test]
    public void SetAll_leavesNoBitPastTheEnd()
    {
        var map = new AllocationMap(67);
        map.SetAll();
        Assert.That(map.AllocatedCount, Is.EqualTo(67));
        Assert.That(AllocationMap.FromFragmap(map.ToFragmap(), 67), Is.EqualTo(map));
    }
}
