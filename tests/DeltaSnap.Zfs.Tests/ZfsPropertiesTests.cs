namespace DeltaSnap.Zfs.Tests;

/// <summary>Parsing <c>zfs get -H -p</c> output, without ZFS.</summary>
public class ZfsPropertiesTests
{
    private const string Lineage =
        "tank/vm\tguid\t111\n" +
        "tank/vm\tcreatetxg\t5\n" +
        "tank/vm@b\tguid\t18446744073709551615\n" +
        "tank/vm@b\tcreatetxg\t20\n" +
        "tank/vm@b\tcreation\t1700000100\n" +
        "tank/vm@b\tdeltasnap:created\t-\n" +
        "tank/vm@b\tdeltasnap:received-from\tbtrfs-uuid:1234\n" +
        "tank/vm@a\tguid\t42\n" +
        "tank/vm@a\tcreatetxg\t10\n" +
        "tank/vm@a\tcreation\t1700000000\n" +
        "tank/vm@a\tdeltasnap:created\t1600000000\n" +
        "tank/vm@a\tdeltasnap:received-from\tnot an identity\n" +
        "tank/vmx@c\tguid\t7\n";

    [Test]
    public void ParseSnapshots_exactGuidsCreatedOverrideAndReceivedFrom()
    {
        var records = ZfsProperties.ParseSnapshots(Lineage, "tank/vm@");
        Assert.That(records.Select(r => r.Info.Name), Is.EqualTo(new[] { "b", "a" }), "in output order, other datasets left out");
        var b = records[0];
        Assert.That(b.Guid, Is.EqualTo(ulong.MaxValue));
        Assert.That(b.CreateTxg, Is.EqualTo(20UL));
        Assert.That(b.Info.Identity, Is.EqualTo(new SnapshotIdentity(ZfsDriver.GuidIdentityKind, "18446744073709551615")));
        Assert.That(b.Info.CreatedUtc, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1700000100)));
        Assert.That(b.Info.ReceivedFrom, Is.EqualTo(new SnapshotIdentity("btrfs-uuid", "1234")));
        var a = records[1];
        Assert.That(a.Info.CreatedUtc, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1600000000)), "deltasnap:created wins over creation");
        Assert.That(a.Info.ReceivedFrom, Is.Null, "a value DeltaSnap did not write is ignored");
    }

    [Test]
    public void ParseSnapshots_missingGuid_throws()
    {
        Assert.That(() => ZfsProperties.ParseSnapshots("tank/vm@a\tcreatetxg\t1\ntank/vm@a\tcreation\t2\n", "tank/vm@"),
            Throws.InstanceOf<BackendCommandException>().With.Message.Contains("tank/vm@a"));
    }

    [Test]
    public void ParseUserRefs_countsBySnapshot()
    {
        var refs = ZfsProperties.ParseUserRefs("tank/vm\t-\ntank/vm@a\t2\ntank/vm@b\t0\ntank/other@c\t5\n", "tank/vm@");
        Assert.That(refs, Is.EquivalentTo(new Dictionary<string, long> { ["a"] = 2, ["b"] = 0 }));
    }

    [Test]
    public void ParseOwnProperties_valueAndSource()
    {
        var props = ZfsProperties.ParseOwnProperties("mountpoint\t/tank/vm\tdefault\nmounted\tyes\t-\n");
        Assert.That(props["mountpoint"], Is.EqualTo(("/tank/vm", "default")));
        Assert.That(props["mounted"], Is.EqualTo(("yes", "-")));
    }

    [Test]
    public void ParseReceiveState_lineageHoldsMountAndLocalQuotasOnly()
    {
        var output =
            "tank/vm\tguid\t111\tlocal\n" +
            "tank/vm\tquota\t1073741824\tlocal\n" +
            "tank/vm\trefquota\t2147483648\tinherited from tank\n" +
            "tank/vm\tatime\toff\tlocal\n" +
            "tank/vm\tmounted\tyes\t-\n" +
            "tank/vm\treceive_resume_token\t-\t-\n" +
            "tank/vm\tencryption\toff\tdefault\n" +
            "tank/vm@a\tguid\t42\t-\n" +
            "tank/vm@a\tcreatetxg\t10\t-\n" +
            "tank/vm@a\tcreation\t1700000000\t-\n" +
            "tank/vm@a\tuserrefs\t1\t-\n" +
            "tank/vm@b\tguid\t43\t-\n" +
            "tank/vm@b\tcreatetxg\t9\t-\n" +
            "tank/vm@b\tcreation\t1700000001\t-\n";
        var state = ZfsProperties.ParseReceiveState(output, "tank/vm");
        Assert.That(state.Lineage.Select(s => s.Name), Is.EqualTo(new[] { "b", "a" }), "ordered by createtxg");
        Assert.That(state.UserRefs, Is.EquivalentTo(new Dictionary<string, long> { ["a"] = 1 }));
        Assert.That(state.Mounted, Is.True);
        Assert.That(state.Atime, Is.EqualTo("off"));
        Assert.That(state.ResumeToken, Is.Null);
        Assert.That(state.Encryption, Is.EqualTo("off"));
        Assert.That(state.KeyStatus, Is.Null);
        Assert.That(state.LocalQuotas, Is.EqualTo(new[] { ("quota", "1073741824") }), "an inherited refquota is not lifted");
    }

    [Test]
    public void ParseReceiveState_resumeTokenKept()
    {
        var state = ZfsProperties.ParseReceiveState("tank/vm\treceive_resume_token\t1-abc-def\t-\ntank/vm\tmounted\tno\t-\n", "tank/vm");
        Assert.That(state.ResumeToken, Is.EqualTo("1-abc-def"));
        Assert.That(state.Mounted, Is.False);
        Assert.That(state.Lineage, Is.Empty);
    }
}
