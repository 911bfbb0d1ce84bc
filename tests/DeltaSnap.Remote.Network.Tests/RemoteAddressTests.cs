using DeltaSnap.Cli.Commands;
using DeltaSnap.Drivers;
using DeltaSnap.Remote.Transports;

namespace DeltaSnap.Remote.Network.Tests;

/// <summary>Pure logic: remote addresses, fingerprints, authorisation rules, refusals before any process starts (no root needed).</summary>
public class RemoteAddressTests
{
    private static VolumeResolver Resolver() => new VolumeResolver().AddRemote();

    [TestCase("ssh://backup@host.example:2222/zfs:tank/vm", "ssh", "backup@host.example:2222", "zfs:tank/vm")]
    [TestCase("ssh://10.0.0.1/lvol:/srv/a.lvs#vm", "ssh", "10.0.0.1", "lvol:/srv/a.lvs#vm")]
    [TestCase("tls://host:7480/btrfs:/mnt/pool/vm", "tls", "host:7480", "btrfs:/mnt/pool/vm")]
    [TestCase("tls://[::1]:7480/rbd:rbd/img", "tls", "[::1]:7480", "rbd:rbd/img")]
    public void ParseAddress_remote_peerIsTheLocationAndTheServersAddressTheName(string text, string scheme, string location, string name)
    {
        var address = Resolver().ParseAddress(text);

        Assert.That((address.Scheme, address.Location, address.Name), Is.EqualTo((scheme, location, name)));
        Assert.That(address.Text, Is.EqualTo(text));
    }

    [TestCase("tls://host/zfs:tank/vm")]
    [TestCase("tls://user@host:7480/zfs:tank/vm")]
    [TestCase("ssh://host/")]
    [TestCase("ssh://host/not-an-address")]
    [TestCase("ssh:host/zfs:tank/vm")]
    [TestCase("ssh://host:99999/zfs:tank/vm")]
    public void ParseAddress_malformed_isAFormatException(string text) =>
        Assert.That(() => Resolver().ParseAddress(text), Throws.InstanceOf<FormatException>());

    [TestCase("ssh://-oProxyCommand=id/zfs:tank/vm")]
    [TestCase("ssh://bad host/zfs:tank/vm")]
    [TestCase("ssh://host\n/zfs:tank/vm")]
    [TestCase("ssh://-root@host/zfs:tank/vm")]
    [TestCase("ssh://host/zfs:tank/../etc")]
    [TestCase("ssh://host/zfs:tank/vm;reboot")]
    public void ParseAddress_hostile_isRefusedAsAnInvalidName(string text) =>
        Assert.That(() => Resolver().ParseAddress(text), Throws.InstanceOf<InvalidNameException>());

    [Test]
    public void Start_hostileHost_throwsBeforeAnyProcessStarts() =>
        Assert.That(() => SshTransport.Start("-oProxyCommand=touch /tmp/x", null, null, new SshTransportOptions { Program = "/nonexistent/ssh" }),
            Throws.InstanceOf<InvalidNameException>());

    [Test]
    public void Start_optionThatIsNotNameValue_isRefused() =>
        Assert.That(() => SshTransport.Start("host", null, null, new SshTransportOptions { Program = "/nonexistent/ssh", Options = ["-F/etc/x"] }),
            Throws.ArgumentException);

    [TestCase("AB:CD:" + "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd", true)]
    [TestCase("sha256 Fingerprint=ABCD00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDD", true)]
    [TestCase("abcd", false)]
    [TestCase("zz" + "00112233445566778899aabbccddeeff00112233445566778899aabbccdd", false)]
    public void TryParse_fingerprintForms_giveLowerCaseHex(string text, bool valid)
    {
        var parsed = CertificateFingerprint.TryParse(text, out var fingerprint);

        Assert.That(parsed, Is.EqualTo(valid));
        if (valid)
        {
            Assert.That(fingerprint, Is.EqualTo("abcd00112233445566778899aabbccddeeff00112233445566778899aabbccdd"));
        }
    }

    [Test]
    public void IsAllowed_rules_matchPeerAccessAndPrefix()
    {
        var fingerprint = new string('a', 64);
        var rules = PeerAuthorization.Parse(
        [
            "# backups",
            "backup1 write lvol:/srv/",
            $"{fingerprint.ToUpperInvariant()} read zfs:tank/",
            "* read rbd:public/",
        ], "test");
        var backup1 = new PeerIdentity("backup1", new string('b', 64));
        var byFingerprint = new PeerIdentity("someone", fingerprint);

        Assert.That(rules.IsAllowed(backup1, "lvol:/srv/a.lvs#vm", VolumeAccess.Write), Is.True);
        Assert.That(rules.IsAllowed(backup1, "lvol:/srv/a.lvs#vm", VolumeAccess.Read), Is.True, "write allows reading");
        Assert.That(rules.IsAllowed(backup1, "lvol:/srv/../etc/x.lvs#vm", VolumeAccess.Read), Is.False, "no escaping a prefix");
        Assert.That(rules.IsAllowed(backup1, "lvol:/other/a.lvs#vm", VolumeAccess.Read), Is.False);
        Assert.That(rules.IsAllowed(byFingerprint, "zfs:tank/vm", VolumeAccess.Read), Is.True);
        Assert.That(rules.IsAllowed(byFingerprint, "zfs:tank/vm", VolumeAccess.Write), Is.False);
        Assert.That(rules.IsAllowed(byFingerprint, "lvol:/srv/a.lvs#vm", VolumeAccess.Read), Is.False);
        Assert.That(rules.IsAllowed(byFingerprint, "rbd:public/img", VolumeAccess.Read), Is.True);
    }

    [Test]
    public void Parse_malformedRule_namesTheLine() =>
        Assert.That(() => PeerAuthorization.Parse(["backup1 write lvol:/srv/", "backup1 delete lvol:/srv/"], "rules"),
            Throws.InstanceOf<UsageException>().With.Message.StartsWith("rules:2:"));
}
