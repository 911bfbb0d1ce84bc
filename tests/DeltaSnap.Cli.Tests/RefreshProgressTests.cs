using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using DeltaSnap.Cli.Commands;
using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// What <c>refresh</c> prints on standard error while it runs, end to end between two lvol stores: plain progress lines
/// with <c>--progress</c> whose byte counts move during the transfer (native and checksum routes, in-process and as a
/// process), nothing by default when standard error is redirected, nothing at all with <c>--quiet</c>, and the same
/// exit codes as without these options.
/// </summary>
public partial class RefreshProgressTests
{
    private const int MiB = 1 << 20;

    /// <summary>Big enough that the transfer spans many progress lines 10 ms apart.</summary>
    private const int VolumeSize = 96 * MiB;

    private TempDirectory _dir = null!;
    private string _source = null!;
    private string _target = null!;
    private string _targetStore = null!;

    [SetUp]
    public async Task SetUp()
    {
        _dir = new TempDirectory();
        var lvol = new LvolFixture(_dir);
        var sourceStore = await lvol.CreateStoreAsync("source");
        _targetStore = await lvol.CreateStoreAsync("target");
        await LvolFixture.RunOkAsync("lvol", "create", sourceStore, "vm", "--size", "96M", "--thin");
        await lvol.WriteAsync(sourceStore, "vm", 0, LvolFixture.RandomBytes(VolumeSize, 17));
        _source = LvolFixture.Address(sourceStore, "vm");
        await LvolFixture.RunOkAsync("snapshot", "create", _source, "s1");
        _target = LvolFixture.Address(_targetStore, "copy");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public async Task Progress_nativeRoute_linesMoveTowardsTheTotal()
    {
        var result = await DeltaSnapTool.RunAsync("refresh", _source, _target, "--progress", "--progress-interval", "0.01");

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Does.StartWith($"refreshed {_target} from {_source}: full, route nativeStream\n"), "the summary as without --progress");
        var sending = ProgressLines(result.Error).Where(l => l.Stage == "sending s1").ToList();
        AssertMoving(sending, result.Error);
        Assert.That(sending.Where(l => l.Total is not null).Select(l => l.Total), Is.Not.Empty.And.All.EqualTo("96.0 MiB"),
            "the lvol source tells the native stream's size from its changed ranges");
    }

