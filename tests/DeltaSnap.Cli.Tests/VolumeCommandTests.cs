using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary><c>deltasnap volume create|list|delete</c>, end to end on an lvol store and a dir: location in a temporary directory.</summary>
public sealed class VolumeCommandTests
{
    private TempDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public async Task CreateListDelete_lvol_createsTheStoreListsAddressesAndDeletesOnlyWithYes()
    {
        var store = Path.Combine(_dir.Path, "new.lvs");
        var vm1 = $"lvol:{store}#vm1";
        var vm2 = $"lvol:{store}#vm2";

        var created = await LvolFixture.RunOkAsync("volume", "create", vm1, "--size", "8M");
        await LvolFixture.RunOkAsync("volume", "create", vm2, "--size", "4M");

        Assert.That(created.Out, Is.EqualTo($"created {vm1} (8 MiB block volume)\n"));
        Assert.That(File.Exists(store), Is.True, "the store file is created with its first volume");
        var list = await LvolFixture.RunOkAsync("volume", "list", $"lvol:{store}");
        Assert.That(list.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EquivalentTo(new[] { vm1, vm2 }));
        var json = await LvolFixture.RunJsonAsync("volume", "list", $"lvol:{store}");
        Assert.That(json.EnumerateArray().Select(e => e.GetString()), Is.EquivalentTo(new[] { vm1, vm2 }));

        var refused = await DeltaSnapTool.RunAsync("volume", "delete", vm2);
        Assert.That(refused.ExitCode, Is.EqualTo(2), "delete without --yes is a usage error");
        Assert.That(refused.Error, Does.Contain("--yes"));
        Assert.That((await LvolFixture.RunOkAsync("volume", "list", $"lvol:{store}")).Out, Does.Contain(vm2), "nothing deleted");

        var deleted = await LvolFixture.RunOkAsync("volume", "delete", vm2, "--yes");
        Assert.That(deleted.Out, Is.EqualTo($"deleted {vm2}\n"));
        Assert.That((await LvolFixture.RunOkAsync("volume", "list", $"lvol:{store}")).Out, Is.EqualTo(vm1 + "\n"));
        var missing = await DeltaSnapTool.RunAsync("volume", "delete", vm2, "--yes");
        Assert.That(missing.ExitCode, Is.EqualTo(1));
        Assert.That(missing.Error, Does.Contain("vm2"));
    }

    [Test]
    public async Task CreateList_dirFileSystemVolume_listsItsUri()
    {
        var root = Path.Combine(_dir.Path, "trees");
        Directory.CreateDirectory(root);

        await LvolFixture.RunOkAsync("volume", "create", $"dir:{root}/www", "--filesystem");

        Assert.That((await LvolFixture.RunOkAsync("volume", "list", $"dir:{root}")).Out, Is.EqualTo($"dir:{root}/www\n"));
        Assert.That(Directory.Exists(Path.Combine(root, "www")), Is.True);
    }

    [TestCase(new[] { "volume", "create", "lvol:/tmp/x.lvs#v" }, "--size")]
    [TestCase(new[] { "volume", "create", "lvol:/tmp/x.lvs#v", "--size", "12Q" }, "not a size")]
    [TestCase(new[] { "volume", "create", "lvol:/tmp/x.lvs#v", "--size", "0" }, "not a size")]
    [TestCase(new[] { "volume", "create", "dir:/tmp/x", "--filesystem", "--size", "1M" }, "--size applies to block volumes")]
    [TestCase(new[] { "volume", "list", "nope:/x" }, "Unknown scheme 'nope'")]
    [TestCase(new[] { "volume", "list", "lvol" }, "SCHEME:LOCATION")]
    [TestCase(new[] { "volume", "create", "lvol:/tmp/x.lvs#-v", "--size", "1M" }, "-v")]
    public async Task Volume_badArguments_usageErrorNamingTheProblem(string[] args, string expected)
    {
        var result = await DeltaSnapTool.RunAsync(args);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.Error);
        Assert.That(result.Error, Does.Contain(expected));
        Assert.That(File.Exists("/tmp/x.lvs"), Is.False, "nothing was created");
    }
}
