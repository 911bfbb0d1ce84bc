using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary><c>deltasnap plan</c>, end to end between lvol stores in a temporary directory: what a refresh would do, changing nothing.</summary>
public class PlanCommandTests
{
    private TempDirectory _dir = null!;
    private LvolFixture _lvol = null!;
    private string _sourceStore = null!;
    private string _targetStore = null!;
    private string _source = null!;
    private string _target = null!;

    [SetUp]
    public async Task SetUp()
    {
        _dir = new TempDirectory();
        _lvol = new LvolFixture(_dir);
        _sourceStore = await _lvol.CreateStoreAsync("source");
        _targetStore = await _lvol.CreateStoreAsync("target");
        _source = await LvolFixture.CreateVolumeAsync(_sourceStore, "vm1");
        _target = await LvolFixture.CreateVolumeAsync(_targetStore, "copy");
        await _lvol.WriteAsync(_sourceStore, "vm1", 0, LvolFixture.RandomBytes(256 * 1024, 1));
        await LvolFixture.RunOkAsync("snapshot", "create", _source, "s1");
        await LvolFixture.RunOkAsync("snapshot", "create", _source, "s2");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public async Task Plan_emptyTarget_text_fullSendOfEverySnapshotAndTheLiveState()
    {
        var result = await LvolFixture.RunOkAsync("plan", _source, _target);

        Assert.That(result.Out, Is.EqualTo(
            $"refresh {_target} from {_source}\n" +
            "kind:     full, by the nativeStream route\n" +
            "base:     (none: full send)\n" +
            "send:     s1 s2 + live state\n"));
        Assert.That(result.Error, Is.Empty);
    }

    [Test]
    public async Task Plan_emptyTarget_json_fullSendAndChangesNothing()
    {
        var sourceBefore = await LvolFixture.SnapshotsAsync(_source);
        var targetBefore = await _lvol.ReadAsync(_targetStore, "copy");

        var plan = await LvolFixture.RunJsonAsync("plan", _source, _target);

        Assert.That(plan.GetProperty("source").GetString(), Is.EqualTo(_source));
        Assert.That(plan.GetProperty("target").GetString(), Is.EqualTo(_target));
        Assert.That(plan.TryGetProperty("refused", out _), Is.False);
        Assert.That(plan.GetProperty("kind").GetString(), Is.EqualTo("full"));
        Assert.That(plan.GetProperty("route").GetString(), Is.EqualTo("nativeStream"));
        Assert.That(plan.TryGetProperty("base", out _), Is.False, "a full send has no base");
        Assert.That(Names(plan, "send"), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(Names(plan, "deleteOnTarget"), Is.Empty);
        Assert.That(plan.GetProperty("rollBack").GetBoolean(), Is.False);
        Assert.That(plan.GetProperty("liveState").GetBoolean(), Is.True);
        Assert.That(Names(plan, "leftovers"), Is.Empty);

        Assert.That(await LvolFixture.SnapshotsAsync(_target), Is.Empty, "a plan sends nothing");
        Assert.That(await _lvol.ReadAsync(_targetStore, "copy"), Is.EqualTo(targetBefore));
        Assert.That((await LvolFixture.SnapshotsAsync(_source)).Select(s => s.GetProperty("identity").GetString()),
            Is.EqualTo(sourceBefore.Select(s => s.GetProperty("identity").GetString())), "no temporary snapshot was taken");
    }

    [Test]
    public async Task Plan_afterARefresh_incrementalFromTheNewestCommonSnapshot()
    {
        await LvolFixture.RunOkAsync("refresh", _source, _target);
        await LvolFixture.RunOkAsync("snapshot", "create", _source, "s3");

        var plan = await LvolFixture.RunJsonAsync("plan", _source, _target);
        var text = await LvolFixture.RunOkAsync("plan", _source, _target);

        Assert.That(plan.GetProperty("kind").GetString(), Is.EqualTo("incremental"));
        Assert.That(plan.GetProperty("base").GetString(), Is.EqualTo("s2"));
        Assert.That(Names(plan, "send"), Is.EqualTo(new[] { "s3" }));
        Assert.That(text.Out, Does.Contain("base:     s2\n").And.Contain("send:     s3 + live state\n"));
    }

    [Test]
    public async Task Plan_targetHasOnlyItsOwnSnapshots_refusedWithExitOne()
    {
        await LvolFixture.RunOkAsync("snapshot", "create", _target, "own");

        var text = await DeltaSnapTool.RunAsync("plan", _source, _target);
        var json = await DeltaSnapTool.RunAsync("plan", _source, _target, "--json");

        Assert.That(text.ExitCode, Is.EqualTo(1), text.ToString());
        Assert.That(text.Out, Does.StartWith($"refresh {_target} from {_source}\nrefused: ").And.Contain("share none"));
        Assert.That(json.ExitCode, Is.EqualTo(1), json.ToString());
        using var report = System.Text.Json.JsonDocument.Parse(json.Out);
        Assert.That(report.RootElement.GetProperty("refused").GetString(), Does.Contain("share none"));
        Assert.That(report.RootElement.TryGetProperty("kind", out _), Is.False);
        Assert.That((await LvolFixture.SnapshotsAsync(_target)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "own" }));
    }

    [Test]
    public async Task Plan_refusedButFullResendAllowed_deletesTheTargetsSnapshots()
    {
        await LvolFixture.RunOkAsync("snapshot", "create", _target, "own");

        var plan = await LvolFixture.RunJsonAsync("plan", _source, _target, "--allow-full-resend");

        Assert.That(plan.GetProperty("kind").GetString(), Is.EqualTo("full"));
        Assert.That(Names(plan, "deleteOnTarget"), Is.EqualTo(new[] { "own" }));
        Assert.That((await LvolFixture.SnapshotsAsync(_target)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "own" }), "only planned");
    }

    [TestCase("lvol:{dir}/none.lvs#vm1", "{target}", 1)]
    [TestCase("{source}", "lvol:{dir}/target.lvs#nope", 1)]
    [TestCase("{source}", "lvol:{dir}/target.lvs#../copy", 2)]
    [TestCase("{source}", "target.lvs#copy", 2)]
    public async Task Plan_badVolumeAddress_failsWithOneClearLine(string source, string target, int exitCode)
    {
        var result = await DeltaSnapTool.RunAsync("plan", Expand(source), Expand(target));

        Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());
        SnapshotCommandTests.AssertOneErrorLine(result);
    }

    private string Expand(string template) => template
        .Replace("{dir}", _dir.Path, StringComparison.Ordinal)
        .Replace("{source}", _source, StringComparison.Ordinal)
        .Replace("{target}", _target, StringComparison.Ordinal);

    private static string?[] Names(System.Text.Json.JsonElement report, string property) =>
        [.. report.GetProperty(property).EnumerateArray().Select(e => e.GetString())];
}
