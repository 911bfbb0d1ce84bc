using System.Text.RegularExpressions;
using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// <c>deltasnap refresh</c>, end to end between two lvol stores in a temporary directory: the target's bytes are
/// compared with the source's after every refresh, and the summary's byte counts with what changed.
/// </summary>
public partial class RefreshCommandTests : LvolPairTests
{
    private const int KiB = 1024;

    [SetUp]
    public async Task SetUp()
    {
        // 1.5 MiB of data with a hole between its two parts.
        await Lvol.WriteAsync(SourceStore, "vm1", 0, LvolFixture.RandomBytes(1024 * KiB, 1));
        await Lvol.WriteAsync(SourceStore, "vm1", 2048 * KiB, LvolFixture.RandomBytes(512 * KiB, 2));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
    }

    [Test]
    public async Task Refresh_json_fullThenIncremental_targetEqualsSourceAndTheSecondMovesOnlyTheChange()
    {
        var first = await LvolFixture.RunJsonAsync("refresh", Source, Target);

        Assert.That(first.GetProperty("route").GetString(), Is.EqualTo("nativeStream"));
        Assert.That(first.GetProperty("kind").GetString(), Is.EqualTo("full"));
        Assert.That(first.GetProperty("snapshotsSent").GetInt32(), Is.EqualTo(1));
        Assert.That(first.GetProperty("snapshots").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "s1" }));
        Assert.That(first.GetProperty("liveStateSent").GetBoolean(), Is.False, "the live state equals s1: s1 is promoted, no temporary snapshot");
        Assert.That(first.GetProperty("bytesSent").GetInt64(), Is.GreaterThanOrEqualTo(1536L * KiB), "all the data crossed");
        Assert.That(first.GetProperty("bytesWritten").GetInt64(), Is.GreaterThanOrEqualTo(1536L * KiB));
        Assert.That(first.GetProperty("seconds").GetDouble(), Is.GreaterThanOrEqualTo(0));
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync()));
        Assert.That(await TargetBytesAsync("s1"), Bytes.EqualTo(await SourceBytesAsync("s1")));

        // A small change: one 4 KiB block, inside data that is already there.
        await Lvol.WriteAsync(SourceStore, "vm1", 300 * KiB, LvolFixture.RandomBytes(4 * KiB, 3));
        Assert.That(await TargetBytesAsync(), Bytes.NotEqualTo(await SourceBytesAsync()), "the change is not on the target yet");

        var second = await LvolFixture.RunJsonAsync("refresh", Source, Target);

        Assert.That(second.GetProperty("kind").GetString(), Is.EqualTo("incremental"));
        Assert.That(second.GetProperty("snapshotsSent").GetInt32(), Is.Zero);
        Assert.That(second.GetProperty("liveStateSent").GetBoolean(), Is.True);
        Assert.That(second.GetProperty("bytesSent").GetInt64(), Is.InRange(4L * KiB, 8L * KiB), "the changed block and the stream's framing");
        Assert.That(second.GetProperty("bytesWritten").GetInt64(), Is.InRange(4L * KiB, 8L * KiB));
        Assert.That(second.GetProperty("bytesSent").GetInt64(), Is.LessThan(first.GetProperty("bytesSent").GetInt64() / 100));
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync()));
    }

    [Test]
    public async Task Refresh_verifyWhole_checksumRouteReadsBothWholeVolumesAfterTheCopy()
    {
        var plain = await LvolFixture.RunJsonAsync("refresh", Source, Target, "--no-native");
        await Lvol.WriteAsync(SourceStore, "vm1", 300 * KiB, LvolFixture.RandomBytes(4 * KiB, 3));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s2");

        var verified = await LvolFixture.RunJsonAsync("refresh", Source, Target, "--no-native", "--verify-whole");

        var size = (await SourceBytesAsync()).Length;
        Assert.That(plain.GetProperty("route").GetString(), Is.EqualTo("checksum"));
        Assert.That(verified.GetProperty("route").GetString(), Is.EqualTo("checksum"));
        // One transfer (the live state equals s2), then both whole volumes read; without the option only what was copied.
        Assert.That(verified.GetProperty("bytesRead").GetInt64(), Is.GreaterThanOrEqualTo(2L * size), "both volumes read whole after the transfer");
        Assert.That(verified.GetProperty("bytesWritten").GetInt64(), Is.LessThan(64L * KiB), "only the change was written");
        Assert.That(await TargetBytesAsync("s2"), Bytes.EqualTo(await SourceBytesAsync("s2")));
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync()));
    }

    [Test]
    public async Task Refresh_text_printsTheSummary()
    {
        var result = await LvolFixture.RunOkAsync("refresh", Source, Target);

        var lines = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(4), result.Out);
        Assert.That(lines[0], Is.EqualTo($"refreshed {Target} from {Source}: full, route nativeStream"));
        Assert.That(lines[1], Is.EqualTo("snapshots sent: 1 (s1)"), "the live state equals s1: nothing more to send");
        var bytes = BytesLine().Match(lines[2]);
        Assert.That(bytes.Success, Is.True, lines[2]);
        Assert.That(bytes.Groups["sent"].Value, Is.EqualTo("1.5 MiB"), "human-readable: the 1.5 MiB of data and a little framing");
        Assert.That(lines[3], Does.Match(@"^seconds: \d+\.\d{3}$"));
        Assert.That(result.Error, Is.Empty, "no progress bar when standard error is not a terminal");
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync()));
    }

    [Test]
    public async Task Refresh_liveWritesAndNewSnapshots_reachTheTargetWithTheirLineage()
    {
        await LvolFixture.RunOkAsync("refresh", Source, Target);
        await Lvol.WriteAsync(SourceStore, "vm1", 3072 * KiB, LvolFixture.RandomBytes(64 * KiB, 4));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s2");
        await Lvol.WriteAsync(SourceStore, "vm1", 3500 * KiB, LvolFixture.RandomBytes(8 * KiB, 5));

        var report = await LvolFixture.RunJsonAsync("refresh", Source, Target);

        Assert.That(report.GetProperty("snapshots").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "s2" }));
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync()));
        Assert.That(await TargetBytesAsync("s2"), Bytes.EqualTo(await SourceBytesAsync("s2")));
        var sourceSnapshots = await LvolFixture.SnapshotsAsync(Source);
        var targetSnapshots = await LvolFixture.SnapshotsAsync(Target);
        Assert.That(targetSnapshots.Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "s1", "s2" }), "no temporary snapshot left");
        Assert.That(sourceSnapshots.Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "s1", "s2" }), "no temporary snapshot left");
        Assert.That(targetSnapshots.Select(s => s.GetProperty("receivedFrom").GetString()),
            Is.EqualTo(sourceSnapshots.Select(s => s.GetProperty("identity").GetString())));
    }

    [Test]
    public async Task Refresh_snapshotsOnly_sendsTheSnapshotButNotTheLiveState()
    {
        await Lvol.WriteAsync(SourceStore, "vm1", 3072 * KiB, LvolFixture.RandomBytes(64 * KiB, 4));

        var report = await LvolFixture.RunJsonAsync("refresh", Source, Target, "--snapshots-only");

        Assert.That(report.GetProperty("liveStateSent").GetBoolean(), Is.False);
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync("s1")));
        Assert.That(await TargetBytesAsync(), Bytes.NotEqualTo(await SourceBytesAsync()));
    }

    [Test]
    public async Task Refresh_noCommonBase_refusedWithExitThreeAndTheTargetUntouched()
    {
        await Lvol.WriteAsync(TargetStore, "copy", 0, LvolFixture.RandomBytes(64 * KiB, 9));
        await LvolFixture.RunOkAsync("snapshot", "create", Target, "own");
        var before = await TargetBytesAsync();

        var result = await DeltaSnapTool.RunAsync("refresh", Source, Target);

        Assert.That(result.ExitCode, Is.EqualTo(3), result.ToString());
        SnapshotCommandTests.AssertOneErrorLine(result);
        Assert.That(result.Error, Does.Contain("share none"));
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(before));
        Assert.That((await LvolFixture.SnapshotsAsync(Target)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "own" }));

        var forced = await LvolFixture.RunJsonAsync("refresh", Source, Target, "--allow-full-resend");

        Assert.That(forced.GetProperty("kind").GetString(), Is.EqualTo("full"));
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync()));
        Assert.That((await LvolFixture.SnapshotsAsync(Target)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "s1" }));
    }

    [TestCase("lvol:{dir}/source.lvs#nope", "{target}", 1, "no volume named 'nope'")]
    [TestCase("lvol:{dir}/none.lvs#vm1", "{target}", 1, "none.lvs")]
    [TestCase("{source}", "lvol:{dir}/target.lvs#../copy", 2, "The volume name '../copy' holds the forbidden character '/'.")]
    [TestCase("lvol:{dir}/source.lvs#-vm1", "{target}", 2, "starts with '-'")]
    [TestCase("{source}", "lvol:{dir}/target.lvs", 2, "expected lvol:STORE#VOLUME")]
    [TestCase("{source}", "tank/copy", 2, "is not a volume address")]
    public async Task Refresh_badVolumeAddress_failsWithOneClearLineAndChangesNothing(string source, string target, int exitCode, string message)
    {
        var before = await TargetBytesAsync();

        var result = await DeltaSnapTool.RunAsync("refresh", Expand(source), Expand(target), "--json");

        Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());
        SnapshotCommandTests.AssertOneErrorLine(result);
        Assert.That(result.Error, Does.Contain(message));
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(before));
        Assert.That(await LvolFixture.SnapshotsAsync(Target), Is.Empty);
        Assert.That((await LvolFixture.SnapshotsAsync(Source)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "s1" }));
    }

    [GeneratedRegex(@"^bytes read: (?<read>[\d.]+ [KMGT]?i?B), sent: (?<sent>[\d.]+ [KMGT]?i?B), written: (?<written>[\d.]+ [KMGT]?i?B)$")]
    private static partial Regex BytesLine();
}

