using DeltaSnap.Replication;

namespace DeltaSnap.Tests.Replication;

/// <summary>A refresh holds its target's lock from start to end: a second refresh of the same target is refused at once.</summary>
public class RefreshLockTests
{
    [Test]
    public async Task Refresh_whileAnotherRefreshesTheSameTarget_isRefusedAndChangesNothing()
    {
        var unique = Guid.NewGuid().ToString("N");
        var source = new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "source-" + unique) { Live = [1, 2, 3] };
        var target = new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "target-" + unique);
        var other = new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "other-" + unique);
        await source.CreateSnapshotAsync("s1");
        using var sending = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var blocking = new BlockingProgress(sending, release);

        var first = Task.Run(() => new Replicator().RefreshAsync(source, target, progress: blocking));
        Assert.That(sending.Wait(TimeSpan.FromSeconds(30)), Is.True, "the first refresh reached its transfer");
        target.Events.Clear();

        var e = Assert.ThrowsAsync<RefreshInProgressException>(() => new Replicator().RefreshAsync(source, target));
        var elsewhere = await new Replicator().RefreshAsync(source, other); // another target is not held up

        Assert.Multiple(() =>
        {
            Assert.That(e!.Target, Is.EqualTo(target.Address));
            Assert.That(e.Message, Does.Contain(target.Address).And.Contain(e.LockFile!));
            Assert.That(e.IsTransient, Is.True);
            Assert.That(target.Events, Is.Empty, "the refused refresh touched nothing");
            Assert.That(elsewhere.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        });
        release.Set();
        var result = await first;
        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
        Assert.That(target.Live, Is.EqualTo(source.Live));

        // Let go once it ended: the next refresh of the target runs.
        var again = await new Replicator().RefreshAsync(source, target);
        Assert.That(again.SnapshotsSent, Is.Empty);
        Assert.That(target.Live, Is.EqualTo(source.Live));
    }

    [Test]
    public async Task Refresh_failed_letsGoOfTheTarget()
    {
        var unique = Guid.NewGuid().ToString("N");
        var source = new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "source-" + unique) { Live = [1, 2, 3] };
        var target = new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "target-" + unique);
        await source.CreateSnapshotAsync("s1");
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(() => new Replicator().RefreshAsync(source, target, cancellationToken: cancel.Token));
        var result = await new Replicator().RefreshAsync(source, target);

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s1" }));
    }

    private sealed class BlockingProgress(ManualResetEventSlim sending, ManualResetEventSlim release) : IProgress<RefreshProgress>
    {
        public void Report(RefreshProgress value)
        {
            if (!sending.IsSet)
            {
                sending.Set();
                release.Wait(TimeSpan.FromSeconds(60));
            }
        }
    }
}
