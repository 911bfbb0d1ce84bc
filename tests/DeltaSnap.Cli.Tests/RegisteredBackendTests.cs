using System.Text.Json;
using DeltaSnap.Cli.Tests.Support;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// A backend that is not part of the tool, registered by the program that runs it (<see cref="CliContext"/>), works in
/// the volume commands by URI like the built-in ones: <c>refresh</c> copies the data, <c>snapshot</c> sees the lineage.
/// </summary>
public class RegisteredBackendTests
{
    private const int Size = 1 << 20;

    [Test]
    public async Task Refresh_backendRegisteredByTheProgram_refreshesByUriAndTheTargetHoldsTheSourcesBytes()
    {
        var backend = new MemoryBlockBackend();
        var source = backend.Add("src", LvolFixture.RandomBytes(Size, 1));
        var target = backend.Add("dst", new byte[Size]);
        Assert.That((await RunAsync(backend, "snapshot", "create", "mem:src", "s1")).ExitCode, Is.Zero);

        var first = await RunJsonAsync(backend, "refresh", "mem:src", "mem:dst");

        Assert.That(first.GetProperty("route").GetString(), Is.EqualTo("checksum"));
        Assert.That(first.GetProperty("snapshots").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "s1" }));
        Assert.That(target.Live, Is.EqualTo(source.Live));
        Assert.That(target.Snapshots.Select(s => s.Info.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(target.Snapshots[0].Data, Is.EqualTo(source.Snapshots[0].Data));
        Assert.That(target.Snapshots[0].Info.ReceivedFrom, Is.EqualTo(source.Snapshots[0].Info.Identity));

        LvolFixture.RandomBytes(4096, 2).CopyTo(source.Live, 300 * 1024);
        var second = await RunJsonAsync(backend, "refresh", "mem:src", "mem:dst");

        Assert.That(second.GetProperty("kind").GetString(), Is.EqualTo("incremental"));
        Assert.That(second.GetProperty("bytesWritten").GetInt64(), Is.InRange(4096L, Size / 4), "only the changed region");
        Assert.That(target.Live, Is.EqualTo(source.Live));
    }

    [Test]
    public async Task AnyCommand_unknownScheme_listsTheRegisteredSchemesIncludingTheProgramsOwn()
    {
        var result = await RunAsync(new MemoryBlockBackend(), "snapshot", "list", "nfs:server/vm1");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        SnapshotCommandTests.AssertOneErrorLine(result);
        Assert.That(result.Error, Does.Contain("unknown scheme 'nfs'; registered: lvol, zfs, btrfs, rbd, dir, file, mem, ssh, tls."));

        var withoutIt = await DeltaSnapTool.RunAsync("snapshot", "list", "mem:src");
        Assert.That(withoutIt.ExitCode, Is.EqualTo(2), withoutIt.ToString());
        Assert.That(withoutIt.Error, Does.Contain("unknown scheme 'mem'; registered: lvol, zfs, btrfs, rbd, dir, file, ssh, tls."));
    }

    private static async Task<ToolResult> RunAsync(MemoryBlockBackend backend, params string[] args)
    {
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter { NewLine = "\n" };
        var context = new CliContext(error, resolver => resolver.Add(backend));
        var exitCode = await Program.RunAsync(context, args, output, error);
        return new ToolResult(exitCode, output.ToString(), error.ToString());
    }

    private static async Task<JsonElement> RunJsonAsync(MemoryBlockBackend backend, params string[] args)
    {
        var result = await RunAsync(backend, [.. args, "--json"]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        return json.RootElement.Clone();
    }
}