/// <summary><c>deltasnap refresh</c> into a target that does not exist yet: created like the source, or refused with <c>--no-create</c>.</summary>
public class RefreshCreatesTargetTests : LvolPairTests
{
    private const int KiB = 1024;

    [SetUp]
    public async Task SetUp()
    {
        await Lvol.WriteAsync(SourceStore, "vm1", 0, LvolFixture.RandomBytes(512 * KiB, 11));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
        await Lvol.WriteAsync(SourceStore, "vm1", 1024 * KiB, LvolFixture.RandomBytes(64 * KiB, 12));
    }

    [Test]
    public async Task Refresh_missingTargetVolume_createsItWithTheSourcesSizeAndContents()
    {
        var missing = $"lvol:{TargetStore}#fresh";

        var report = await LvolFixture.RunJsonAsync("refresh", Source, missing);

        Assert.That(report.GetProperty("kind").GetString(), Is.EqualTo("full"));
        Assert.That(await Lvol.ReadAsync(TargetStore, "fresh"), Bytes.EqualTo(await SourceBytesAsync()));
        Assert.That(await Lvol.ReadAsync(TargetStore, "fresh@s1"), Bytes.EqualTo(await SourceBytesAsync("s1")));
        Assert.That((await LvolFixture.SnapshotsAsync(missing)).Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "s1" }));
    }

    [Test]
    public async Task Refresh_missingTargetStore_createsTheStoreAndTheVolume()
    {
        var store = Path.Combine(Dir.Path, "new.lvs");
        Assert.That(File.Exists(store), Is.False);

        await LvolFixture.RunJsonAsync("refresh", Source, $"lvol:{store}#fresh");

        Assert.That(File.Exists(store), Is.True);
        Assert.That(await Lvol.ReadAsync(store, "fresh"), Bytes.EqualTo(await SourceBytesAsync()));
    }

    [Test]
    public async Task Refresh_noCreate_missingTarget_refusedWithExitTwoAndNothingCreated()
    {
        var store = Path.Combine(Dir.Path, "new.lvs");

        var missingVolume = await DeltaSnapTool.RunAsync("refresh", "--no-create", Source, $"lvol:{TargetStore}#fresh");
        var missingStore = await DeltaSnapTool.RunAsync("refresh", "--no-create", Source, $"lvol:{store}#fresh");

        Assert.That(missingVolume.ExitCode, Is.EqualTo(2), missingVolume.ToString());
        Assert.That(missingVolume.Error, Does.Contain("does not exist").And.Contain("--no-create"));
        Assert.That(missingStore.ExitCode, Is.EqualTo(2), missingStore.ToString());
        Assert.That(File.Exists(store), Is.False);
        var list = await LvolFixture.RunOkAsync("snapshot", "list", Target);
        Assert.That(list.ExitCode, Is.Zero);
        var fresh = await DeltaSnapTool.RunAsync("snapshot", "list", $"lvol:{TargetStore}#fresh");
        Assert.That(fresh.ExitCode, Is.EqualTo(1), "the volume was not created");
    }
}
