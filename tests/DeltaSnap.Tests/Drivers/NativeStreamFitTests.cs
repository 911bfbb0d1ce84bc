using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Tests.Drivers;

/// <summary>The one decision whether a native stream fits its target, row by row.</summary>
public class NativeStreamFitTests
{
    private const string Address = "test:vol";
    private static readonly DateTimeOffset Time = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private static SnapshotIdentity Id(string value) => new("test-id", value);

    private static SnapshotInfo Snap(string name, string id, string? receivedFrom = null) =>
        new(name, Id(id), Time) { ReceivedFrom = receivedFrom is null ? null : Id(receivedFrom) };

    private static SnapshotLineage Lineage(params SnapshotInfo[] snapshots) => new(snapshots);

    private static NativeStreamMismatchException Refused(NativeStreamHeader header, NativeReceiveRequest request, SnapshotLineage lineage, bool keepAfterBase = false) =>
        Assert.Throws<NativeStreamMismatchException>(() => NativeStreamFit.Check(Address, header, request, lineage, keepAfterBase))!;

    [Test]
    public void Check_fullStreamOntoEmptyTarget_fits()
    {
        var header = new NativeStreamHeader(Id("S1"));
        Assert.That(NativeStreamFit.Check(Address, header, new NativeReceiveRequest { Snapshot = Snap("s1", "S1") }, SnapshotLineage.Empty, false), Is.Null);
    }

    [Test]
    public void Check_incrementalFromTheBase_fitsAndReturnsTheBase()
    {
        var targetBase = Snap("s1", "T1", receivedFrom: "S1");
        var header = new NativeStreamHeader(Id("S2")) { From = Id("S1") };
        var request = new NativeReceiveRequest { Snapshot = Snap("s2", "S2"), TargetBase = targetBase };
        Assert.That(NativeStreamFit.Check(Address, header, request, Lineage(targetBase), false), Is.EqualTo(targetBase));
    }

    [Test]
    public void Check_incrementalFromWhatTheBaseWasReceivedFrom_fits()
    {
        // lvol/RBD: the stream's base was itself received from the snapshot the target's base was received from.
        var targetBase = Snap("s1", "T1", receivedFrom: "ORIGIN");
        var header = new NativeStreamHeader(Id("S2")) { From = Id("S1"), FromReceivedFrom = Id("ORIGIN") };
        var request = new NativeReceiveRequest { Snapshot = Snap("s2", "S2"), TargetBase = targetBase };
        Assert.That(NativeStreamFit.Check(Address, header, request, Lineage(targetBase), false), Is.EqualTo(targetBase));
    }

    [Test]
    public void Check_streamOfAnotherSnapshot_refusedNamingBoth()
    {
        var header = new NativeStreamHeader(Id("OTHER"));
        var e = Refused(header, new NativeReceiveRequest { Snapshot = Snap("s1", "S1") }, SnapshotLineage.Empty);
        Assert.That(e.StreamTo, Is.EqualTo(Id("OTHER")));
        Assert.That(e.Message, Does.Contain("test-id:OTHER").And.Contain("test-id:S1"));
    }

    [Test]
    public void Check_identityOfAnotherKind_isNotCompared()
    {
        var header = new NativeStreamHeader(new SnapshotIdentity("other-kind", "X"));
        Assert.That(NativeStreamFit.Check(Address, header, new NativeReceiveRequest { Snapshot = Snap("s1", "S1") }, SnapshotLineage.Empty, false), Is.Null);
    }

    [Test]
    public void Check_streamCreatingAnotherName_refused()
    {
        var header = new NativeStreamHeader(Id("S1")) { ToName = "s9" };
        var e = Refused(header, new NativeReceiveRequest { Snapshot = Snap("s1", "S1") }, SnapshotLineage.Empty);
        Assert.That(e.Message, Does.Contain("'s9'").And.Contain("'s1'"));
    }

