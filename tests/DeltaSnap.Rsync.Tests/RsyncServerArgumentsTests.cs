using System.Diagnostics;
using DeltaSnap.Replication;

namespace DeltaSnap.Rsync.Tests;

/// <summary>
/// The server's check of the command lines a peer's rsync client asks for on the remote rsync route: every line the
/// route produces with the installed rsync passes (with the tree in place of the placeholder), everything else is refused.
/// </summary>
public sealed class RsyncServerArgumentsTests
{
    [TestCase(false, false, 0)]
    [TestCase(false, true, 0)]
    [TestCase(true, false, 0)]
    [TestCase(true, true, 2048)]
    public async Task Check_commandLineOfTheInstalledRsync_isAcceptedWithTheTreeInPlace(bool pull, bool copyOnWrite, int bandwidthLimit)
    {
        BackendRequirement.RequireProgram("rsync", "rsync");
        var local = Directory.CreateTempSubdirectory("dsrsargs-");
        try
        {
            var capture = Path.Combine(local.FullName, "args");
            var synchronizer = new RsyncTreeSynchronizer(new RsyncTreeSynchronizerOptions { BandwidthLimitKiBPerSecond = bandwidthLimit });
            var request = new RemoteTreeSyncRequest
            {
                LocalDirectory = local.FullName,
                RemoteVolume = null!,
                RemoteIsSource = pull,
                RemoteSnapshot = pull ? "s1" : null,
                TargetIsCopyOnWrite = copyOnWrite,
            };
            // A remote shell that only writes down what rsync asked it to run.
            var arguments = synchronizer.BuildRemoteArguments(request, $"/bin/sh -c 'printf \"%s\\0\" \"$@\" >{capture}; exit 1' x");
            using (var rsync = Process.Start(new ProcessStartInfo("rsync", arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!)
            {
                await rsync.WaitForExitAsync();
            }
            var words = (await File.ReadAllTextAsync(capture)).Split('\0')[..^1];
            Assert.That(words[..2], Is.EqualTo(new[] { RsyncServerArguments.Host, "rsync" }));

            // What the relay passes on (a pull's block size is the local receiver's: dropped).
            var relayed = RsyncTreeSynchronizer.WithoutBlockSize(words[2..]);
            Assert.That(words.Any(w => w.StartsWith("-B", StringComparison.Ordinal)), Is.EqualTo(pull && copyOnWrite), "a pull's receiver updating in place chooses the block size");

            var checkedWords = RsyncServerArguments.Check(relayed, "/srv/tree", writable: !pull);

            Assert.That(checkedWords.Skip(checkedWords.Count - 2), Is.EqualTo(new[] { ".", "/srv/tree/" }));
            Assert.That(checkedWords.Contains("--sender"), Is.EqualTo(pull));
            Assert.That(checkedWords.Take(checkedWords.Count - 1), Is.EqualTo(relayed.SkipLast(1)), "everything but the path runs as asked");
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    [TestCase("--server", "-e", "sh", ".", "tree/")]
    [TestCase("--server", "--rsync-path=sh", "-logDtpre.iLsfxCIvu", ".", "tree/")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", "--files-from=/etc/passwd", ".", "tree/")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", "--include-from=/etc/shadow", ".", "tree/")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", "--backup-dir=/tmp", ".", "tree/")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", "--write-devices", ".", "tree/")]
    [TestCase("--server", "-logDtpre.iL$(id)", ".", "tree/")]
    [TestCase("--server", "-logDtpRe.iLsfxCIvu", ".", "tree/")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", "--bwlimit=-5", ".", "tree/")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", "tree/")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", ".")]
    [TestCase("--server", "-logDtpre.iLsfxCIvu", ".", "tree")]
    [TestCase("--daemon", ".", "tree/")]
    [TestCase]
    public void Check_wordTheRouteDoesNotProduce_isRefused(params string[] words)
    {
        var error = Assert.Throws<UnauthorizedAccessException>(() => RsyncServerArguments.Check(words, "/srv/tree", writable: true));
        Assert.That(error!.Message, Does.Contain("refused, nothing ran"));
    }

    [Test]
    public void Check_senderOnWritableTreeOrReceiverOnReadOnlyTree_isRefused()
    {
        Assert.Throws<UnauthorizedAccessException>(() => RsyncServerArguments.Check(["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "tree/"], "/srv/tree", writable: true));
        Assert.Throws<UnauthorizedAccessException>(() => RsyncServerArguments.Check(["--server", "-logDtpre.iLsfxCIvu", ".", "tree/"], "/srv/tree", writable: false));
        Assert.Throws<UnauthorizedAccessException>(() => RsyncServerArguments.Check(["--server", "--sender", "--delete", "-logDtpre.iLsfxCIvu", ".", "tree/"], "/srv/tree", writable: false));
        Assert.That(RsyncServerArguments.Check(["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "tree/"], "/srv/tree", writable: false)[^1], Is.EqualTo("/srv/tree/"));
    }
}
