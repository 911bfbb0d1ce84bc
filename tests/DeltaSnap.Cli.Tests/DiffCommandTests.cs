using System.Text.Json;
using DeltaSnap.Cli.Tests.Support;
using DeltaSnap.Testing.Streams;

namespace DeltaSnap.Cli.Tests;

public class DiffCommandTests
{
    private const int C = TestImage.Cluster;

    private TempDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private string Image(string name, string clusters, int tailBytes = 0) => TestImage.Create(_dir.File(name), clusters, tailBytes);

    private async Task<string> MapAsync(string image, string algorithm = "sha256", string clusterSize = "64K")
    {
        var map = image + ".map";
        var result = await DeltaSnapTool.RunAsync("checksums", "-c", clusterSize, "-a", algorithm, image, "-o", map);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        return map;
    }

    private static async Task<JsonElement> DiffJsonAsync(params string[] args)
    {
        var result = await DeltaSnapTool.RunAsync(["diff", "--json", .. args]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        return json.RootElement.Clone();
    }

    private static long[][] Ranges(JsonElement report) =>
        [.. report.GetProperty("ranges").EnumerateArray().Select(r => new[] { r.GetProperty("offset").GetInt64(), r.GetProperty("length").GetInt64() })];

    [Test]
    public async Task Diff_twoImages_printsChangedRangesCoalescedAndBytesToMove()
    {
        // Clusters 1 and 2 differ (adjacent: one range), 5 differs; 3 is zeros in one and a hole in the other (same content).
        var a = Image("a.img", "aaaz.a.a");
        var b = Image("b.img", "abb..b.a");

        var result = await DeltaSnapTool.RunAsync("diff", "-c", "64K", "-a", "sha256", a, b);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Is.EqualTo(
            "offset  length\n" +
            $" {1 * C}  {2 * C}\n" +
            $"{5 * C}  {1 * C}\n" +
            $"3 of 8 clusters of 64 KiB changed (sha256), in 2 ranges: {3 * C} bytes\n" +
            $"to turn A into B: {3 * C} bytes would move, 0 bytes would be unmapped\n"));
    }

    [Test]
    public async Task Diff_json_hasSidesTotalsAndRanges()
    {
        var a = Image("a.img", "aaaz.a.a");
        var b = Image("b.img", "abb..b.a");

        var report = await DiffJsonAsync("-c", "64K", "-a", "sha256", a, b);

        Assert.That(report.GetProperty("a").GetProperty("path").GetString(), Is.EqualTo(a));
        Assert.That(report.GetProperty("a").GetProperty("kind").GetString(), Is.EqualTo("image"));
        Assert.That(report.GetProperty("b").GetProperty("volumeSize").GetInt64(), Is.EqualTo(8 * C));
        Assert.That(report.GetProperty("clusterSize").GetInt32(), Is.EqualTo(C));
        Assert.That(report.GetProperty("algorithm").GetString(), Is.EqualTo("sha256"));
        Assert.That(report.GetProperty("changedClusters").GetInt64(), Is.EqualTo(3));
        Assert.That(report.GetProperty("changedBytes").GetInt64(), Is.EqualTo(3 * C));
        Assert.That(report.GetProperty("bytesToCopy").GetInt64(), Is.EqualTo(3 * C));
        Assert.That(report.GetProperty("bytesToUnmap").GetInt64(), Is.Zero);
        Assert.That(report.GetProperty("seconds").GetDouble(), Is.GreaterThanOrEqualTo(0));
        Assert.That(Ranges(report), Is.EqualTo(new[] { new long[] { C, 2 * C }, [5 * C, C] }));
    }

    [Test]
    public async Task Diff_dataReplacedByHoleOrZeros_isUnmappedNotMoved()
    {
        var a = Image("a.img", "aaaa");
        var b = Image("b.img", "a.zb");

        var report = await DiffJsonAsync("-c", "64K", "-a", "crc64iso", a, b);

        Assert.That(Ranges(report), Is.EqualTo(new[] { new long[] { C, 3 * C } }));
        Assert.That(report.GetProperty("bytesToCopy").GetInt64(), Is.EqualTo(C));
        Assert.That(report.GetProperty("bytesToUnmap").GetInt64(), Is.EqualTo(2 * C));
    }

