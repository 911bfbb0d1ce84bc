using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary><c>deltasnap refresh</c> between two <c>dir:</c> volumes: the rsync route, end to end through the tool.</summary>
public sealed class RsyncRouteCommandTests
{
    [Test]
    public async Task Refresh_dirToDir_takesTheRsyncRouteAndCopiesSnapshotsAndLiveTree()
    {
        var root = Path.Combine(Path.GetTempPath(), "cli-rsync-" + Guid.NewGuid().ToString("N")[..10]);
        var source = Path.Combine(root, "src");
        var target = Path.Combine(root, "dst");
        Directory.CreateDirectory(Path.Combine(source, "sub"));
        Directory.CreateDirectory(target);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(source, "sub", "a.txt"), "first");
            await LvolFixture.RunOkAsync("snapshot", "create", "dir:" + source, "s1");
            await File.WriteAllTextAsync(Path.Combine(source, "sub", "a.txt"), "live");

            var result = await LvolFixture.RunJsonAsync("refresh", "dir:" + source, "dir:" + target);

            Assert.That(result.GetProperty("route").GetString(), Is.EqualTo("rsync"));
            Assert.That(result.GetProperty("snapshots").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "s1" }));
            Assert.That(await File.ReadAllTextAsync(Path.Combine(target, "sub", "a.txt")), Is.EqualTo("live"));
            Assert.That(await File.ReadAllTextAsync(Path.Combine(root, ".dst.deltasnap", "snapshots", "s1", "sub", "a.txt")), Is.EqualTo("first"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