    [Test]
    public async Task Progress_checksumRoute_copyingLinesMove()
    {
        var result = await DeltaSnapTool.RunAsync("refresh", _source, _target, "--no-native", "--progress", "--progress-interval", "0.01");

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Does.Contain("route checksum"));
        var copying = ProgressLines(result.Error).Where(l => l.Stage == "copying s1").ToList();
        AssertMoving(copying, result.Error);
        Assert.That(copying.Select(l => l.Total), Is.All.EqualTo("96.0 MiB"));
    }

    [Test]
    public async Task Progress_process_stderrRedirected_linesOnlyWithProgress()
    {
        var plain = await DeltaSnapTool.RunProcessAsync("refresh", _source, _target, "--json");

        Assert.That(plain.ExitCode, Is.Zero, plain.ToString());
        Assert.That(plain.Error, Is.Empty, "redirected standard error: no progress unless asked (cron mails every line)");
        using (var json = JsonDocument.Parse(plain.Out))
        {
            Assert.That(json.RootElement.GetProperty("bytesWritten").GetInt64(), Is.GreaterThanOrEqualTo(VolumeSize), "exact numbers");
        }

        var second = LvolFixture.Address(_targetStore, "copy2");
        var withProgress = await DeltaSnapTool.RunProcessAsync("refresh", _source, second, "--progress", "--progress-interval", "0.01", "--json");

        Assert.That(withProgress.ExitCode, Is.Zero, withProgress.ToString());
        using (var json = JsonDocument.Parse(withProgress.Out))
        {
            Assert.That(json.RootElement.GetProperty("snapshotsSent").GetInt32(), Is.EqualTo(1), "standard output holds the JSON only");
        }
        AssertMoving(ProgressLines(withProgress.Error).Where(l => l.Stage == "sending s1").ToList(), withProgress.Error);
    }

    [TestCase(false, TestName = "Quiet_success_printsNothing(in-process)")]
    [TestCase(true, TestName = "Quiet_success_printsNothing(process)")]
    public async Task Quiet_success_printsNothing(bool asProcess)
    {
        string[] args = ["refresh", asProcess ? "-q" : "--quiet", _source, _target];
        var result = asProcess ? await DeltaSnapTool.RunProcessAsync(args) : await DeltaSnapTool.RunAsync(args);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Is.Empty);
        Assert.That(result.Error, Is.Empty);
        var again = await LvolFixture.RunJsonAsync("refresh", _source, _target, "-q");
        Assert.That(again.GetProperty("kind").GetString(), Is.EqualTo("upToDate"), "the quiet refresh did its work; --json still prints");
    }

    [Test]
    public async Task Quiet_refused_stillExitsThreeWithItsOneErrorLine()
    {
        await LvolFixture.RunOkAsync("lvol", "create", _targetStore, "copy", "--size", "96M", "--thin");
        await LvolFixture.RunOkAsync("snapshot", "create", _target, "own");

        var result = await DeltaSnapTool.RunProcessAsync("refresh", "--quiet", _source, _target);

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.NoCommonBase), result.ToString());
        Assert.That(result.Out, Is.Empty);
        Assert.That(result.Error, Does.Match(@"^deltasnap: [^\n]*share none[^\n]*\n$"));
    }

    [TestCase("--progress", "--quiet")]
    [TestCase("--progress", "--no-progress")]
    [TestCase("--progress-interval", "0")]
    [TestCase("--progress-interval", "soon")]
    public async Task ProgressOptions_contradictoryOrMalformed_usageErrorTwoAndNothingDone(string option, string value)
    {
        var result = await DeltaSnapTool.RunAsync("refresh", _source, _target, option, value);

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Usage), result.ToString());
        Assert.That(result.Error, Does.Match(@"^deltasnap: [^\n]+ See 'deltasnap refresh --help'\.\n$"));
        Assert.That(File.Exists(_targetStore), Is.True);
        var volumes = await LvolFixture.RunOkAsync("volume", "list", "lvol:" + _targetStore);
        Assert.That(volumes.Out, Does.Not.Contain("copy"), "nothing was created");
    }

    [Test]
    public async Task NoProgress_withProgressLinesNotAsked_printsOnlyTheSummary()
    {
        var result = await DeltaSnapTool.RunAsync("refresh", "--no-progress", _source, _target);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Error, Is.Empty);
        Assert.That(result.Out, Does.Contain("route nativeStream"));
    }

    /// <summary>At least three distinct byte counts, never going back, ending at the total where one is known.</summary>
    private static void AssertMoving(List<ProgressLine> lines, string error)
    {
        Assert.That(lines.Select(l => l.Done).Distinct().Count(), Is.GreaterThanOrEqualTo(3), "several distinct byte counts:\n" + error);
        var bytes = lines.Select(l => ParseSize(l.Done)).ToList();
        Assert.That(bytes, Is.Ordered, "the count never goes back:\n" + error);
        Assert.That(bytes[^1], Is.LessThanOrEqualTo((long)(VolumeSize * 1.01)));
    }

    private static List<ProgressLine> ProgressLines(string error)
    {
        var lines = new List<ProgressLine>();
        foreach (var text in error.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var match = ProgressLineFormat().Match(text);
            Assert.That(match.Success, Is.True, "every line on standard error is a progress line: " + text);
            lines.Add(new ProgressLine(match.Groups["stage"].Value, match.Groups["done"].Value, match.Groups["total"].Success ? match.Groups["total"].Value : null));
        }
        return lines;
    }

    private static long ParseSize(string text)
    {
        var parts = text.Split(' ');
        var factor = parts[1] switch
        {
            "B" => 1L,
            "KiB" => 1L << 10,
            "MiB" => 1L << 20,
            "GiB" => 1L << 30,
            _ => throw new FormatException(text),
        };
        return (long)(double.Parse(parts[0], CultureInfo.InvariantCulture) * factor);
    }

    private sealed record ProgressLine(string Stage, string Done, string? Total);

    [GeneratedRegex(@"^\d+:\d\d:\d\d (?<stage>[a-z]+ [^:]+): (?<done>[\d.]+ (B|KiB|MiB|GiB))( of (?<total>[\d.]+ (B|KiB|MiB|GiB)) \(\d+%\))?, (-|[\d.]+ (B|KiB|MiB|GiB)/s)(, ETA \d+:\d\d:\d\d)?$")]
    private static partial Regex ProgressLineFormat();
}