    [Test]
    public async Task Diff_identicalContent_reportsNoRanges()
    {
        var a = Image("a.img", "ab.z");
        var b = Image("b.img", "abz.");

        var result = await DeltaSnapTool.RunAsync("diff", "-c", "64K", "-a", "crc32c", a, b);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Does.StartWith("0 of 4 clusters of 64 KiB changed (crc32c), in 0 ranges: 0 bytes\n"));
    }

    [Test]
    public async Task Diff_savedMaps_giveTheSameAnswerAsTheImages()
    {
        var a = Image("a.img", "aaaz.a.a", tailBytes: 100);
        var b = Image("b.img", "abb..b.a", tailBytes: 100);
        var fromImages = await DiffJsonAsync("-c", "64K", "-a", "sha256", a, b);

        var fromMaps = await DiffJsonAsync(await MapAsync(a), await MapAsync(b));
        var mixed = await DiffJsonAsync(await MapAsync(a), b);

        Assert.That(fromMaps.GetProperty("a").GetProperty("kind").GetString(), Is.EqualTo("map"));
        Assert.That(mixed.GetProperty("b").GetProperty("kind").GetString(), Is.EqualTo("image"));
        Assert.That(mixed.GetProperty("clusterSize").GetInt32(), Is.EqualTo(C), "the image is checksummed with the map's cluster size");
        Assert.That(Ranges(fromMaps), Is.EqualTo(Ranges(fromImages)));
        Assert.That(Ranges(mixed), Is.EqualTo(Ranges(fromImages)));
        Assert.That(fromMaps.GetProperty("bytesToCopy").GetInt64(), Is.EqualTo(fromImages.GetProperty("bytesToCopy").GetInt64()));
    }

    [Test]
    public async Task Diff_newSideLonger_countsItsExtraDataAsChanged()
    {
        var a = Image("a.img", "aa");
        var b = Image("b.img", "aa.b");

        var result = await DeltaSnapTool.RunAsync("diff", "-c", "64K", "-a", "sha256", a, b);
        var report = await DiffJsonAsync("-c", "64K", "-a", "sha256", a, b);

        Assert.That(Ranges(report), Is.EqualTo(new[] { new long[] { 3 * C, C } }));
        Assert.That(report.GetProperty("bytesToCopy").GetInt64(), Is.EqualTo(C));
        Assert.That(result.Out, Does.EndWith($"sizes differ: A is {2 * C} bytes, B is {4 * C} bytes\n"));
    }

    [Test]
    public async Task Diff_oldSideLonger_countsItsDataPastTheNewEndAsChangedButNotMoved()
    {
        // A's clusters 2 and 4 hold data past B's end (3 is a hole): they change, but nothing is copied or unmapped.
        var a = Image("a.img", "aab.b");
        var b = Image("b.img", "aa");

        var result = await DeltaSnapTool.RunAsync("diff", "-c", "64K", "-a", "sha256", a, b);
        var report = await DiffJsonAsync("-c", "64K", "-a", "sha256", a, b);

        Assert.That(Ranges(report), Is.EqualTo(new[] { new long[] { 2 * C, C }, [4 * C, C] }));
        Assert.That(report.GetProperty("changedClusters").GetInt64(), Is.EqualTo(2));
        Assert.That(report.GetProperty("bytesToCopy").GetInt64(), Is.Zero);
        Assert.That(report.GetProperty("bytesToUnmap").GetInt64(), Is.Zero);
        Assert.That(result.Out, Does.Contain("2 of 5 clusters of 64 KiB changed (sha256), in 2 ranges"));
    }

    [Test]
    public async Task Diff_oldTailClusterOfDataBecomesZeros_unmapsTheNewSidesWholeCluster()
    {
        // A ends in a 100-byte tail cluster of data; B holds a whole cluster of zeros there and a new cluster after it.
        var a = Image("a.img", "aa", tailBytes: 100);
        var b = Image("b.img", "aazb");

        var report = await DiffJsonAsync("-c", "64K", "-a", "xxh128", a, b);

        Assert.That(Ranges(report), Is.EqualTo(new[] { new long[] { 2 * C, 2 * C } }));
        Assert.That(report.GetProperty("changedClusters").GetInt64(), Is.EqualTo(2));
        Assert.That(report.GetProperty("bytesToCopy").GetInt64(), Is.EqualTo(C));
        Assert.That(report.GetProperty("bytesToUnmap").GetInt64(), Is.EqualTo(C), "counted over B's cluster, as copies are");
    }

    [Test]
    public async Task Diff_mapsWithDifferentClusterSizes_failsWithClearMessage()
    {
        var a = await MapAsync(Image("a.img", "aaaa"), clusterSize: "64K");
        var b = await MapAsync(Image("b.img", "aaaa"), clusterSize: "128K");

        var result = await DeltaSnapTool.RunAsync("diff", a, b);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Is.EqualTo(
            $"deltasnap: Cannot compare {a} (sha256, 64 KiB clusters) with {b} (sha256, 128 KiB clusters): both maps need the same algorithm and cluster size.\n"));
        Assert.That(result.Out, Is.Empty);
    }

    [Test]
    public async Task Diff_mapsWithDifferentAlgorithms_failsWithClearMessage()
    {
        var a = await MapAsync(Image("a.img", "aaaa"), algorithm: "sha256");
        var b = await MapAsync(Image("b.img", "aaaa"), algorithm: "crc64iso");

        var result = await DeltaSnapTool.RunAsync("diff", "--json", a, b);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Does.Contain("(sha256, 64 KiB clusters)").And.Contain("(crc64iso, 64 KiB clusters)"));
    }

    [Test]
    public async Task Diff_optionContradictingAMap_isUsageErrorTwo()
    {
        var a = await MapAsync(Image("a.img", "aaaa"), algorithm: "sha256");
        var b = Image("b.img", "aaaa");

        var result = await DeltaSnapTool.RunAsync("diff", "-a", "crc32c", a, b);

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain($"--algorithm crc32c contradicts {a}, a map of sha256 checksums"));
    }

    [Test]
    public async Task Diff_mapWithFlippedBit_failsWithCorruptionMessageAndExitOne()
    {
        var a = await MapAsync(Image("a.img", "abab"));
        var b = Image("b.img", "abab");
        var bytes = await File.ReadAllBytesAsync(a);
        await File.WriteAllBytesAsync(a, Damage.FlipBit(bytes, bytes.Length - 10));

        var result = await DeltaSnapTool.RunAsync("diff", a, b);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Does.StartWith($"deltasnap: {a} is not a usable checksum map: The data is corrupt"));
        Assert.That(result.Error.TrimEnd('\n'), Does.Not.Contain("\n"), "one line, no stack trace");
    }

    [Test]
    public async Task Diff_truncatedMap_failsWithTruncationMessageAndExitOne()
    {
        var a = Image("a.img", "abab");
        var b = await MapAsync(Image("b.img", "abab"));
        var bytes = await File.ReadAllBytesAsync(b);
        await File.WriteAllBytesAsync(b, Damage.Truncate(bytes, 60));

        var result = await DeltaSnapTool.RunAsync("diff", a, b);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Does.StartWith($"deltasnap: {b} is not a usable checksum map: The data is truncated"));
    }

    [Test]
    public async Task Diff_mapOfUnknownVersion_failsWithVersionMessageAndExitOne()
    {
        var a = await MapAsync(Image("a.img", "abab"));
        var bytes = await File.ReadAllBytesAsync(a);
        bytes[8] = 99; // format version, little-endian u16 after the magic

        await File.WriteAllBytesAsync(a, bytes);
        var result = await DeltaSnapTool.RunAsync("diff", a, a);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Does.Contain("version 99 is not supported"));
    }

    [Test]
    public async Task Diff_missingSide_isOperationalErrorOne()
    {
        var a = Image("a.img", "ab");
        var missing = _dir.File("missing.img");

        var result = await DeltaSnapTool.RunAsync("diff", a, missing);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Is.EqualTo($"deltasnap: {missing}: no such file.\n"));
    }

    [Test]
    public async Task Diff_oneSideOnly_isUsageErrorTwo()
    {
        var result = await DeltaSnapTool.RunAsync("diff", Image("a.img", "ab"));

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain("diff --help"));
    }
}
