using System.Text.Json;
using DeltaSnap.Checksums;
using DeltaSnap.Cli.Tests.Support;
using DeltaSnap.Devices;

namespace DeltaSnap.Cli.Tests;

public class ChecksumsCommandTests
{
    // Cluster 0 data, 1 hole, 2 written zeros, 3 data, 4-5 holes, 6 data, then a 5000-byte tail of data.
    private const string Layout = "a.za..a";
    private const int TailBytes = 5000;

    private TempDirectory _dir = null!;
    private string _image = "";

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDirectory();
        _image = TestImage.Create(_dir.File("disk.img"), Layout, TailBytes);
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public async Task Checksums_sparseImage_listsEveryClusterWithStateAndDigest()
    {
        var result = await DeltaSnapTool.RunAsync("checksums", "--cluster-size", "64K", "--algorithm", "sha256", _image);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var rows = result.Out.Split('\n').Skip(1).Take(8)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToList();
        var zeros = TestImage.Sha256Of('z', 0);
        string[][] expected =
        [
            ["0", "0", "data", TestImage.Sha256Of('a', 0)],
            ["1", "65536", "unallocated", "-"],
            ["2", "131072", "zero", zeros],
            ["3", "196608", "data", TestImage.Sha256Of('a', 3)],
            ["4", "262144", "unallocated", "-"],
            ["5", "327680", "unallocated", "-"],
            ["6", "393216", "data", TestImage.Sha256Of('a', 6)],
            ["7", "458752", "data", TestImage.Sha256Of('t', 7, TailBytes)],
        ];
        Assert.That(rows, Is.EqualTo(expected));
    }

    [Test]
    public async Task Checksums_text_endsWithSummaryOfClustersAndRate()
    {
        var result = await DeltaSnapTool.RunAsync("checksums", "-c", "64K", "-a", "sha256", _image);

        Assert.That(result.Out, Does.Contain("clusters: 4 data, 1 zero, 3 unallocated\n"));
        Assert.That(result.Out, Does.Contain($"{_image}: {(7 * TestImage.Cluster) + TailBytes} bytes"));
        Assert.That(result.Out, Does.Match(@"read 267144 bytes in \d+\.\d{3} s: \d+\.\d{2} GB/s\n$"));
    }

