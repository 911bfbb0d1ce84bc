using System.CommandLine;
using System.Net.Sockets;
using System.Text.Json;
using DeltaSnap.Cli.Commands;

namespace DeltaSnap.Lvol.Tests;

/// <summary>The <c>deltasnap lvol</c> commands, run in-process on real store files.</summary>
public sealed class LvolCommandsTests : StoreFixture
{
    private static async Task<(int Exit, string Out, string Error)> RunAsync(params string[] args) => await RunAsync(CancellationToken.None, args);

    private static async Task<(int Exit, string Out, string Error)> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        var root = new RootCommand { LvolCommands.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await root.Parse(["lvol", .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    [Test]
    public async Task CreateImportSnapshotExport_roundTripsTheBytes()
    {
        var store = StorePath();
        var input = Path.Combine(Directory, "input.img");
        var data = Pattern(3 << 20, 1);
        Array.Clear(data, 1 << 20, 1 << 20); // a run of zeros stays unallocated
        await File.WriteAllBytesAsync(input, data);

        Assert.That((await RunAsync("create-store", store, "--cluster-size", "64K")).Exit, Is.Zero);
        Assert.That((await RunAsync("create", store, "vm1", "--size", "4M", "--thin")).Exit, Is.Zero);
        var import = await RunAsync("import", store, "vm1", input, "--offset", "512K");
        Assert.That(import.Exit, Is.Zero, import.Error);
        Assert.That((await RunAsync("snapshot", store, "vm1", "s1")).Exit, Is.Zero);
        Assert.That((await RunAsync("import", store, "vm1", input)).Exit, Is.Zero);

        var snapshotFile = Path.Combine(Directory, "s1.img");
        var export = await RunAsync("export", store, "vm1@s1", snapshotFile);
        Assert.That(export.Exit, Is.Zero, export.Error);
        var expected = new byte[4 << 20];
        data.CopyTo(expected, 512 << 10);
        Assert.That(await File.ReadAllBytesAsync(snapshotFile), Is.EqualTo(expected));

        var list = await RunAsync("list", store, "--json");
        Assert.That(list.Exit, Is.Zero);
        var entries = JsonDocument.Parse(list.Out).RootElement.EnumerateArray().ToList();
        Assert.That(entries.Select(e => e.GetProperty("name").GetString()), Is.EqualTo(new[] { "vm1@s1", "vm1" }));
        Assert.That(entries[0].GetProperty("snapshot").GetBoolean(), Is.True);
        Assert.That(entries[0].GetProperty("allocatedClusters").GetInt64(), Is.EqualTo(32), "the zero MiB was not allocated");
        Assert.That(entries[1].GetProperty("parent").GetString(), Is.EqualTo("vm1@s1"));

        var fsck = await RunAsync("fsck", store);
        Assert.That(fsck.Exit, Is.Zero);
        Assert.That(fsck.Out, Does.Contain("consistent"));
    }

    [Test]
    public async Task List_text_showsEveryLvol()
    {
        var store = StorePath();
        await RunAsync("create-store", store);
        await RunAsync("create", store, "vm1", "--size", "2M");
        var list = await RunAsync("list", store);
        Assert.That(list.Exit, Is.Zero);
        Assert.That(list.Out, Does.Contain("vm1").And.Contain("2 MiB").And.Contain("thick"));
    }

    [TestCase("create", "{store}", "vm1", "--size", "lots")]
    [TestCase("create", "{store}", "bad/name", "--size", "1M")]
    [TestCase("create", "{store}", "-rf", "--size", "1M")]
    [TestCase("create", "{store}", "vm1")]
    [TestCase("create-store", "{store}", "--cluster-size", "3K")]
    [TestCase("import", "{store}", "vm1", "{missing}")]
    [TestCase("export", "{store}", "nope", "{out}")]
    [TestCase("export", "{store}", "vm1@nope", "{out}")]
    [TestCase("snapshot", "{store}", "vm1", "a@b")]
    [TestCase("list", "{missing}")]
    [TestCase("fsck", "{missing}")]
    public async Task BadInput_failsWithAMessage(params string[] template)
    {
        var store = StorePath();
        await RunAsync("create-store", store);
        await RunAsync("create", store, "vm1", "--size", "1M");
        var args = template.Select(a => a.Replace("{store}", store, StringComparison.Ordinal)
            .Replace("{missing}", Path.Combine(Directory, "missing"), StringComparison.Ordinal)
            .Replace("{out}", Path.Combine(Directory, "out.img"), StringComparison.Ordinal)).ToArray();

        var (exit, _, error) = await RunAsync(args);

        Assert.That(exit, Is.Not.Zero);
        Assert.That(error.Trim(), Is.Not.Empty);
        Assert.That(error, Does.Not.Contain("   at "), "no stack trace");
    }

    [Test]
    public async Task Import_largerThanTheVolume_isRefused()
    {
        var store = StorePath();
        var input = Path.Combine(Directory, "big.img");
        await File.WriteAllBytesAsync(input, Pattern(2 << 20, 2));
        await RunAsync("create-store", store);
        await RunAsync("create", store, "vm1", "--size", "1M");
        var (exit, _, error) = await RunAsync("import", store, "vm1", input);
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("does not fit"));
    }

    [Test]
    public async Task Fsck_corruptStore_failsNamingTheProblem()
    {
        var store = StorePath();
        await RunAsync("create-store", store);
        await using (var stream = new FileStream(store, FileMode.Open))
        {
            stream.Position = 100;
            stream.WriteByte(0xFF); // the superblock's CRC no longer matches
        }
        var (exit, _, error) = await RunAsync("fsck", store);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(error, Does.Contain("superblock"));
    }

    [Test]
    public async Task Serve_answersJsonRpcUntilCancelled()
    {
        var store = StorePath();
        var socket = Path.Combine(Directory, "s.sock");
        await RunAsync("create-store", store);
        await RunAsync("create", store, "vm1", "--size", "1M");
        using var stop = new CancellationTokenSource();
        var serving = RunAsync(stop.Token, "serve", "--store", store, "--socket", socket);
        for (var i = 0; i < 300 && !File.Exists(socket); i++)
        {
            await Task.Delay(10);
        }
        await using (var client = await SpdkRpcClient.ConnectAsync(socket))
        {
            var lvols = await client.BdevLvolGetLvolsAsync();
            Assert.That(lvols.Single().Alias, Is.EqualTo("store/vm1"));
        }
        await stop.CancelAsync();
        var (exit, output, _) = await serving;
        Assert.That(output, Does.Contain("serving store"));
        Assert.That(exit, Is.Zero.Or.EqualTo(130));
        Assert.That(File.Exists(socket), Is.False, "the socket is removed");
        Assert.ThrowsAsync<SocketException>(() => SpdkRpcClient.ConnectAsync(socket));
    }
}