    [Test]
    public void Check_nameTakenOnTarget_refused()
    {
        var header = new NativeStreamHeader(Id("S1"));
        var e = Refused(header, new NativeReceiveRequest { Snapshot = Snap("s1", "S1") }, Lineage(Snap("s1", "T9")));
        Assert.That(e.Message, Does.Contain("already has a snapshot named 's1'"));
        Assert.That(e.TargetLatest, Is.EqualTo(Id("T9")));
    }

    [Test]
    public void Check_fullStreamWhereIncrementalExpected_refused()
    {
        var targetBase = Snap("s1", "T1");
        var header = new NativeStreamHeader(Id("S2"));
        var e = Refused(header, new NativeReceiveRequest { Snapshot = Snap("s2", "S2"), TargetBase = targetBase }, Lineage(targetBase));
        Assert.That(e.StreamFrom, Is.Null);
        Assert.That(e.TargetBase, Is.EqualTo(Id("T1")));
        Assert.That(e.Message, Does.Contain("full stream"));
    }

    [Test]
    public void Check_incrementalWithoutTargetBase_refused()
    {
        var header = new NativeStreamHeader(Id("S2")) { From = Id("S1") };
        var e = Refused(header, new NativeReceiveRequest { Snapshot = Snap("s2", "S2") }, Lineage(Snap("s1", "T1")));
        Assert.That(e.StreamFrom, Is.EqualTo(Id("S1")));
        Assert.That(e.TargetBase, Is.Null);
    }

    [Test]
    public void Check_baseMissingOrReplacedOnTarget_refused()
    {
        var header = new NativeStreamHeader(Id("S2")) { From = Id("S1") };
        var request = new NativeReceiveRequest { Snapshot = Snap("s2", "S2"), TargetBase = Snap("s1", "T1", receivedFrom: "S1") };
        Assert.That(Refused(header, request, SnapshotLineage.Empty).Message, Does.Contain("has no snapshot 's1'"));
        var replaced = Refused(header, request, Lineage(Snap("s1", "T7", receivedFrom: "S1")));
        Assert.That(replaced.TargetBase, Is.EqualTo(Id("T7")));
    }

    [Test]
    public void Check_incrementalFromAnotherBase_refusedNamingBothIdentities()
    {
        var targetBase = Snap("s1", "T1", receivedFrom: "S1");
        var header = new NativeStreamHeader(Id("S3")) { From = Id("S2"), FromName = "s2" };
        var e = Refused(header, new NativeReceiveRequest { Snapshot = Snap("s3", "S3"), TargetBase = targetBase }, Lineage(targetBase));
        Assert.That(e.StreamFrom, Is.EqualTo(Id("S2")));
        Assert.That(e.TargetBase, Is.EqualTo(Id("T1")));
        Assert.That(e.Message, Does.Contain("test-id:S2").And.Contain("test-id:T1").And.Contain("test-id:S1"));
    }

    [Test]
    public void Check_newerSnapshotsOnTarget_refusedUnlessTheBackendKeepsThem()
    {
        var targetBase = Snap("s1", "T1", receivedFrom: "S1");
        var lineage = Lineage(targetBase, Snap("mine", "T2"));
        var header = new NativeStreamHeader(Id("S2")) { From = Id("S1") };
        var request = new NativeReceiveRequest { Snapshot = Snap("s2", "S2"), TargetBase = targetBase };
        var e = Refused(header, request, lineage);
        Assert.That(e.TargetLatest, Is.EqualTo(Id("T2")));
        Assert.That(e.Message, Does.Contain("newer snapshots"));
        Assert.That(NativeStreamFit.Check(Address, header, request, lineage, canKeepSnapshotsAfterBase: true), Is.EqualTo(targetBase));
    }

    [Test]
    public void Check_uuidsDifferingInCaseOnly_areTheSame()
    {
        var targetBase = Snap("s1", "abc-DEF");
        var header = new NativeStreamHeader(Id("S2")) { From = Id("ABC-def") };
        var request = new NativeReceiveRequest { Snapshot = Snap("s2", "S2"), TargetBase = targetBase };
        Assert.That(NativeStreamFit.Check(Address, header, request, Lineage(targetBase), false), Is.EqualTo(targetBase));
    }
}
