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

    [Test]
    public async Task Refresh_dirToDir_progress_synchronizingLinesMove()
    {
        var root = Path.Combine(Path.GetTempPath(), "cli-rsync-" + Guid.NewGuid().ToString("N")[..10]);
        var source = Path.Combine(root, "src");
        var target = Path.Combine(root, "dst");
        Directory.CreateDirectory(source);
        Directory.CreateDirectory(target);
        try
        {
            // Eight files: rsync reports its progress at least at the end of each.
            for (var i = 0; i < 8; i++)
            {
                await File.WriteAllBytesAsync(Path.Combine(source, $"f{i}.bin"), LvolFixture.RandomBytes(8 << 20, i));
            }
            await LvolFixture.RunOkAsync("snapshot", "create", "dir:" + source, "s1");

            var result = await DeltaSnapTool.RunAsync("refresh", "dir:" + source, "dir:" + target, "--progress", "--progress-interval", "0.01");

            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(result.Out, Does.Contain("route rsync"));
            var counts = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^\d+:\d\d:\d\d synchronizing s1: (?<done>[\d.]+ [KMG]?i?B), "))
                .Where(m => m.Success)
                .Select(m => m.Groups["done"].Value)
                .ToList();
            Assert.That(counts.Distinct().Count(), Is.GreaterThanOrEqualTo(3), "rsync's own progress, read as it runs:\n" + result.Error);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
