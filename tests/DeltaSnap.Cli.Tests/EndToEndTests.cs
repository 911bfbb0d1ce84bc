using System.Runtime.InteropServices;
using System.Text.Json;
using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary>The built tool run as a real process: arguments, standard streams, signals and exit codes as a shell sees them.</summary>
public partial class EndToEndTests
{
    private const int SigInt = 2;

    private TempDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public async Task Process_hashSha256_printsWhatSha256sumPrints()
    {
        var file = _dir.File("data.bin");
        var data = new byte[(2 << 20) + 7];
        new Random(5).NextBytes(data);
        await File.WriteAllBytesAsync(file, data);

        var result = await DeltaSnapTool.RunProcessAsync("hash", "--algorithm", "sha256", file);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Is.EqualTo(ReferenceTools.Sha256Sum(file)));
    }

    [Test]
    public async Task Process_checksumsThenDiffAgainstImage_findsTheChangedCluster()
    {
        var a = TestImage.Create(_dir.File("a.img"), "aa.z");
        var b = TestImage.Create(_dir.File("b.img"), "ab.z");
        var map = _dir.File("a.map");

        var save = await DeltaSnapTool.RunProcessAsync("checksums", "-c", "64K", "-a", "crc64iso", a, "-o", map);
        var diff = await DeltaSnapTool.RunProcessAsync("diff", "--json", map, b);

        Assert.That(save.ExitCode, Is.Zero, save.ToString());
        Assert.That(diff.ExitCode, Is.Zero, diff.ToString());
        using var json = JsonDocument.Parse(diff.Out);
        var ranges = json.RootElement.GetProperty("ranges");
        Assert.That(ranges.GetArrayLength(), Is.EqualTo(1));
        Assert.That(ranges[0].GetProperty("offset").GetInt64(), Is.EqualTo(TestImage.Cluster));
        Assert.That(ranges[0].GetProperty("length").GetInt64(), Is.EqualTo(TestImage.Cluster));
    }

    [Test]
    public async Task Process_badArguments_exitsTwoWithOneLineOnStderr()
    {
        var result = await DeltaSnapTool.RunProcessAsync("checksums", "--cluster-size", "3K", "x.img");

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Out, Is.Empty);
        Assert.That(result.Error, Does.Match(@"^deltasnap: [^\n]+\n$"));
    }

    [Test]
    public async Task Process_corruptMap_exitsOneWithoutStackTrace()
    {
        var map = _dir.File("bad.map");
        await File.WriteAllBytesAsync(map, [.. "DSNAPCKS"u8, 1, 0]);

        var result = await DeltaSnapTool.RunProcessAsync("diff", map, map);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Error, Does.Match(@"^deltasnap: [^\n]*bad\.map is not a usable checksum map: The data is truncated[^\n]*\n$"));
    }

    [Test]
    public async Task Process_help_namesTheToolDeltasnap()
    {
        var result = await DeltaSnapTool.RunProcessAsync("--help");

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Out, Does.Contain("Usage:\n  deltasnap [command] [options]"));
    }

    [Test]
    public async Task Process_interruptedWhileHashing_exits130SayingCancelled()
    {
        // /dev/zero never ends: the hash runs until interrupted. The signal is sent once the tool has the device
        // open, so it arrives while the command runs (before that, .NET's default handling would just end the process).
        using var process = DeltaSnapTool.StartProcess("hash", "-a", "sha256", "/dev/zero");
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (!HasOpen(process.Id, "/dev/zero") && !process.HasExited && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.That(Kill(process.Id, SigInt), Is.Zero, "kill(SIGINT)");

        var result = await DeltaSnapTool.WaitAsync(process);

        Assert.That(result.ExitCode, Is.EqualTo(130), result.ToString());
        Assert.That(result.Error, Is.EqualTo("deltasnap: Cancelled.\n"));
        Assert.That(result.Out, Is.Empty);
    }

    private static bool HasOpen(int pid, string path)
    {
        try
        {
            return new DirectoryInfo($"/proc/{pid}/fd").EnumerateFileSystemInfos().Any(fd => fd.LinkTarget == path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // the process is starting or gone
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