    [Test]
    public async Task Checksums_output_savesMapEqualToTheLibrarysAndPrintsOnlySummary()
    {
        var mapPath = _dir.File("disk.map");

        var result = await DeltaSnapTool.RunAsync("checksums", "-c", "64K", "-a", "crc64iso", _image, "-o", mapPath);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Does.Not.Contain("unallocated  -"), "no cluster table when saving");
        Assert.That(result.Out, Does.EndWith($"map saved to {mapPath}\n"));
        var saved = await ClusterChecksums.LoadAsync(mapPath);
        using var device = FileBlockDevice.Open(_image, readOnly: true);
        var direct = await ClusterChecksums.ComputeAsync(device, new ClusterChecksumOptions { ClusterSize = TestImage.Cluster, Algorithm = ChecksumAlgorithm.Crc64Iso });
        Assert.That(saved.Layout, Is.EqualTo(direct.Layout));
        Assert.That(saved.VolumeChecksum.ToArray(), Is.EqualTo(direct.VolumeChecksum.ToArray()));
        Assert.That(saved.ContentChecksum.ToArray(), Is.EqualTo(direct.ContentChecksum.ToArray()));
        Assert.That(Enumerable.Range(0, 8).Select(i => saved.GetState(i)), Is.EqualTo(Enumerable.Range(0, 8).Select(i => direct.GetState(i))));
    }

    [Test]
    public async Task Checksums_json_isOneObjectWithSummaryAndClusters()
    {
        var result = await DeltaSnapTool.RunAsync("checksums", "-c", "64K", "-a", "sha256", "--json", _image);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out.TrimEnd('\n'), Does.Not.Contain("\n"), "one line");
        using var json = JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        Assert.That(root.GetProperty("file").GetString(), Is.EqualTo(_image));
        Assert.That(root.GetProperty("volumeSize").GetInt64(), Is.EqualTo((7 * TestImage.Cluster) + TailBytes));
        Assert.That(root.GetProperty("clusterSize").GetInt32(), Is.EqualTo(TestImage.Cluster));
        Assert.That(root.GetProperty("clusterCount").GetInt64(), Is.EqualTo(8));
        Assert.That(root.GetProperty("algorithm").GetString(), Is.EqualTo("sha256"));
        Assert.That(root.GetProperty("dataClusters").GetInt64(), Is.EqualTo(4));
        Assert.That(root.GetProperty("zeroClusters").GetInt64(), Is.EqualTo(1));
        Assert.That(root.GetProperty("unallocatedClusters").GetInt64(), Is.EqualTo(3));
        Assert.That(root.GetProperty("bytesRead").GetInt64(), Is.EqualTo((4 * TestImage.Cluster) + TailBytes));
        Assert.That(root.GetProperty("volumeChecksum").GetString(), Does.Match("^[0-9a-f]{64}$"));
        Assert.That(root.GetProperty("contentChecksum").GetString(), Does.Match("^[0-9a-f]{64}$"));
        Assert.That(root.GetProperty("seconds").GetDouble(), Is.GreaterThanOrEqualTo(0));
        Assert.That(root.GetProperty("gigabytesPerSecond").GetDouble(), Is.GreaterThanOrEqualTo(0));
        Assert.That(root.TryGetProperty("map", out _), Is.False);

        var clusters = root.GetProperty("clusters").EnumerateArray().ToList();
        Assert.That(clusters.Select(c => c.GetProperty("state").GetString()),
            Is.EqualTo(new[] { "data", "unallocated", "zero", "data", "unallocated", "unallocated", "data", "data" }));
        Assert.That(clusters.Select(c => c.GetProperty("offset").GetInt64()), Is.EqualTo(Enumerable.Range(0, 8).Select(i => (long)i * TestImage.Cluster)));
        Assert.That(clusters[7].GetProperty("length").GetInt32(), Is.EqualTo(TailBytes));
        Assert.That(clusters[0].GetProperty("checksum").GetString(), Is.EqualTo(TestImage.Sha256Of('a', 0)));
        Assert.That(clusters[1].TryGetProperty("checksum", out _), Is.False, "unallocated clusters have no checksum");
    }

    [Test]
    public async Task Checksums_jsonWithOutput_namesTheMapAndListsNoClusters()
    {
        var mapPath = _dir.File("disk.map");

        var result = await DeltaSnapTool.RunAsync("checksums", "-c", "64K", "-a", "crc32c", "--json", _image, "-o", mapPath);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        Assert.That(json.RootElement.GetProperty("map").GetString(), Is.EqualTo(mapPath));
        Assert.That(json.RootElement.TryGetProperty("clusters", out _), Is.False);
        Assert.That(File.Exists(mapPath), Is.True);
    }

    [TestCase("64K", 65536)]
    [TestCase("65536", 65536)]
    [TestCase("64KiB", 65536)]
    [TestCase("1m", 1048576)]
    [TestCase("4k", 4096)]
    [TestCase("64M", 67108864)]
    public async Task Checksums_clusterSizeWithSuffix_isParsedAsBinary(string text, int expected)
    {
        var result = await DeltaSnapTool.RunAsync("checksums", "-c", text, "-a", "crc32c", "--json", _image);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        Assert.That(json.RootElement.GetProperty("clusterSize").GetInt32(), Is.EqualTo(expected));
    }

    [TestCase("3K")]
    [TestCase("2K")]
    [TestCase("128M")]
    [TestCase("1.5M")]
    [TestCase("-4K")]
    [TestCase("lots")]
    public async Task Checksums_badClusterSize_isUsageErrorTwo(string text)
    {
        var result = await DeltaSnapTool.RunAsync("checksums", "--cluster-size", text, _image);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Error, Does.StartWith("deltasnap: ").And.Contain("checksums --help"));
        Assert.That(result.Error.TrimEnd('\n'), Does.Not.Contain("\n"), "one line");
    }

    [Test]
    public async Task Checksums_missingImage_isOperationalErrorOne()
    {
        var missing = _dir.File("nope.img");

        var result = await DeltaSnapTool.RunAsync("checksums", "-a", "sha256", missing);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Is.EqualTo($"deltasnap: {missing}: no such file.\n"));
    }

    [Test]
    public async Task Checksums_outputIntoMissingDirectory_isOperationalErrorOne()
    {
        var result = await DeltaSnapTool.RunAsync("checksums", "-a", "sha256", _image, "-o", _dir.File("no/such/dir/x.map"));

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Does.StartWith("deltasnap: ").And.Not.Contain("   at "));
    }

    [Test]
    public async Task Checksums_outputOverTheImage_isRefusedAsUsageError()
    {
        var before = await File.ReadAllBytesAsync(_image);

        var result = await DeltaSnapTool.RunAsync("checksums", "-a", "sha256", _image, "-o", _image);

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain("would overwrite the image"));
        Assert.That(await File.ReadAllBytesAsync(_image), Bytes.EqualTo(before));
    }

    [Test]
    public async Task Checksums_noOptions_usesXxh128AndOneMebibyteClusters()
    {
        var result = await DeltaSnapTool.RunAsync("checksums", "--json", _image);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        Assert.That(json.RootElement.GetProperty("algorithm").GetString(), Is.EqualTo("xxh128"));
        Assert.That(json.RootElement.GetProperty("clusterSize").GetInt32(), Is.EqualTo(1 << 20));
    }

    [Test]
    public async Task Checksums_emptyImage_reportsNoClusters()
    {
        var empty = _dir.File("empty.img");
        await File.WriteAllBytesAsync(empty, []);

        var result = await DeltaSnapTool.RunAsync("checksums", "-a", "sha256", "--json", empty);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        Assert.That(json.RootElement.GetProperty("clusterCount").GetInt64(), Is.Zero);
        Assert.That(json.RootElement.GetProperty("clusters").GetArrayLength(), Is.Zero);
    }
}
