using DeltaSnap.Cli.Output;
using DeltaSnap.Replication;

namespace DeltaSnap.Cli.Tests;

/// <summary>The progress of <c>refresh</c> as pure logic: sizes, rates, ETAs, the two kinds of line, and the throttle on a hand-driven clock.</summary>
public class RefreshProgressPrinterTests
{
    private const long KiB = 1024;
    private const long MiB = 1024 * KiB;
    private const long GiB = 1024 * MiB;

    [TestCase(0L, "0 B")]
    [TestCase(1023L, "1023 B")]
    [TestCase(1024L, "1.0 KiB")]
    [TestCase(1536L, "1.5 KiB")]
    [TestCase(MiB - 1, "1.0 MiB")]
    [TestCase(512 * MiB, "512.0 MiB")]
    [TestCase(GiB + (GiB / 2), "1.5 GiB")]
    [TestCase(3 * 1024 * GiB, "3.0 TiB")]
    public void Size_isHumanReadableWithOneDecimal(long bytes, string expected) =>
        Assert.That(ProgressFormat.Size(bytes), Is.EqualTo(expected));

    [Test]
    public void Rate_perSecond_orDashWhenUnknown()
    {
        Assert.That(ProgressFormat.Rate(120.5 * MiB), Is.EqualTo("120.5 MiB/s"));
        Assert.That(ProgressFormat.Rate(800), Is.EqualTo("800 B/s"));
        Assert.That(ProgressFormat.Rate(null), Is.EqualTo("-"));
        Assert.That(ProgressFormat.Rate(double.NaN), Is.EqualTo("-"));
    }

    [TestCase(0, "0:00:00")]
    [TestCase(7.9, "0:00:07")]
    [TestCase(61, "0:01:01")]
    [TestCase(3723, "1:02:03")]
    [TestCase(-5, "0:00:00")]
    public void Duration_isHoursMinutesSeconds(double seconds, string expected) =>
        Assert.That(ProgressFormat.Duration(TimeSpan.FromSeconds(seconds)), Is.EqualTo(expected));

    [Test]
    public void TimeLeft_isWhatRemainsAtTheRate_andUnknownWithoutTotalOrRate()
    {
        Assert.That(ProgressFormat.TimeLeft(512 * MiB, GiB, 128.0 * MiB), Is.EqualTo(TimeSpan.FromSeconds(4)));
        Assert.That(ProgressFormat.TimeLeft(2 * GiB, GiB, 128.0 * MiB), Is.EqualTo(TimeSpan.Zero), "an estimate that was passed");
        Assert.That(ProgressFormat.TimeLeft(512 * MiB, 0, 128.0 * MiB), Is.Null, "no total");
        Assert.That(ProgressFormat.TimeLeft(512 * MiB, GiB, null), Is.Null, "no rate yet");
        Assert.That(ProgressFormat.TimeLeft(512 * MiB, GiB, 0), Is.Null, "nothing moves");
    }

    [Test]
    public void PlainLine_withTotal_showsBytesOfTotalPercentRateAndEta() =>
        Assert.That(ProgressFormat.PlainLine(new RefreshProgress("sending", "s1", 512 * MiB, GiB), 128.0 * MiB, TimeSpan.FromSeconds(7)),
            Is.EqualTo("0:00:07 sending s1: 512.0 MiB of 1.0 GiB (50%), 128.0 MiB/s, ETA 0:00:04"));

    [Test]
    public void PlainLine_withoutTotal_showsBytesAndRateOnly() =>
        Assert.That(ProgressFormat.PlainLine(new RefreshProgress("sending", "live state", 3 * MiB / 2, 0), 1.0 * MiB, TimeSpan.FromSeconds(65)),
            Is.EqualTo("0:01:05 sending live state: 1.5 MiB, 1.0 MiB/s"));

    [Test]
    public void PlainLine_estimatePassed_saysHundredPercent() =>
        Assert.That(ProgressFormat.PlainLine(new RefreshProgress("sending", "s1", GiB + MiB, GiB), null, TimeSpan.Zero),
            Is.EqualTo("0:00:00 sending s1: 1.0 GiB of 1.0 GiB (100%), -"));

    [Test]
    public void BarLine_withTotal_fillsTheBarByTheFraction() =>
        Assert.That(ProgressFormat.BarLine(new RefreshProgress("copying", "s1", 256 * MiB, GiB), 64.0 * MiB, TimeSpan.FromSeconds(4)),
            Is.EqualTo("[#####...............]  25% copying s1  256.0 MiB/1.0 GiB  64.0 MiB/s  ETA 0:00:12"));

    [Test]
    public void BarLine_withoutTotal_movesAMarkerWithTimeAndShowsTheElapsedTime()
    {
        var progress = new RefreshProgress("sending", "s1", 10 * MiB, 0);

        var first = ProgressFormat.BarLine(progress, null, TimeSpan.Zero);
        var later = ProgressFormat.BarLine(progress, null, TimeSpan.FromMilliseconds(1000));

        Assert.That(first, Is.EqualTo("[<=>                 ]      sending s1  10.0 MiB  -  0:00:00"));
        Assert.That(later, Is.EqualTo("[     <=>            ]      sending s1  10.0 MiB  -  0:00:01"));
    }

