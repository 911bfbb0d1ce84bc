namespace DeltaSnap.Zfs.Tests;

/// <summary>Feature detection from the usage text of <c>zfs</c>: the installed one, and known texts of zfs-fuse and OpenZFS.</summary>
[TestFixture]
public class ZfsFeaturesTests
{
    // zfs-fuse 0.7.0 (Debian 12), trimmed to the lines that matter.
    private const string ZfsFuseUsage = """
        usage: zfs command args ...
        where 'command' is one of the following:

        	create [-p] [-o property=value] ... <filesystem>
        	create [-ps] [-b blocksize] [-o property=value] ... -V <size> <volume>
        	send [-RDp] [-[iI] snapshot] <snapshot>
        	receive [-vnF] <filesystem|volume|snapshot>
        	receive [-vnF] -d <filesystem>
        	hold [-r] <tag> <snapshot> ...
        	holds [-r] <snapshot> ...
        	release [-r] <tag> <snapshot> ...
        """;

    // OpenZFS 2.1, trimmed.
    private const string OpenZfsUsage = """
        usage: zfs command args ...
        where 'command' is one of the following:

        	snapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...
        	bookmark <snapshot|bookmark> <newbookmark>
        	send [-DnPpRvLecwhb] [-[iI] snapshot] <snapshot>
        	send [-nvPLecw] [-i snapshot|bookmark] <filesystem|volume|snapshot>
        	send [-DnPpvLec] [-i bookmark|snapshot] --redact <bookmark> <snapshot>
        	send [-nvPe] -t <receive_resume_token>
        	send [-Pnv] --saved filesystem
        	receive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ...
        	    <filesystem|volume|snapshot>
        	receive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ...
        	    [-d | -e] <filesystem>
        	receive -A <filesystem|volume>
        	hold [-r] <tag> <snapshot> ...
        	holds [-rH] <snapshot> ...
        	release [-r] <tag> <snapshot> ...
        """;

    [Test]
    public void FromUsage_zfsFuse_holdsOnly()
    {
        var features = ZfsFeatures.FromUsage(ZfsFuseUsage, kernelModule: false);
        Assert.That(features, Is.EqualTo(ZfsFeatures.Minimal with { Holds = true }));
    }

    [Test]
    public void FromUsage_openZfs_everyModernFeature()
    {
        var features = ZfsFeatures.FromUsage(OpenZfsUsage, kernelModule: true);
        Assert.That(features, Is.EqualTo(new ZfsFeatures
        {
            Zvols = true,
            ResumableStreams = true,
            Holds = true,
            Bookmarks = true,
            CompressedSend = true,
            RawSend = true,
            ReceiveWithoutMount = true,
            ReceiveExcludeProperty = true,
        }));
    }

    [Test]
    public void ReceiveArguments_openZfsFilesystem_excludesTheMountAndShareProperties()
    {
        var features = ZfsFeatures.FromUsage(OpenZfsUsage, kernelModule: true);

        var arguments = ZfsVolume.ReceiveArguments(features, Drivers.VolumeKind.Filesystem, resumable: true, "tank/vm@s1");

        Assert.That(arguments, Is.EqualTo(new[]
        {
            "receive", "-F", "-u", "-s", "-x", "mountpoint", "-x", "canmount", "-x", "sharenfs", "-x", "sharesmb", "tank/vm@s1",
        }));
    }

    [Test]
    public void ReceiveArguments_openZfsVolume_excludesNothing()
    {
        // OpenZFS before 2.1 fails a volume's receive with -x mountpoint (openzfs/zfs#11416); a volume has none of them.
        var features = ZfsFeatures.FromUsage(OpenZfsUsage, kernelModule: true);

        Assert.That(ZfsVolume.ReceiveArguments(features, Drivers.VolumeKind.Block, resumable: false, "tank/disk@s1"),
            Is.EqualTo(new[] { "receive", "-F", "-u", "tank/disk@s1" }));
    }

    [Test]
    public void ReceiveArguments_withoutExclusion_excludesNothing()
    {
        var features = new ZfsFeatures { ReceiveWithoutMount = true };

        Assert.That(ZfsVolume.ReceiveArguments(features, Drivers.VolumeKind.Filesystem, resumable: true, "pool/fs@s1"),
            Is.EqualTo(new[] { "receive", "-F", "-u", "pool/fs@s1" }));
    }

    [Test]
    public async Task OpenAsync_installedZfs_detectionAgreesWithWhatTheCommandAccepts()
    {
        Testing.BackendRequirement.RequireProgram("zfs", "zfs-fuse");
        var driver = await ZfsDriver.OpenAsync();
        var usage = UsageOfInstalledZfs();

        Assert.That(driver.Features.ReceiveWithoutMount, Is.EqualTo(usage.Contains("receive [-", StringComparison.Ordinal) && System.Text.RegularExpressions.Regex.IsMatch(usage, @"receive \[-[A-Za-z]*u")));
        Assert.That(driver.Features.Holds, Is.EqualTo(usage.Contains("\thold ", StringComparison.Ordinal)));
        Assert.That(driver.Features.Zvols, Is.EqualTo(Directory.Exists("/sys/module/zfs")));
        Assert.That(driver.Features, Is.EqualTo(ZfsFeatures.FromUsage(usage, Directory.Exists("/sys/module/zfs"))));
    }

    private static string UsageOfInstalledZfs()
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("zfs") { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return output.Result + "\n" + error;
    }
}
