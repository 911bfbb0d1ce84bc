using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Tests.Replication;

/// <summary>
/// <see cref="DriverCapabilities.NativeReceiveRestoresBase"/>: the replicator leaves bringing a diverged target back
/// to the base to a receiver that does it itself, and does it itself for any other.
/// </summary>
public class NativeReceiveRestoresBaseTests
{
    [TestCase(DriverCapabilities.None, "rollback s1", TestName = "Refresh_receiverWithoutCapability_replicatorRollsTheTargetBackFirst")]
    [TestCase(DriverCapabilities.NativeReceiveRestoresBase, "receive s2", TestName = "Refresh_receiverRestoresBase_noRollbackBeforeTheReceive")]
    public async Task Refresh_divergedTarget_firstChangeOnTheTarget(DriverCapabilities targetCapabilities, string expectedFirst)
    {
        var source = new MemoryNativeVolume(new MemoryNativeDriver("lvol"), "source") { Live = [1, 2, 3] };
        var target = new MemoryNativeVolume(new MemoryNativeDriver("lvol", targetCapabilities), "target");
        var snapshotsOnly = new RefreshOptions { Plan = new RefreshPlanOptions { SnapshotsOnly = true } };
        await source.CreateSnapshotAsync("s1");
        await new Replicator().RefreshAsync(source, target, snapshotsOnly);
        source.Live = [4, 5, 6, 7];
        await source.CreateSnapshotAsync("s2");
        target.Live = [9, 9]; // written on the target since s1
        target.Events.Clear();

        var result = await new Replicator().RefreshAsync(source, target, snapshotsOnly);

        Assert.That(result.SnapshotsSent, Is.EqualTo(new[] { "s2" }));
        Assert.That(target.Events, Is.Not.Empty);
        Assert.That(target.Events[0], Is.EqualTo(expectedFirst));
        Assert.That(target.Live, Is.EqualTo(source.Live));
    }
}
