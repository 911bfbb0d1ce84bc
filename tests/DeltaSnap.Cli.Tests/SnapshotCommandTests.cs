using System.Globalization;
using System.Text.RegularExpressions;
using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary><c>deltasnap snapshot create|list|delete</c>, end to end on lvol stores in a temporary directory.</summary>
public partial class SnapshotCommandTests
{
    private TempDirectory _dir = null!;
    private LvolFixture _lvol = null!;
    private string _store = null!;
    private string _volume = null!;

    [SetUp]
    public async Task SetUp()
    {
        _dir = new TempDirectory();
        _lvol = new LvolFixture(_dir);
        _store = await _lvol.CreateStoreAsync("store");
        _volume = await LvolFixture.CreateVolumeAsync(_store, "vm1");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public async Task CreateListDelete_text_printsEachSnapshotAndKeepsTheOthersData()
    {
        var first = LvolFixture.RandomBytes(128 * 1024, 1);
        var second = LvolFixture.RandomBytes(128 * 1024, 2);
        await _lvol.WriteAsync(_store, "vm1", 0, first);
        var created1 = await LvolFixture.RunOkAsync("snapshot", "create", _volume, "s1");
        await _lvol.WriteAsync(_store, "vm1", 64 * 1024, second);
        var created2 = await LvolFixture.RunOkAsync("snapshot", "create", _volume, "s2");

        var identity1 = CreatedLine().Match(created1.Out);
        var identity2 = CreatedLine().Match(created2.Out);
        Assert.That(identity1.Success, Is.True, created1.Out);
        Assert.That(identity1.Groups["address"].Value, Is.EqualTo(_volume + "@s1"));
        Assert.That(identity2.Groups["address"].Value, Is.EqualTo(_volume + "@s2"));
        Assert.That(identity1.Groups["identity"].Value, Is.Not.EqualTo(identity2.Groups["identity"].Value));

        var list = await LvolFixture.RunOkAsync("snapshot", "list", _volume);
        var rows = list.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToArray();
        Assert.That(rows.Select(r => r[0]), Is.EqualTo(new[] { "s1", "s2" }), "oldest first");
        Assert.That(rows.Select(r => r[1]), Is.EqualTo(new[] { identity1.Groups["identity"].Value, identity2.Groups["identity"].Value }));
        foreach (var row in rows)
        {
            var created = DateTimeOffset.ParseExact(row[2], "yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            Assert.That(created, Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(10)));
        }

        var deleted = await LvolFixture.RunOkAsync("snapshot", "delete", _volume, "s1");
        Assert.That(deleted.Out, Is.EqualTo($"deleted {_volume}@s1\n"));
        Assert.That((await LvolFixture.SnapshotsAsync(_volume)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "s2" }));

        var expected = new byte[LvolFixture.VolumeSize];
        first.CopyTo(expected, 0);
        second.CopyTo(expected, 64 * 1024);
        Assert.That(await _lvol.ReadAsync(_store, "vm1@s2"), Bytes.EqualTo(expected), "s2 reads as before s1 was deleted under it");
        Assert.That(await _lvol.ReadAsync(_store, "vm1"), Bytes.EqualTo(expected));
    }

    [Test]
    public async Task List_json_givesNameIdentityAndCreationTimeOldestFirst()
    {
        await LvolFixture.RunOkAsync("snapshot", "create", _volume, "a");
        await LvolFixture.RunOkAsync("snapshot", "create", _volume, "b");

        var entries = await LvolFixture.SnapshotsAsync(_volume);

        Assert.That(entries.Select(e => e.GetProperty("name").GetString()), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(entries.Select(e => e.GetProperty("identity").GetString()), Has.All.StartWith("lvol-uuid:"));
        Assert.That(entries.Select(e => e.TryGetProperty("receivedFrom", out _)), Has.All.False, "local snapshots were not received");
        Assert.That(entries.Select(e => e.GetProperty("created").GetString()), Has.All.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"));
    }

    [Test]
    public async Task List_noSnapshots_printsNothingOrAnEmptyArray()
    {
        var text = await LvolFixture.RunOkAsync("snapshot", "list", _volume);
        var json = await LvolFixture.RunJsonAsync("snapshot", "list", _volume);

        Assert.That(text.Out, Is.Empty);
        Assert.That(json.GetArrayLength(), Is.Zero);
    }

    [TestCase("../escape")]
    [TestCase("a/b")]
    [TestCase("a@b")]
    [TestCase("a#b")]
    [TestCase("tab\there")]
    [TestCase("-rf")]
    [TestCase("")]
    public async Task Create_hostileName_isUsageErrorAndCreatesNothing(string name)
    {
        var result = await DeltaSnapTool.RunAsync("snapshot", "create", _volume, name);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        AssertOneErrorLine(result);
        Assert.That(await LvolFixture.SnapshotsAsync(_volume), Is.Empty);
        Assert.That((await LvolFixture.RunOkAsync("lvol", "fsck", _store)).Out, Does.Contain("consistent"));
    }

    [Test]
    public async Task Create_nameTaken_failsWithExitOneAndKeepsTheFirst()
    {
        await LvolFixture.RunOkAsync("snapshot", "create", _volume, "s1");
        var before = await LvolFixture.SnapshotsAsync(_volume);

        var result = await DeltaSnapTool.RunAsync("snapshot", "create", _volume, "s1");

        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        AssertOneErrorLine(result);
        Assert.That(result.Error, Does.Contain("s1"));
        var after = await LvolFixture.SnapshotsAsync(_volume);
        Assert.That(after.Select(s => s.GetProperty("identity").GetString()), Is.EqualTo(before.Select(s => s.GetProperty("identity").GetString())));
    }

    [Test]
    public async Task Delete_missingSnapshot_failsWithExitOneNamingIt()
    {
        await LvolFixture.RunOkAsync("snapshot", "create", _volume, "s1");

        var result = await DeltaSnapTool.RunAsync("snapshot", "delete", _volume, "nope");

        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        AssertOneErrorLine(result);
        Assert.That(result.Error, Does.Contain("no snapshot named 'nope'"));
        Assert.That((await LvolFixture.SnapshotsAsync(_volume)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task Delete_hostileName_isUsageError()
    {
        var result = await DeltaSnapTool.RunAsync("snapshot", "delete", _volume, "../vm1");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        AssertOneErrorLine(result);
        Assert.That(result.Error, Does.Contain("The snapshot name '../vm1' holds the forbidden character '/'."));
    }

    // Malformed addresses are usage errors (2); well-formed ones naming nothing are operational failures (1).
    [TestCase("lvol:{store}", 2, "expected lvol:STORE#VOLUME")]
    [TestCase("lvol:{store}#", 2, "expected lvol:STORE#VOLUME")]
    [TestCase("{store}#vm1", 2, "is not a volume address")]
    [TestCase("nfs:server/vm1", 2, "unknown scheme 'nfs'")]
    [TestCase("file:{store}.absent", 1, "There is no image file")]
    [TestCase("lvol:{store}#../vm1", 2, "The volume name '../vm1' holds the forbidden character '/'.")]
    [TestCase("lvol:{store}#-vm1", 2, "starts with '-'")]
    [TestCase("lvol:{store}#nope", 1, "no volume named 'nope'")]
    [TestCase("lvol:{missing}#vm1", 1, "missing.lvs")]
    public async Task AnyCommand_badVolumeAddress_failsWithOneClearLine(string template, int exitCode, string message)
    {
        var address = template.Replace("{store}", _store, StringComparison.Ordinal).Replace("{missing}", _dir.File("missing.lvs"), StringComparison.Ordinal);

        foreach (var args in new[]
        {
            new[] { "snapshot", "list", address },
            ["snapshot", "create", address, "s1"],
            ["snapshot", "delete", address, "s1"],
        })
        {
            var result = await DeltaSnapTool.RunAsync(args);
            Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());
            AssertOneErrorLine(result);
            Assert.That(result.Error, Does.Contain(message));
        }
        Assert.That(await LvolFixture.SnapshotsAsync(_volume), Is.Empty);
    }

    /// <summary>One line on standard error, from the tool, naming no .NET type and holding no stack trace; nothing on standard output.</summary>
    internal static void AssertOneErrorLine(ToolResult result)
    {
        Assert.That(result.Out, Is.Empty, result.ToString());
        Assert.That(result.Error, Does.StartWith("deltasnap: ").And.Not.Contain("   at ").And.Not.Contain("Exception)").And.Not.Contain("(Parameter '"),
            result.ToString());
        Assert.That(result.Error.TrimEnd('\n'), Does.Not.Contain('\n'), result.ToString());
    }

    [GeneratedRegex(@"^created (?<address>\S+) \((?<identity>lvol-uuid:[0-9a-f-]{36})\)\n$")]
    private static partial Regex CreatedLine();
}
