namespace DeltaSnap.Bench.Tests;

/// <summary>The comparison of two result files (pure logic).</summary>
public class ReportComparisonTests
{
    private static BenchReport Report(double wall, long wire, string pair = "lvol-lvol") => new()
    {
        MatrixName = "m",
        MatrixPath = "/m.json",
        MatrixSha256 = new string('0', 64),
        Rounds = 1,
        Started = DateTimeOffset.UnixEpoch,
        Finished = DateTimeOffset.UnixEpoch,
        LoadAverageAtStart = "1 1 1",
        LoadAverageAtEnd = "1 1 1",
        Environment = new Dictionary<string, string>(),
        Skipped = [],
        Cases =
        [
            new CaseResult(pair, 8 << 20, "append", 1, 4096, 0,
                [new ContenderResult("deltasnap", ContenderKind.DeltaSnap, "", [new RunSample(1, 1, wall, 0.5, 100, wire)])]),
        ],
    };

    [TestCase(2.0, 2.5, "+25.0%")]
    [TestCase(2.0, 1.0, "-50.0%")]
    [TestCase(2.0, 2.0, "0.0%")]
    [TestCase(0.0, 0.0, "0.0%")]
    [TestCase(0.0, 1.0, "n/a")]
    public void Percent_twoMedians_isTheChangeFromTheFirst(double a, double b, string expected) =>
        Assert.That(ReportComparison.Percent(a, b), Is.EqualTo(expected));

    [Test]
    public void Compare_sameCase_printsEachMetricsChange()
    {
        var text = ReportComparison.Compare(Report(2.0, 4096), Report(3.0, 8192));

        var line = text.Split('\n').Single(l => l.StartsWith("lvol-lvol/8M/append/1%", StringComparison.Ordinal));
        Assert.That(line.Split(' ', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "lvol-lvol/8M/append/1%", "deltasnap", "+50.0%", "0.0%", "0.0%", "+100.0%" }));
    }

    [Test]
    public void Compare_caseInOneFileOnly_isListed()
    {
        var text = ReportComparison.Compare(Report(2.0, 4096), Report(2.0, 4096, "file-file"));

        Assert.That(text, Does.Contain("only in A: lvol-lvol/8M/append/1% deltasnap").And.Contain("only in B: file-file/8M/append/1% deltasnap"));
    }
}
