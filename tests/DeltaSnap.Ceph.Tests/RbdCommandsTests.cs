using System.CommandLine;
using DeltaSnap.Cli.Commands;

namespace DeltaSnap.Ceph.Tests;

/// <summary><c>deltasnap rbd export-diff|import-diff</c>, run in-process, against files the real <c>rbd</c> reads and writes.</summary>
public class RbdCommandsTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("dsnap-rbdcli-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Exit, string Out, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand { RbdCommands.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private static async Task<RbdVolume> ImageWithSnapshotsAsync(CephScope scope)
    {
        var volume = await scope.CreateAsync(CephCluster.PoolA, 16 << 20, "cli");
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(0, CephCluster.RandomBytes(6 << 20, 1));
        }
        await volume.CreateSnapshotAsync("a");
        await using (var device = await volume.OpenDeviceAsync(null, writable: true))
        {
            await device.WriteAsync(10 << 20, CephCluster.RandomBytes(100_000, 2));
            await device.UnmapAsync(new ByteRange(0, 4 << 20));
        }
        await volume.CreateSnapshotAsync("b");
        return volume;
    }

    [Test]
    public async Task ExportDiff_fullAndIncrementalFiles_loadedByRbdImportDiff()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await ImageWithSnapshotsAsync(scope);
        var full = Path.Combine(_dir, "a.diff");
        var incremental = Path.Combine(_dir, "ab.diff");
        var first = await RunAsync("rbd", "export-diff", $"{source.Name}@a", full);
        var second = await RunAsync("rbd", "export-diff", "--from-snap", "a", "--no-progress", $"rbd:{source.Name}@b", incremental);
        var target = scope.Track($"{CephCluster.PoolB}/{CephCluster.UniqueName("cli")}");
        await CephCluster.RbdAsync(["create", "--size", "1M", target]);
        await CephCluster.RbdAsync(["import-diff", "--no-progress", full, target]);
        await CephCluster.RbdAsync(["import-diff", "--no-progress", incremental, target]);
        Assert.Multiple(async () =>
        {
            Assert.That(first.Exit, Is.EqualTo(0), first.Error);
            Assert.That(second.Exit, Is.EqualTo(0), second.Error);
            Assert.That(second.Out, Does.StartWith($"exported {source.Name}@b from a:"));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{target}@b")), Is.EqualTo(CephCluster.Hash(await CephCluster.ExportAsync($"{source.Name}@b"))));
        });
    }

    [Test]
    public async Task ImportDiff_rbdExportDiffFiles_createSnapshotsWithTheSameContent()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await ImageWithSnapshotsAsync(scope);
        var full = Path.Combine(_dir, "a.diff");
        var incremental = Path.Combine(_dir, "ab.diff");
        await CephCluster.RbdAsync(["export-diff", "--no-progress", $"{source.Name}@a", full]);
        await CephCluster.RbdAsync(["export-diff", "--no-progress", "--from-snap", "a", $"{source.Name}@b", incremental]);
        var target = await scope.CreateAsync(CephCluster.PoolB, 1 << 20, "cli");
        var conf = Environment.GetEnvironmentVariable("CEPH_CONF")!;
        var first = await RunAsync("rbd", "import-diff", "--conf", conf, full, target.Name);
        var second = await RunAsync("rbd", "import-diff", "--id", "admin", incremental, target.Name);
        var again = await RunAsync("rbd", "import-diff", incremental, target.Name);
        Assert.Multiple(async () =>
        {
            Assert.That(first.Exit, Is.EqualTo(0), first.Error);
            Assert.That(second.Exit, Is.EqualTo(0), second.Error);
            Assert.That(second.Out, Does.Contain("created snapshot b"));
            Assert.That(again.Exit, Is.EqualTo(6), "a diff whose end snapshot exists does not fit the target: the stream-mismatch exit code");
            Assert.That(again.Error, Does.Contain("has already"));
            Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "a", "b" }));
            Assert.That(CephCluster.Hash(await CephCluster.ExportAsync($"{target.Name}@b")), Is.EqualTo(CephCluster.Hash(await CephCluster.ExportAsync($"{source.Name}@b"))));
        });
    }

    [Test]
    public async Task ExportDiff_existingFileOrMissingImage_failsAndLeavesFilesAlone()
    {
        await using var scope = await CephScope.CreateAsync();
        var source = await ImageWithSnapshotsAsync(scope);
        var existing = Path.Combine(_dir, "exists.diff");
        await File.WriteAllTextAsync(existing, "keep me");
        var onExisting = await RunAsync("rbd", "export-diff", $"{source.Name}@a", existing);
        var missing = Path.Combine(_dir, "missing.diff");
        var onMissingImage = await RunAsync("rbd", "export-diff", $"{CephCluster.PoolA}/no-such-image@a", missing);
        var onMissingSnapshot = await RunAsync("rbd", "export-diff", $"{source.Name}@zz", missing);
        Assert.Multiple(async () =>
        {
            Assert.That(onExisting.Exit, Is.EqualTo(1));
            Assert.That(await File.ReadAllTextAsync(existing), Is.EqualTo("keep me"));
            Assert.That(onMissingImage.Exit, Is.EqualTo(1));
            Assert.That(onMissingImage.Error, Does.Contain("no-such-image"));
            Assert.That(onMissingSnapshot.Exit, Is.EqualTo(1));
            Assert.That(File.Exists(missing), Is.False, "no half-written diff is left");
        });
    }

    [TestCase("import-diff", "x.diff", "rbd/img@snap", "not a snapshot")]
    [TestCase("export-diff", "rbd/img@", "x.diff", "empty")]
    [TestCase("export-diff", "rbd/img@-x", "x.diff", "starts with '-'")]
    [TestCase("export-diff", "rbd/../img@a", "x.diff", "..")]
    public async Task Commands_badSpecs_areUsageErrors(string command, string first, string second, string message)
    {
        CephCluster.RequireCluster();
        var (exit, _, error) = await RunAsync("rbd", command, first, second);
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(2), error);
            Assert.That(error, Does.Contain(message));
        });
    }

    [Test]
    public async Task Commands_badConnectionSettings_failWithTheLibradosError()
    {
        CephCluster.RequireCluster();
        var badConf = await RunAsync("rbd", "import-diff", "--conf", "/nonexistent.conf", "x.diff", "rbd/img");
        var bothIds = await RunAsync("rbd", "import-diff", "--id", "a", "--name", "client.b", "x.diff", "rbd/img");
        Assert.Multiple(() =>
        {
            Assert.That(badConf.Exit, Is.EqualTo(1));
            Assert.That(badConf.Error, Does.Contain("rados_conf_read_file(/nonexistent.conf)").And.Contain("errno 2"));
            Assert.That(bothIds.Exit, Is.EqualTo(2));
        });
    }
}
