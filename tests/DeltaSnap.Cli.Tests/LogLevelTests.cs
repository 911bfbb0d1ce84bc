using System.Text.Json;
using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary><c>--log-level</c>: the library's log messages as lines on standard error, never on standard output.</summary>
public class LogLevelTests : LvolPairTests
{
    [SetUp]
    public async Task SetUp()
    {
        await Lvol.WriteAsync(SourceStore, "vm1", 0, LvolFixture.RandomBytes(64 * 1024, 1));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
    }

    [Test]
    public async Task Refresh_logLevelDebug_writesLogLinesToStandardErrorAndNoneToStandardOutput()
    {
        var result = await DeltaSnapTool.RunAsync("refresh", Source, Target, "--json", "--log-level", "debug");

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Is.Not.Empty, result.ToString());
        Assert.That(lines, Has.All.Match(@"^deltasnap: (trace|debug|information|warning|error|critical): \w+\[\d+\]: "), result.Error);
        Assert.That(lines, Has.Some.Contain("debug: Replicator[1106]: Planned refresh of " + Target));
        Assert.That(lines, Has.Some.Contain("information: Replicator[1101]: Refreshed " + Target));
        Assert.That(lines, Has.Some.Contain("debug: VolumeBackend[1031]: Opening lvol volume " + Source));
        using var json = JsonDocument.Parse(result.Out); // standard output is the JSON report alone
        Assert.That(json.RootElement.GetProperty("route").GetString(), Is.EqualTo("nativeStream"));
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync()));
    }

    [Test]
    public async Task Refresh_logLevelInformationBeforeTheCommand_showsInformationButNotDebug()
    {
        var result = await DeltaSnapTool.RunAsync("--log-level", "Information", "refresh", Source, Target);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Error, Does.Contain("deltasnap: information: Replicator[1100]: Refreshing " + Target));
        Assert.That(result.Error, Does.Not.Contain("debug:"));
        Assert.That(result.Out, Does.Not.Contain("information:"));
    }

    [Test]
    public async Task Refresh_withoutLogLevel_writesNothingToStandardError()
    {
        var result = await DeltaSnapTool.RunAsync("refresh", Source, Target);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Error, Is.Empty);
    }

    [Test]
    public async Task AnyCommand_unknownLogLevel_isAUsageError()
    {
        var result = await DeltaSnapTool.RunAsync("snapshot", "list", Source, "--log-level", "loud");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        SnapshotCommandTests.AssertOneErrorLine(result);
        Assert.That(result.Error, Does.Contain("Unknown log level 'loud': use one of trace, debug, information, warning, error, critical, none."));
    }
}
