namespace DeltaSnap.Lvol.Tests;

/// <summary>The physical-cluster allocator on its own: allocation, frees that wait for the commit, capacity, runs.</summary>
public sealed class ClusterAllocatorTests
{
    [Test]
    public void Allocate_emptyStore_extendsInOrder()
    {
        var clusters = new ClusterAllocator(0, 0);

        Assert.That(new[] { clusters.Allocate(), clusters.Allocate(), clusters.Allocate() }, Is.EqualTo(new[] { 0L, 1, 2 }));
        Assert.That(clusters.Count, Is.EqualTo(3));
        Assert.That(clusters.UsedCount, Is.EqualTo(3));
        Assert.That(clusters.IsUsed(1), Is.True);
        Assert.That(clusters.IsUsed(3), Is.False);
        Assert.That(clusters.FreeCount, Is.EqualTo(long.MaxValue), "no capacity: no limit");
    }

    [Test]
    public void Free_isReusedOnlyOnceTheCommitThatFreesItIsDurable()
    {
        var clusters = Allocated(4);

        clusters.Free(1);

        Assert.That(clusters.IsUsed(1), Is.False);
        Assert.That(clusters.Allocate(), Is.EqualTo(4), "the committed metadata may still point at cluster 1");
        clusters.BeginCommit();
        Assert.That(clusters.Allocate(), Is.EqualTo(5), "not while the commit that frees it is being written");
        clusters.EndCommit();
        Assert.That(clusters.Allocate(), Is.EqualTo(1), "reusable once that commit is durable");
    }

    [Test]
    public void Free_duringACommit_waitsForTheNextCommit()
    {
        var clusters = Allocated(4);
        clusters.BeginCommit();

        clusters.Free(2);
        clusters.EndCommit();

        Assert.That(clusters.Allocate(), Is.EqualTo(4), "the commit that was running did not record the free");
        clusters.BeginCommit();
        clusters.EndCommit();
        Assert.That(clusters.Allocate(), Is.EqualTo(2));
    }

    [Test]
    public void AbortCommit_keepsItsFreesForTheNextCommit()
    {
        var clusters = Allocated(4);
        clusters.Free(0);
        clusters.BeginCommit();

        clusters.AbortCommit();

        Assert.That(clusters.Allocate(), Is.EqualTo(4));
        clusters.BeginCommit();
        clusters.EndCommit();
        Assert.That(clusters.Allocate(), Is.EqualTo(0));
    }

    [Test]
    public void FreeNow_isReusableAtOnce()
    {
        var clusters = Allocated(6);

        clusters.FreeNow(2, 3);

        Assert.That(clusters.UsedCount, Is.EqualTo(3));
        Assert.That(new[] { clusters.Allocate(), clusters.Allocate(), clusters.Allocate(), clusters.Allocate() }, Is.EqualTo(new[] { 2L, 3, 4, 6 }));
    }

    [Test]
    public void Allocate_atCapacity_throwsEnospc_andPendingFreesCountAsTaken()
    {
        var clusters = new ClusterAllocator(0, 3);
        for (var i = 0; i < 3; i++)
        {
            clusters.Allocate();
        }

        var e = Assert.Throws<LvolException>(() => clusters.Allocate());

        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.ENOSPC));
        clusters.Free(1);
        Assert.That(clusters.FreeCount, Is.Zero, "a free not yet committed is not room");
        Assert.That(() => clusters.Allocate(), Throws.InstanceOf<LvolException>());
        clusters.BeginCommit();
        clusters.EndCommit();
        Assert.That(clusters.FreeCount, Is.EqualTo(1));
        Assert.That(clusters.Allocate(), Is.EqualTo(1));
    }

    [Test]
    public void AllocateRun_takesTheFirstFreeRunLongEnough()
    {
        var clusters = Allocated(10);
        clusters.FreeNow(1, 1);
        clusters.FreeNow(4, 3);

        Assert.That(clusters.AllocateRun(2), Is.EqualTo(4));
        Assert.That(clusters.AllocateRun(1), Is.EqualTo(1));
        Assert.That(clusters.AllocateRun(2), Is.EqualTo(10), "no free run is long enough: the store grows");
        Assert.That(clusters.Count, Is.EqualTo(12));
    }

    [Test]
    public void AllocateRun_freeRunAtTheEnd_isExtended()
    {
        var clusters = Allocated(8);
        clusters.FreeNow(6, 2);

        Assert.That(clusters.AllocateRun(4), Is.EqualTo(6));
        Assert.That(clusters.Count, Is.EqualTo(10));
        Assert.That(clusters.UsedCount, Is.EqualTo(10));
    }

    [Test]
    public void AllocateRun_pastCapacity_throwsEnospc_andTakesNothing()
    {
        var clusters = new ClusterAllocator(0, 4);
        clusters.Allocate();
        clusters.Allocate();

        var e = Assert.Throws<LvolException>(() => clusters.AllocateRun(3));

        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.ENOSPC));
        Assert.That(clusters.UsedCount, Is.EqualTo(2));
        Assert.That(clusters.AllocateRun(2), Is.EqualTo(2));
    }

    [Test]
    public void UsedBitmap_roundTripsThroughFromBitmap()
    {
        var clusters = Allocated(70);
        clusters.FreeNow(0, 3);
        clusters.FreeNow(64, 1);
        clusters.Free(9);

        var bitmap = clusters.UsedBitmap(clusters.Count);
        var loaded = ClusterAllocator.FromBitmap(bitmap, clusters.Count, 0);

        Assert.That(bitmap, Has.Length.EqualTo(9));
        Assert.That(bitmap[0], Is.EqualTo(0b1111_1000), "least significant bit first");
        Assert.That(bitmap[1], Is.EqualTo(0b1111_1101));
        Assert.That(loaded.Count, Is.EqualTo(70));
        Assert.That(Enumerable.Range(0, 70).Select(p => loaded.IsUsed(p)), Is.EqualTo(Enumerable.Range(0, 70).Select(p => clusters.IsUsed(p))));
        Assert.That(loaded.Allocate(), Is.EqualTo(0), "a freshly loaded allocator has no frees waiting");
    }

    [Test]
    public void Allocate_manyClusters_growsPastItsFirstWords()
    {
        var clusters = Allocated(5000);

        clusters.FreeNow(4321, 1);

        Assert.That(clusters.UsedCount, Is.EqualTo(4999));
        Assert.That(clusters.Allocate(), Is.EqualTo(4321), "the search wraps to the start when nothing is free past the last allocation");
    }

    private static ClusterAllocator Allocated(int count)
    {
        var clusters = new ClusterAllocator(0, 0);
        for (var i = 0; i < count; i++)
        {
            clusters.Allocate();
        }
        return clusters;
    }
}
