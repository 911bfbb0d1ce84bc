using System.Diagnostics;
using System.Security.Cryptography;
using DeltaSnap.Devices;
using DeltaSnap.Testing;

namespace DeltaSnap.Ceph.Tests;

/// <summary>
/// The throw-away Ceph cluster of <c>scripts/backends/up.sh</c> (<c>CEPH_CONF</c>, <c>DELTASNAP_CEPH_POOL_A/B</c>):
/// requirements, unique image names, and the real <c>rbd</c> command for interoperability checks.
/// </summary>
internal static class CephCluster
{
    /// <summary>Pool A (fails or ignores the test when the cluster is not up).</summary>
    public static string PoolA => Require("DELTASNAP_CEPH_POOL_A");

    /// <summary>Pool B.</summary>
    public static string PoolB => Require("DELTASNAP_CEPH_POOL_B");

    /// <summary>Fails or ignores the test unless the cluster is up.</summary>
    public static void RequireCluster()
    {
        BackendRequirement.RequireEnvironment("CEPH_CONF", "The Ceph test cluster");
        BackendRequirement.RequireEnvironment("DELTASNAP_CEPH_POOL_A", "The Ceph test cluster's pool A");
    }

    /// <summary>Connects a driver to the test cluster.</summary>
    public static async Task<RbdDriver> ConnectAsync(string? defaultPool = null, RbdDriverOptions? options = null)
    {
        RequireCluster();
        return await RbdDriver.ConnectAsync((options ?? new RbdDriverOptions()) with { DefaultPool = defaultPool });
    }

    /// <summary>A fresh image name.</summary>
    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>
    /// What a creation killed after librbd listed the image, before it wrote the header, leaves: the id object and the
    /// pool directory's two entries (values are length-prefixed strings), no header. Written with the <c>rados</c> CLI.
    /// </summary>
    public static async Task MakeHalfCreatedImageAsync(string pool, string name)
    {
        static byte[] Encoded(string text)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            return [.. BitConverter.GetBytes(bytes.Length), .. bytes];
        }
        var id = Guid.NewGuid().ToString("N")[..12];
        await RadosAsync(["-p", pool, "put", $"rbd_id.{name}", "-"], Encoded(id));
        await RadosAsync(["-p", pool, "setomapval", "rbd_directory", $"name_{name}"], Encoded(id));
        await RadosAsync(["-p", pool, "setomapval", "rbd_directory", $"id_{id}"], Encoded(name));
    }

    private static async Task RadosAsync(string[] arguments, byte[] input)
    {
        var rados = BackendRequirement.RequireProgram("rados", "ceph-common");
        var info = new ProcessStartInfo(rados) { RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        await process.StandardInput.BaseStream.WriteAsync(input);
        process.StandardInput.Close();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.That(process.ExitCode, Is.Zero, $"rados {string.Join(' ', arguments)}: {stderr}");
    }

    /// <summary>The snapshot ids of image <paramref name="spec"/>, read with <c>rbd snap ls --format json</c>.</summary>
    public static async Task<ulong[]> SnapshotIdsAsync(string spec)
    {
        using var json = System.Text.Json.JsonDocument.Parse(await RbdAsync(["snap", "ls", "--format", "json", spec]));
        return json.RootElement.EnumerateArray().Select(s => s.GetProperty("id").GetUInt64()).ToArray();
    }

    /// <summary>Runs <c>rbd</c> with arguments; stdin from <paramref name="input"/> when given; returns stdout bytes.</summary>
    public static async Task<byte[]> RbdAsync(string[] arguments, Stream? input = null, int expectedExit = 0)
    {
        var (exit, stdout, stderr) = await RbdRawAsync(arguments, input);
        if (exit != expectedExit)
        {
            Assert.Fail($"rbd {string.Join(' ', arguments)} exited with {exit}, expected {expectedExit}: {stderr}");
        }
        return stdout;
    }

    /// <summary>Runs <c>rbd</c> and returns its exit code, stdout and stderr.</summary>
    public static async Task<(int Exit, byte[] Stdout, string Stderr)> RbdRawAsync(string[] arguments, Stream? input = null)
    {
        var rbd = BackendRequirement.RequireProgram("rbd", "ceph-common");
        var info = new ProcessStartInfo(rbd)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stdout = new MemoryStream();
        var copyOut = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var readErr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            try
            {
                await input.CopyToAsync(process.StandardInput.BaseStream);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // rbd stopped reading (it refused the input); its exit code and stderr say why.
            }
        }
        await process.WaitForExitAsync();
        await copyOut;
        return (process.ExitCode, stdout.ToArray(), await readErr);
    }

    /// <summary>The content of <c>pool/image[@snap]</c> as <c>rbd export</c> writes it.</summary>
    public static Task<byte[]> ExportAsync(string spec) => RbdAsync(["export", "--no-progress", spec, "-"]);

    /// <summary>The SHA-256 of a whole device.</summary>
    public static async Task<string> HashAsync(BlockDevice device)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[4 << 20];
        for (long offset = 0; offset < device.Length; offset += buffer.Length)
        {
            var n = (int)Math.Min(buffer.Length, device.Length - offset);
            await device.ReadAsync(offset, buffer.AsMemory(0, n));
            sha.AppendData(buffer, 0, n);
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>The SHA-256 of bytes.</summary>
    public static string Hash(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data));

    /// <summary>Random bytes.</summary>
    public static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static string Require(string variable)
    {
        RequireCluster();
        return BackendRequirement.RequireEnvironment(variable, "The Ceph test cluster");
    }
}

/// <summary>A driver and the images a test created, removed afterwards.</summary>
internal sealed class CephScope : IAsyncDisposable
{
    private readonly List<string> _images = [];

    private CephScope(RbdDriver driver) => Driver = driver;

    public RbdDriver Driver { get; }

    public static async Task<CephScope> CreateAsync(RbdDriverOptions? options = null) => new(await CephCluster.ConnectAsync(null, options));

    /// <summary>Creates an image <c>pool/unique</c> of <paramref name="size"/> bytes.</summary>
    public async Task<RbdVolume> CreateAsync(string pool, long size, string prefix = "t")
    {
        var name = $"{pool}/{CephCluster.UniqueName(prefix)}";
        _images.Add(name);
        return (RbdVolume)await Driver.CreateVolumeAsync(name, new Drivers.VolumeCreateOptions { Size = size });
    }

    /// <summary>Registers an image made elsewhere (by the rbd command) for removal.</summary>
    public string Track(string name)
    {
        _images.Add(name);
        return name;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in _images)
        {
            try
            {
                if (await Driver.VolumeExistsAsync(name))
                {
                    await Driver.DeleteVolumeAsync(name);
                }
            }
            catch (DeltaSnapException e)
            {
                TestContext.Out.WriteLine($"cleanup of {name} failed: {e.Message}");
            }
        }
        await Driver.DisposeAsync();
    }
}
