using System.Diagnostics;
using DeltaSnap.Cli.Tests.Support;
using DeltaSnap.Testing;

namespace DeltaSnap.Cli.Tests;

/// <summary><c>refresh --zfs-base-protection hold|none</c> on real zfs-fuse pools: holds where asked, none where not.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ZfsBaseProtectionCommandTests
{
    private const string Tag = "deltasnap-base";
    private string _poolA = "";
    private string _poolB = "";
    private readonly List<string> _datasets = [];

    [SetUp]
    public void SetUp()
    {
        BackendRequirement.RequireProgram("zfs");
        _poolA = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_A", "a zfs-fuse pool");
        _poolB = BackendRequirement.RequireEnvironment("DELTASNAP_ZFS_POOL_B", "a second zfs-fuse pool");
    }

    [TearDown]
    public void TearDown()
    {
        foreach (var dataset in _datasets)
        {
            foreach (var line in Zfs("list", "-H", "-t", "snapshot", "-o", "name", "-r", dataset).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                Zfs("release", Tag, line);
            }
            Zfs("destroy", "-r", dataset);
        }
        _datasets.Clear();
    }

    [TestCase(null, true)]
    [TestCase("hold", true)]
    [TestCase("none", false)]
    public async Task Refresh_holdsTheCommonBaseOnBothSides_onlyWhenAsked(string? protection, bool held)
    {
        var id = "prot" + Guid.NewGuid().ToString("N")[..8];
        var source = $"{_poolA}/{id}";
        var target = $"{_poolB}/{id}";
        _datasets.AddRange([source, target]);
        Zfs("create", source);
        await File.WriteAllTextAsync(Path.Combine(Zfs("get", "-H", "-o", "value", "mountpoint", source).Trim(), "a.txt"), "one");
        Zfs("snapshot", source + "@s1");
        string[] args = protection is null
            ? ["refresh", "zfs:" + source, "zfs:" + target, "--snapshots-only", "--quiet"]
            : ["refresh", "zfs:" + source, "zfs:" + target, "--snapshots-only", "--quiet", "--zfs-base-protection", protection];
        var first = await DeltaSnapTool.RunAsync(args);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Zfs("snapshot", source + "@s2");
        var second = await DeltaSnapTool.RunAsync(args);
        Assert.That(second.ExitCode, Is.Zero, second.ToString());

        Assert.Multiple(() =>
        {
            // Hold: the target holds its newest received snapshot; the source the base and the snapshot it sent.
            Assert.That(Holds(target), Is.EqualTo(held ? new[] { "s2" } : []), "target");
            Assert.That(Holds(source), Is.EqualTo(held ? new[] { "s1", "s2" } : []), "source");
            Assert.That(Zfs("list", "-H", "-t", "snapshot", "-o", "name", "-r", target), Does.Contain(target + "@s2"));
        });
    }

    [Test]
    public async Task Refresh_unknownProtection_isAUsageErrorBeforeAnyBackend()
    {
        var result = await DeltaSnapTool.RunAsync("refresh", "zfs:pool/a", "zfs:pool/b", "--zfs-base-protection", "bookmark");
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.Error, Does.Contain("--zfs-base-protection must be hold or none, not 'bookmark'"));
        });
    }

    /// <summary>The snapshots of <paramref name="dataset"/> that carry a hold (zfs-fuse's <c>zfs holds</c> is broken: its userrefs count), by name.</summary>
    private static string[] Holds(string dataset) =>
        Zfs("get", "-H", "-p", "-r", "-d", "1", "-o", "name,value", "userrefs", dataset).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Where(fields => fields[0].Contains('@', StringComparison.Ordinal) && fields[1] != "0" && fields[1] != "-")
            .Select(fields => fields[0][(fields[0].IndexOf('@', StringComparison.Ordinal) + 1)..])
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static string Zfs(params string[] args)
    {
        var info = new ProcessStartInfo("zfs") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
