using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary><c>deltasnap plan</c>, end to end between lvol stores in a temporary directory: what a refresh would do, changing nothing.</summary>
public class PlanCommandTests : LvolPairTests
{
    [SetUp]
    public async Task SetUp()
    {
        await Lvol.WriteAsync(SourceStore, "vm1", 0, LvolFixture.RandomBytes(256 * 1024, 1));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s2");
        // The live state moves on after s2, so a refresh sends it too (an unchanged one would need no temporary snapshot).
        await Lvol.WriteAsync(SourceStore, "vm1", 0, LvolFixture.RandomBytes(4096, 2));
    }

    [Test]
    public async Task Plan_emptyTarget_text_fullSendOfEverySnapshotAndTheLiveState()
    {
        var result = await LvolFixture.RunOkAsync("plan", Source, Target);

        Assert.That(result.Out, Is.EqualTo(
            $"refresh {Target} from {Source}\n" +
            "kind:     full, by the nativeStream route\n" +
            "base:     (none: full send)\n" +
            "send:     s1 s2 + live state\n"));
        Assert.That(result.Error, Is.Empty);
    }

    [Test]
    public async Task Plan_emptyTarget_json_fullSendAndChangesNothing()
    {
        var sourceBefore = await LvolFixture.SnapshotsAsync(Source);
        var targetBefore = await TargetBytesAsync();

        var plan = await LvolFixture.RunJsonAsync("plan", Source, Target);

        Assert.That(plan.GetProperty("source").GetString(), Is.EqualTo(Source));
        Assert.That(plan.GetProperty("target").GetString(), Is.EqualTo(Target));
        Assert.That(plan.TryGetProperty("refused", out _), Is.False);
        Assert.That(plan.GetProperty("kind").GetString(), Is.EqualTo("full"));
        Assert.That(plan.GetProperty("route").GetString(), Is.EqualTo("nativeStream"));
        Assert.That(plan.TryGetProperty("base", out _), Is.False, "a full send has no base");
        Assert.That(Names(plan, "send"), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(Names(plan, "deleteOnTarget"), Is.Empty);
        Assert.That(plan.GetProperty("rollBack").GetBoolean(), Is.False);
        Assert.That(plan.GetProperty("liveState").GetBoolean(), Is.True);
        Assert.That(Names(plan, "leftovers"), Is.Empty);

        Assert.That(await LvolFixture.SnapshotsAsync(Target), Is.Empty, "a plan sends nothing");
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(targetBefore));
        Assert.That((await LvolFixture.SnapshotsAsync(Source)).Select(s => s.GetProperty("identity").GetString()),
            Is.EqualTo(sourceBefore.Select(s => s.GetProperty("identity").GetString())), "no temporary snapshot was taken");
    }

    [Test]
    public async Task Plan_afterARefresh_incrementalFromTheNewestCommonSnapshot()
    {
        await LvolFixture.RunOkAsync("refresh", Source, Target);
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s3");

        var plan = await LvolFixture.RunJsonAsync("plan", Source, Target);
        var text = await LvolFixture.RunOkAsync("plan", Source, Target);

        Assert.That(plan.GetProperty("kind").GetString(), Is.EqualTo("incremental"));
        Assert.That(plan.GetProperty("base").GetString(), Is.EqualTo("s2"));
        Assert.That(Names(plan, "send"), Is.EqualTo(new[] { "s3" }));
        // The live state equals s3, and the lvol store can tell: s3 is sent and promoted, no temporary snapshot is taken.
        Assert.That(text.Out, Does.Contain("base:     s2\n").And.Contain("send:     s3\n"));
        Assert.That(plan.GetProperty("liveState").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Plan_targetHasOnlyItsOwnSnapshots_refusedWithExitOne()
    {
        await LvolFixture.RunOkAsync("snapshot", "create", Target, "own");

        var text = await DeltaSnapTool.RunAsync("plan", Source, Target);
        var json = await DeltaSnapTool.RunAsync("plan", Source, Target, "--json");

        Assert.That(text.ExitCode, Is.EqualTo(1), text.ToString());
        Assert.That(text.Out, Does.StartWith($"refresh {Target} from {Source}\nrefused: ").And.Contain("share none"));
        Assert.That(json.ExitCode, Is.EqualTo(1), json.ToString());
        using var report = System.Text.Json.JsonDocument.Parse(json.Out);
        Assert.That(report.RootElement.GetProperty("refused").GetString(), Does.Contain("share none"));
        Assert.That(report.RootElement.TryGetProperty("kind", out _), Is.False);
        Assert.That((await LvolFixture.SnapshotsAsync(Target)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "own" }));
    }

    [Test]
    public async Task Plan_refusedButFullResendAllowed_deletesTheTargetsSnapshots()
    {
        await LvolFixture.RunOkAsync("snapshot", "create", Target, "own");

        var plan = await LvolFixture.RunJsonAsync("plan", Source, Target, "--allow-full-resend");

        Assert.That(plan.GetProperty("kind").GetString(), Is.EqualTo("full"));
        Assert.That(Names(plan, "deleteOnTarget"), Is.EqualTo(new[] { "own" }));
        Assert.That((await LvolFixture.SnapshotsAsync(Target)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "own" }), "only planned");
    }

    [Test]
    public async Task Plan_snapshotsOnly_sendsNoLiveStateAsTheSameRefreshWouldNot()
    {
        var plan = await LvolFixture.RunJsonAsync("plan", Source, Target, "--snapshots-only");

        Assert.That(Names(plan, "send"), Is.EqualTo(new[] { "s1", "s2" }));
        Assert.That(plan.GetProperty("liveState").GetBoolean(), Is.False);

        var refresh = await LvolFixture.RunJsonAsync("refresh", Source, Target, "--snapshots-only");
        Assert.That(refresh.GetProperty("snapshots").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(Names(plan, "send")));
        Assert.That(refresh.GetProperty("liveStateSent").GetBoolean(), Is.EqualTo(plan.GetProperty("liveState").GetBoolean()));
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

    private static string?[] Names(System.Text.Json.JsonElement report, string property) =>
        [.. report.GetProperty(property).EnumerateArray().Select(e => e.GetString())];
}