    [Test]
    public void Lines_reportsManyTimesASecond_printAtMostOncePerInterval()
    {
        var clock = new ManualClock();
        using var error = new StringWriter { NewLine = "\n" };
        using var printer = new RefreshProgressPrinter(error, ProgressStyle.Lines, TimeSpan.FromSeconds(1), clock);

        for (var i = 0; i <= 30; i++)
        {
            printer.Report(new RefreshProgress("sending", "s1", i * 10 * MiB, 300 * MiB));
            clock.Advance(TimeSpan.FromMilliseconds(100));
        }

        var lines = Lines(error);
        Assert.That(lines, Has.Length.EqualTo(4), "at 0, 1, 2 and 3 seconds: " + error);
        Assert.That(lines[0], Is.EqualTo("0:00:00 sending s1: 0 B of 300.0 MiB (0%), -"));
        Assert.That(lines[1], Is.EqualTo("0:00:01 sending s1: 100.0 MiB of 300.0 MiB (33%), 100.0 MiB/s, ETA 0:00:02"));
        Assert.That(lines[3], Is.EqualTo("0:00:03 sending s1: 300.0 MiB of 300.0 MiB (100%), 100.0 MiB/s, ETA 0:00:00"));
    }

    [Test]
    public void Lines_nothingMoves_aLineEveryTenIntervalsOnly()
    {
        var clock = new ManualClock();
        using var error = new StringWriter { NewLine = "\n" };
        using var printer = new RefreshProgressPrinter(error, ProgressStyle.Lines, TimeSpan.FromSeconds(1), clock);
        printer.Report(new RefreshProgress("synchronizing", "s1", 0, 0));

        for (var i = 0; i < 25; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            printer.Tick();
        }

        Assert.That(Lines(error), Is.EqualTo(new[]
        {
            "0:00:00 synchronizing s1: 0 B, -",
            "0:00:10 synchronizing s1: 0 B, 0 B/s",
            "0:00:20 synchronizing s1: 0 B, 0 B/s",
        }));
    }

    [Test]
    public void Rate_followsTheRecentSamples_andRestartsWithEachStage()
    {
        var clock = new ManualClock();
        using var error = new StringWriter();
        using var printer = new RefreshProgressPrinter(error, ProgressStyle.Lines, TimeSpan.FromSeconds(1), clock);

        for (var second = 0; second <= 10; second++)
        {
            // 10 MiB/s for five seconds, then 50 MiB/s.
            var done = second <= 5 ? second * 10 * MiB : (50 * MiB) + ((second - 5) * 50 * MiB);
            printer.Report(new RefreshProgress("copying", "s1", done, GiB));
            if (second == 5)
            {
                Assert.That(printer.Rate(), Is.EqualTo(10.0 * MiB).Within(1));
            }
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.That(printer.Rate(), Is.EqualTo(50.0 * MiB).Within(1), "the window has moved past the slow part");

        printer.Report(new RefreshProgress("verifying", "s1", 0, GiB));
        Assert.That(printer.Rate(), Is.Null, "a new stage measures its own rate");
    }

    [Test]
    public void Report_outOfOrderFromSeveralThreads_neverGoesBack()
    {
        var clock = new ManualClock();
        using var error = new StringWriter { NewLine = "\n" };
        using var printer = new RefreshProgressPrinter(error, ProgressStyle.Lines, TimeSpan.Zero, clock);

        printer.Report(new RefreshProgress("comparing", "s1", 20 * MiB, 100 * MiB));
        clock.Advance(TimeSpan.FromSeconds(1));
        printer.Report(new RefreshProgress("comparing", "s1", 10 * MiB, 100 * MiB));

        Assert.That(Lines(error)[^1], Does.StartWith("0:00:01 comparing s1: 20.0 MiB of 100.0 MiB"));
    }

    [Test]
    public void Bar_redrawsInPlace_andFinishErasesIt()
    {
        var clock = new ManualClock();
        using var error = new StringWriter();
        var printer = new RefreshProgressPrinter(error, ProgressStyle.Bar, RefreshProgressPrinter.BarInterval, clock);

        printer.Report(new RefreshProgress("sending", "s1", 0, 100 * MiB));
        clock.Advance(TimeSpan.FromSeconds(1));
        printer.Report(new RefreshProgress("sending", "s1", 50 * MiB, 100 * MiB));
        printer.Finish();
        printer.Report(new RefreshProgress("sending", "s1", 60 * MiB, 100 * MiB));

        var text = error.ToString();
        Assert.That(text, Does.Not.Contain("\n"), "one line, redrawn with carriage returns");
        var draws = text.Split('\r', StringSplitOptions.RemoveEmptyEntries).Where(d => d.Trim().Length > 0).ToArray();
        Assert.That(draws, Has.Length.EqualTo(2), text);
        Assert.That(draws[0], Does.StartWith("[....................]   0% sending s1  0 B/100.0 MiB"));
        Assert.That(draws[1], Is.EqualTo("[##########..........]  50% sending s1  50.0 MiB/100.0 MiB  50.0 MiB/s  ETA 0:00:01"));
        Assert.That(text, Does.EndWith("\r" + new string(' ', draws[1].Length) + "\r"), "erased, the cursor back at the start");
    }

    [Test]
    public void Bar_shorterLine_padsOverTheLongerOne_andIsCutToTheWidth()
    {
        var clock = new ManualClock();
        using var error = new StringWriter();
        using var printer = new RefreshProgressPrinter(error, ProgressStyle.Bar, TimeSpan.Zero, clock, width: 40);

        printer.Report(new RefreshProgress("comparing", "a-long-snapshot-name", 0, GiB));
        printer.Report(new RefreshProgress("sending", "s", 0, 0));

        var draws = error.ToString().Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(draws, Has.Length.EqualTo(2));
        Assert.That(draws.Select(d => d.Length), Is.All.EqualTo(39), "never wider than the terminal less one: no wrap");
    }

    private static string[] Lines(StringWriter writer) => writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A clock that moves only when told.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
