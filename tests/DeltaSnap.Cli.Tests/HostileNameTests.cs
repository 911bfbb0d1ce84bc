using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// Names checked before anything else: ≥ 200 hostile names through <c>deltasnap snapshot list</c> (volume, pool and
/// path names) and <c>snapshot create</c> (lvol snapshot names), on every scheme. Each is a usage error (exit 2) naming
/// the rule, without a raw .NET message; for rbd, <c>CEPH_CONF</c> points at a file that does not exist, so a name that
/// got as far as a connection attempt would fail with a connection error instead of the rule.
/// </summary>
[NonParallelizable]
public sealed class HostileNameTests
{
    private static readonly string[] RulePhrases =
    [
        "control character", "format character", "line separator", "lone surrogate", "starts with '-'", "path traversal",
        "forbidden character", "longer than", "empty path component", "is empty", "expected rbd:POOL/IMAGE",
    ];

    /// <summary>Hostile names, each distinct: format and control characters, leading '-', '..', separators, lengths.</summary>
    public static IReadOnlyList<string> HostileNames()
    {
        var names = new List<string>();
        char[] format = ['\u202E', '\u202D', '\u202A', '\u202B', '\u202C', '\u200E', '\u200F', '\u2066', '\u2067', '\u2068', '\u2069', '\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u061C', '\u00AD'];
        foreach (var c in format)
        {
            names.Add($"{c}vm");
            names.Add($"v{c}m");
            names.Add($"vm{c}");
        }
        for (var c = 1; c < 0x20; c++)
        {
            names.Add($"v{(char)c}m");
            names.Add($"{(char)c}vm");
            names.Add($"vm{(char)c}");
        }
        names.AddRange(["v\u007Fm", "v\u0085m", "v\u009Bm", "vm\u2028", "\u2029vm", "v\uD800m", "vm\uDC00"]);
        names.AddRange(["-x", "--help", "-rf", "--", "-", "-v", "--pool=x", "-1", "-\u202Evm", "--version", "-o", "-ttoken"]);
        names.AddRange(["..", ".", "../etc", "./vm", "a/../b", "a/..", "../../root", "a/./b"]);
        foreach (var c in "@#\\\"'`$;|&<>*?[]{}()!~ \t")
        {
            names.Add($"v{c}m");
        }
        names.AddRange(["vm@snap", "vm#x", "a//b", "/vm", "vm/", "a\\b"]);
        names.AddRange([new string('a', 256), new string('b', 300), new string('c', 1000), new string('d', 4097)]);
        return names.Distinct(StringComparer.Ordinal).ToList();
    }

    private static void AssertRefused(ToolResult result, string what)
    {
        Assert.That(result.ExitCode, Is.EqualTo(2), $"{what}: {result}");
        Assert.That(RulePhrases.Any(p => result.Error.Contains(p, StringComparison.Ordinal)), Is.True, $"{what}: the message names the rule: {result.Error}");
        Assert.That(result.Error, Does.Not.Contain("(Parameter '").And.Not.Contain("Exception").And.Not.Contain("Specified argument"), $"{what}: no raw .NET message");
    }

    [Test]
    public void HostileNames_atLeastTwoHundredDistinct()
    {
        Assert.That(HostileNames(), Has.Count.GreaterThanOrEqualTo(200));
    }

    [TestCase("lvol")]
    [TestCase("zfs")]
    [TestCase("btrfs")]
    [TestCase("rbd")]
    public async Task VolumeNames_everyHostileNameRefusedAsUsageErrorNamingTheRule_beforeAnyBackend(string scheme)
    {
        using var dir = new TempDirectory();
        var store = scheme == "lvol" ? await new LvolFixture(dir).CreateStoreAsync("store") : "";
        var previous = Environment.GetEnvironmentVariable("CEPH_CONF");
        Environment.SetEnvironmentVariable("CEPH_CONF", Path.Combine(dir.Path, "missing-ceph.conf"));
        var failures = new List<string>();
        var names = HostileNames();
        try
        {
            // '#' separates an lvol address's store from its volume: the address parser, not the name rules, owns it.
            foreach (var name in names.Where(n => scheme != "lvol" || !n.Contains('#', StringComparison.Ordinal)))
            {
                List<string> addresses = scheme switch
                {
                    "lvol" => [$"lvol:{store}#{name}"],
                    "zfs" => [$"zfs:pool/{name}"],
                    "btrfs" => [$"btrfs:/mnt/deltasnap-none/{name}"],
                    _ => [$"rbd:pool/{name}", $"rbd:{name}/image"],
                };
                foreach (var address in addresses)
                {
                    var result = await DeltaSnapTool.RunAsync("snapshot", "list", address);
                    try
                    {
                        AssertRefused(result, address);
                    }
                    catch (AssertionException e)
                    {
                        failures.Add(e.Message);
                    }
                }
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("CEPH_CONF", previous);
        }
        await TestContext.Out.WriteLineAsync($"{scheme}: {names.Count} hostile names, {failures.Count} got further than the name rules");
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public async Task LvolSnapshotNames_everyHostileNameRefusedAsUsageErrorNamingTheRule()
    {
        using var dir = new TempDirectory();
        var store = await new LvolFixture(dir).CreateStoreAsync("store");
        var volume = await LvolFixture.CreateVolumeAsync(store, "vm1");
        var failures = new List<string>();
        foreach (var name in HostileNames().Where(n => !n.StartsWith('-')))
        {
            // Names starting with '-' are options to the parser; "--" then the name is how a user would pass one.
            var result = await DeltaSnapTool.RunAsync("snapshot", "create", volume, "--", name);
            try
            {
                AssertRefused(result, name);
            }
            catch (AssertionException e)
            {
                failures.Add(e.Message);
            }
        }
        foreach (var name in HostileNames().Where(n => n.StartsWith('-')))
        {
            var result = await DeltaSnapTool.RunAsync("snapshot", "create", volume, "--", name);
            try
            {
                AssertRefused(result, name);
            }
            catch (AssertionException e)
            {
                failures.Add(e.Message);
            }
        }
        Assert.That(failures, Is.Empty);
        var list = await LvolFixture.RunOkAsync("snapshot", "list", volume);
        Assert.That(list.Out.Trim(), Is.Empty.Or.Not.Contain("vm1@"), "no snapshot was created");
    }
}
