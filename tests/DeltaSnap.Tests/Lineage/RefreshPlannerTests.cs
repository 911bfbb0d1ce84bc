using DeltaSnap.Lineage;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace DeltaSnap.Tests.Lineage;

public class RefreshPlannerTests
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static SnapshotInfo Source(int i) => new($"s{i}", new SnapshotIdentity("test", $"id{i}"), Epoch.AddMinutes(i));

    private static SnapshotInfo Replica(int i) =>
        new($"s{i}", new SnapshotIdentity("test", $"replica{i}-{Guid.NewGuid():N}"), Epoch.AddMinutes(i)) { ReceivedFrom = new SnapshotIdentity("test", $"id{i}") };

    private static SnapshotInfo TargetOnly(int i, int minute) => new($"t{i}", new SnapshotIdentity("test", $"own{i}"), Epoch.AddMinutes(minute).AddSeconds(30));

    /// <summary>A random source lineage and a target holding a random subset of it plus target-only snapshots, from a seed.</summary>
    private static (SnapshotLineage Source, SnapshotLineage Target) RandomLineages(int seed)
    {
        var random = new Random(seed);
        var count = random.Next(0, 8);
        var source = Enumerable.Range(0, count).Select(Source).ToList();
        var target = new List<SnapshotInfo>();
        var own = 0;
        for (var i = 0; i < count; i++)
        {
            if (random.Next(3) == 0)
            {
                target.Add(Replica(i));
            }
            if (random.Next(5) == 0)
            {
                target.Add(TargetOnly(own++, i));
            }
        }
        if (random.Next(4) == 0)
        {
            target.Add(TargetOnly(own, count));
        }
        return (new SnapshotLineage(source), new SnapshotLineage(target));
    }

    /// <summary>Applies a plan the way the replicator does, on lineages only.</summary>
    private static List<SnapshotInfo> Apply(RefreshPlan plan, SnapshotLineage target)
    {
        var result = target.ToList();
        foreach (var doomed in plan.TargetSnapshotsToDelete)
        {
            result.RemoveAll(s => s.Name == doomed.Name);
        }
        result.AddRange(plan.SnapshotsToSend.Select(s => Replica(int.Parse(s.Name[1..], System.Globalization.CultureInfo.InvariantCulture))));
        return result;
    }

    [Property(MaxTest = 500)]
    public void Plan_randomLineages_targetEndsHoldingEverySourceSnapshotFromTheBaseOn(int seed)
    {
        var (source, target) = RandomLineages(seed);
        RefreshPlan plan;
        try
        {
            plan = RefreshPlanner.Plan(source, target);
        }
        catch (NoCommonBaseException)
        {
            Assert.That(target.Count, Is.GreaterThan(0));
            Assert.That(SnapshotLineage.FindCommonBase(source, target), Is.Null);
            return;
        }
        var after = Apply(plan, target);
        var firstIndex = plan.SourceBase is null ? 0 : source.IndexOf(plan.SourceBase);
        foreach (var s in source.Skip(firstIndex))
        {
            Assert.That(after.Count(t => t.IsSameAs(s)), Is.EqualTo(1), $"{s.Name} after the plan (seed {seed})");
        }
        if (plan.TargetBase is not null)
        {
            Assert.That(plan.TargetSnapshotsToDelete.Any(d => d.Name == plan.TargetBase.Name), Is.False, "the base is never deleted");
            Assert.That(plan.TargetBase.IsSameAs(plan.SourceBase!), Is.True);
            Assert.That(plan.SourceBase, Is.EqualTo(source.Reverse().First(s => target.Any(t => t.IsSameAs(s)))), "the base is the newest shared snapshot");
        }
    }

    [Property(MaxTest = 500)]
    public void Plan_randomLineages_refusesExactlyWhenBothHaveSnapshotsButShareNone(int seed)
    {
        var (source, target) = RandomLineages(seed);
        var shouldRefuse = target.Count > 0 && !source.Any(s => target.Any(t => t.IsSameAs(s)));
        if (shouldRefuse)
        {
            Assert.That(() => RefreshPlanner.Plan(source, target), Throws.TypeOf<NoCommonBaseException>());
            var forced = RefreshPlanner.Plan(source, target, new RefreshPlanOptions { AllowFullResend = true });
            Assert.That(forced.Kind, Is.EqualTo(RefreshKind.Full));
            Assert.That(forced.TargetSnapshotsToDelete, Has.Count.EqualTo(target.Count));
        }
        else
        {
            Assert.That(() => RefreshPlanner.Plan(source, target), Throws.Nothing);
        }
    }

    [Test]
    public void Plan_baseFoundByIdentityNotName_sameNameDifferentIdentityIsNotABase()
    {
        var source = new SnapshotLineage([Source(0)]);
        var impostor = new SnapshotLineage([new SnapshotInfo("s0", new SnapshotIdentity("test", "other"), Epoch)]);
        Assert.That(() => RefreshPlanner.Plan(source, impostor), Throws.TypeOf<NoCommonBaseException>().With.Message.Contains("share none"));
    }

    [Test]
    public void Plan_emptyTarget_isFullWithEverySnapshotAndLiveState()
    {
        var plan = RefreshPlanner.Plan(new SnapshotLineage([Source(0), Source(1)]), SnapshotLineage.Empty);
        Assert.That(plan.Kind, Is.EqualTo(RefreshKind.Full));
        Assert.That(plan.SnapshotsToSend.Select(s => s.Name), Is.EqualTo(new[] { "s0", "s1" }));
        Assert.That(plan.CaptureLiveState, Is.True);
    }

    [Test]
    public void Plan_targetDiverged_deletesNewerTargetSnapshotsAndRollsBack()
    {
        var source = new SnapshotLineage([Source(0), Source(1), Source(2)]);
        var target = new SnapshotLineage([Replica(0), Replica(1), TargetOnly(0, 1)]);
        var plan = RefreshPlanner.Plan(source, target);
        Assert.That(plan.Kind, Is.EqualTo(RefreshKind.Incremental));
        Assert.That(plan.SourceBase!.Name, Is.EqualTo("s1"));
        Assert.That(plan.TargetSnapshotsToDelete.Select(s => s.Name), Is.EqualTo(new[] { "t0" }));
        Assert.That(plan.RollBackTargetToBase, Is.True);
        Assert.That(plan.SnapshotsToSend.Select(s => s.Name), Is.EqualTo(new[] { "s2" }));
    }

    [Test]
    public void Plan_keepTargetOnlySnapshots_keepsThemOnlyWhereTheBackendAllows()
    {
        var source = new SnapshotLineage([Source(0), Source(1)]);
        var target = new SnapshotLineage([Replica(0), TargetOnly(0, 0)]);
        var options = new RefreshPlanOptions { KeepTargetOnlySnapshots = true };
        Assert.That(RefreshPlanner.Plan(source, target, options, canKeepSnapshotsAfterBase: true).TargetSnapshotsToDelete, Is.Empty);
        Assert.That(RefreshPlanner.Plan(source, target, options, canKeepSnapshotsAfterBase: false).TargetSnapshotsToDelete, Has.Count.EqualTo(1));
    }

    [Test]
    public void Plan_snapshotsOnlyAndUpToDate_isUpToDate()
    {
        var source = new SnapshotLineage([Source(0), Source(1)]);
        var target = new SnapshotLineage([Replica(0), Replica(1)]);
        var plan = RefreshPlanner.Plan(source, target, new RefreshPlanOptions { SnapshotsOnly = true });
        Assert.That(plan.Kind, Is.EqualTo(RefreshKind.UpToDate));
        Assert.That(RefreshPlanner.Plan(source, target).CaptureLiveState, Is.True, "by default the live state is always sent");
    }

    [Test]
    public void Plan_onlyNewerThanTargetLatest_skipsOlderIntermediates()
    {
        var source = new SnapshotLineage([Source(0), Source(1), Source(2), Source(3)]);
        var target = new SnapshotLineage([Replica(0), TargetOnly(0, 2)]);
        var plan = RefreshPlanner.Plan(source, target, new RefreshPlanOptions { OnlyNewerThanTargetLatest = true, KeepTargetOnlySnapshots = true }, canKeepSnapshotsAfterBase: true);
        Assert.That(plan.SnapshotsToSend.Select(s => s.Name), Is.EqualTo(new[] { "s3" }));
    }

    [Test]
    public void Plan_leftoverTemporarySnapshots_areListedAndNeverABase()
    {
        var temp = new SnapshotInfo(TemporarySnapshot.NewName(), new SnapshotIdentity("test", "tmp"), Epoch);
        var source = new SnapshotLineage([Source(0), temp]);
        var target = new SnapshotLineage([Replica(0), new SnapshotInfo(temp.Name, temp.Identity, Epoch)]);
        var plan = RefreshPlanner.Plan(source, target);
        Assert.That(plan.SourceBase!.Name, Is.EqualTo("s0"));
        Assert.That(plan.SourceLeftovers.Select(s => s.Name), Is.EqualTo(new[] { temp.Name }));
        Assert.That(plan.TargetLeftovers.Select(s => s.Name), Is.EqualTo(new[] { temp.Name }));
    }

    [Test]
    public void SnapshotInfo_creationTimes_areComparedAtWholeSeconds()
    {
        var a = new SnapshotInfo("a", new SnapshotIdentity("t", "1"), Epoch.AddTicks(1234567));
        Assert.That(a.CreatedUtc, Is.EqualTo(Epoch));
    }
}
