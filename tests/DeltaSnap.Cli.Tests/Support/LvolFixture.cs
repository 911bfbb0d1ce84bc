using System.Text.Json;

namespace DeltaSnap.Cli.Tests.Support;

/// <summary>
/// Lvol stores in a temporary directory, set up and read through the tool's own <c>lvol</c> commands (in-process),
/// for end-to-end tests of the volume commands (<c>snapshot</c>, <c>plan</c>, <c>refresh</c>).
/// </summary>
internal sealed class LvolFixture(TempDirectory dir)
{
    /// <summary>The volume size the tests use.</summary>
    public const int VolumeSize = 4 << 20;

    /// <summary>Runs the tool and fails the test unless it exits 0.</summary>
    public static async Task<ToolResult> RunOkAsync(params string[] args)
    {
        var result = await DeltaSnapTool.RunAsync(args);
        Assert.That(result.ExitCode, Is.Zero, $"deltasnap {string.Join(' ', args)}\n{result}");
        return result;
    }

    /// <summary>Runs the tool with <c>--json</c> appended and parses standard output.</summary>
    public static async Task<JsonElement> RunJsonAsync(params string[] args)
    {
        var result = await RunOkAsync([.. args, "--json"]);
        using var json = JsonDocument.Parse(result.Out);
        return json.RootElement.Clone();
    }

    /// <summary>Creates a store with 64 KiB clusters; returns its path.</summary>
    public async Task<string> CreateStoreAsync(string name)
    {
        var store = dir.File(name + ".lvs");
        await RunOkAsync("lvol", "create-store", store, "--cluster-size", "64K");
        return store;
    }

    /// <summary>Creates a thin volume of <see cref="VolumeSize"/> bytes; returns its address (<c>lvol:STORE#VOL</c>).</summary>
    public static async Task<string> CreateVolumeAsync(string store, string volume)
    {
        await RunOkAsync("lvol", "create", store, volume, "--size", VolumeSize.ToString(System.Globalization.CultureInfo.InvariantCulture), "--thin");
        return Address(store, volume);
    }

    public static string Address(string store, string volume) => $"lvol:{store}#{volume}";

    /// <summary>Writes <paramref name="data"/> into the volume's live state at <paramref name="offset"/>.</summary>
    public async Task WriteAsync(string store, string volume, long offset, byte[] data)
    {
        var file = dir.File($"write-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(file, data);
        await RunOkAsync("lvol", "import", store, volume, file, "--offset", offset.ToString(System.Globalization.CultureInfo.InvariantCulture));
        File.Delete(file);
    }

    /// <summary>Every byte of a volume's live state, or of a snapshot given as <c>VOL@SNAP</c>.</summary>
    public async Task<byte[]> ReadAsync(string store, string volumeOrSnapshot)
    {
        var file = dir.File($"read-{Guid.NewGuid():N}.img");
        await RunOkAsync("lvol", "export", store, volumeOrSnapshot, file);
        var bytes = await File.ReadAllBytesAsync(file);
        File.Delete(file);
        return bytes;
    }

    /// <summary>The volume's snapshots, oldest first, as <c>snapshot list --json</c> prints them.</summary>
    public static async Task<JsonElement[]> SnapshotsAsync(string address) =>
        [.. (await RunJsonAsync("snapshot", "list", address)).EnumerateArray()];

    /// <summary>Random bytes from a fixed seed.</summary>
    public static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
