using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

public class HashCommandTests
{
    private TempDirectory _dir = null!;
    private string[] _files = [];

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDirectory();
        var random = new Random(11);
        // Empty, shorter than a buffer, exactly one 1 MiB buffer, and several buffers with a ragged end.
        _files = [.. new[] { 0, 1000, 1 << 20, (3 << 20) + 12345 }.Select(length =>
        {
            var data = new byte[length];
            random.NextBytes(data);
            var path = _dir.File($"file-{length}.bin");
            File.WriteAllBytes(path, data);
            return path;
        })];
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public async Task Hash_sha256_printsExactlyWhatSha256sumPrints()
    {
        var result = await DeltaSnapTool.RunAsync(["hash", "--algorithm", "sha256", .. _files]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Is.EqualTo(ReferenceTools.Sha256Sum(_files)));
        Assert.That(result.Error, Is.Empty);
    }

    [Test]
    public async Task Hash_namesWithBackslashOrNewline_areEscapedAsSha256sumDoes()
    {
        var odd = new[] { _dir.File(@"back\slash"), _dir.File("new\nline"), _dir.File("carriage\rreturn") };
        foreach (var path in odd)
        {
            await File.WriteAllTextAsync(path, path);
        }

        var result = await DeltaSnapTool.RunAsync(["hash", "-a", "sha256", .. odd]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Is.EqualTo(ReferenceTools.Sha256Sum(odd)));
    }

    [TestCase("xxh3", "3")]
    [TestCase("xxh128", "2")]
    public async Task Hash_xxh3Family_agreesWithXxhsum(string algorithm, string xxhsumVariant)
    {
        var expected = ReferenceTools.XxhSum(xxhsumVariant, _files);

        var result = await DeltaSnapTool.RunAsync(["hash", "--algorithm", algorithm, .. _files]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var lines = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Is.EqualTo(_files.Select(f => expected[f] + "  " + f)));
    }

    [Test]
    public async Task Hash_noAlgorithm_usesXxh128()
    {
        var byDefault = await DeltaSnapTool.RunAsync(["hash", .. _files]);
        var xxh128 = await DeltaSnapTool.RunAsync(["hash", "-a", "xxh128", .. _files]);

        Assert.That(byDefault.ExitCode, Is.Zero, byDefault.ToString());
        Assert.That(byDefault.Out, Is.EqualTo(xxh128.Out));
    }

    // The published check values of "123456789", printed big-endian as xxhsum prints its canonical form.
    [TestCase("crc32c", "e3069283")]
    [TestCase("crc64iso", "b90956c775a41001")]
    [TestCase("sha256", "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225")]
    public async Task Hash_checkString_printsPublishedCheckValueBigEndian(string algorithm, string check)
    {
        var path = _dir.File("check");
        await File.WriteAllTextAsync(path, "123456789");

        var result = await DeltaSnapTool.RunAsync("hash", "-a", algorithm, path);

        Assert.That(result.Out, Is.EqualTo($"{check}  {path}\n"));
    }

    [Test]
    public async Task Hash_missingFileAmongOthers_hashesTheRestAndExitsOne()
    {
        var missing = _dir.File("missing");

        var result = await DeltaSnapTool.RunAsync("hash", "-a", "sha256", _files[0], missing, _files[1]);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Out, Is.EqualTo(ReferenceTools.Sha256Sum(_files[0], _files[1])));
        Assert.That(result.Error, Is.EqualTo($"deltasnap: {missing}: no such file.\n"));
    }

    [Test]
    public async Task Hash_directory_reportsItAndExitsOne()
    {
        var result = await DeltaSnapTool.RunAsync("hash", "-a", "sha256", _dir.Path);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Is.EqualTo($"deltasnap: {_dir.Path}: is a directory.\n"));
    }

    [Test]
    public async Task Hash_noFiles_isUsageErrorTwo()
    {
        var result = await DeltaSnapTool.RunAsync("hash", "-a", "sha256");

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.StartWith("deltasnap: ").And.Contain("hash --help"));
        Assert.That(result.Out, Is.Empty);
    }

    [Test]
    public async Task Hash_unknownAlgorithm_isUsageErrorTwoNamingTheChoices()
    {
        var result = await DeltaSnapTool.RunAsync("hash", "--algorithm", "md5", _files[0]);

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain("'md5'").And.Contain("crc32c, crc64iso, xxh3, xxh128, sha256"));
    }

    [Test]
    public async Task Hash_misspelledOption_isUsageErrorNotAMissingFile()
    {
        var result = await DeltaSnapTool.RunAsync("hash", "--algoritm", "sha256", _files[0]);

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain("Unrecognized option '--algoritm'"));
    }

    [Test]
    public async Task Hash_fileNamedLikeAnOptionAfterDoubleDash_isHashed()
    {
        var dashed = _dir.File("-dashed");
        File.Copy(_files[1], dashed);
        var previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(_dir.Path);
        ToolResult result;
        try
        {
            result = await DeltaSnapTool.RunAsync("hash", "-a", "sha256", "--", "-dashed");
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Is.EqualTo(ReferenceTools.Sha256Sum(_files[1]).Replace(_files[1], "-dashed", StringComparison.Ordinal)));
    }

    [Test]
    public void FormatLine_plainName_isHexTwoSpacesName() =>
        Assert.That(Commands.HashCommand.FormatLine([0xab, 0x01], "a b"), Is.EqualTo("ab01  a b"));
}
