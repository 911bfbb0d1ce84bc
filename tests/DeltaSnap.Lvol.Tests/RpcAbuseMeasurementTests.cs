using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// Issue 15's abuse, replayed against a server in this process while its resident set and a well-behaved client's
/// latency are sampled. Run by hand (it measures, and a memory target belongs to a measurement, not to every test
/// run): <c>dotnet test tests/DeltaSnap.Lvol.Tests -c Release --filter Name=AbuseReplay_peakRssAndLatency_stayBounded</c>.
/// </summary>
public sealed class RpcAbuseMeasurementTests : StoreFixture
{
    private const int Connections = 39;
    private const int RequestBytes = 15_000_000;

    private static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
            }
        }
        throw new InvalidOperationException("No VmRSS in /proc/self/status.");
    }

    [Test]
    [Explicit("A measurement run by hand: samples this process's resident set under abuse.")]
    public async Task AbuseReplay_peakRssAndLatency_stayBounded()
    {
        await using var store = await CreateStoreAsync(1 << 20, "lvs");
        await store.CreateLvolAsync("vol", 64L << 20);
        await store.SnapshotAsync("vol", "snap");
        await using var bed = await RpcTestBed.StartAsync(Directory, "rpc", store);
        await using var probe = await bed.ConnectAsync();
        for (var i = 0; i < 50; i++)
        {
            await probe.BdevLvolGetLvolsAsync();
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        await Task.Delay(500);
        var idle = ResidentBytes();

        using var stop = new CancellationTokenSource();
        var peak = idle;
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, ResidentBytes());
                await Task.Delay(5);
            }
        });
        var latencies = new List<double>();
        var prober = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var watch = Stopwatch.StartNew();
                await probe.BdevLvolGetLvolsAsync();
                lock (latencies)
                {
                    latencies.Add(watch.Elapsed.TotalMilliseconds);
                }
                await Task.Delay(10);
            }
        });

        var watchAll = Stopwatch.StartNew();
        var chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
        var holders = Enumerable.Range(0, Connections).Select(async _ =>
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(bed.SocketPath));
            await socket.SendAsync(Encoding.ASCII.GetBytes("{\"id\":1,\"method\":\"bdev_lvol_get_lvols\",\"params\":{\"lvs_name\":\""));
            long sent = 0;
            try
            {
                while (sent < RequestBytes)
                {
                    sent += await socket.SendAsync(chunk);
                }
            }
            catch (SocketException)
            {
                // Cut by the server at its request size limit.
            }
            return sent;
        }).ToList();
        var attacks = new[]
        {
            """{"id":1,"method":"bdev_lvol_resize","params":{"name":"lvs/vol","size_in_mib":8796093022208}}""",
            """{"id":2,"method":"bdev_lvol_create","params":{"lvs_name":"lvs","lvol_name":"thick","size_in_mib":1099511627776,"thin_provision":false}}""",
            """{"id":3,"method":"bdev_lvol_decouple_parent","params":{"name":null}}""",
            "{\"id\":4,\"method\":\"bdev_lvol_create\",\"params\":{\"lvs_name\":\"" + new string('n', 4 << 20) + "\",\"lvol_name\":\"x\",\"size_in_mib\":1}}",
        };
        var answers = new List<string>();
        foreach (var attack in attacks)
        {
            var watch = Stopwatch.StartNew();
            List<System.Text.Json.JsonElement> response;
            try
            {
                response = await bed.ExchangeRawAsync(attack, 1);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                response = [];
            }
            answers.Add($"{attack[..Math.Min(60, attack.Length)]}… → {(response.Count > 0 ? response[0].GetRawText()[..Math.Min(160, response[0].GetRawText().Length)] : "(connection closed)")} in {watch.Elapsed.TotalMilliseconds:F0} ms");
        }
        var sent = await Task.WhenAll(holders);
        var abuseTime = watchAll.Elapsed;
        await Task.Delay(200);
        await stop.CancelAsync();
        await sampler;
        await prober;

        var over = (peak - idle) / (1024.0 * 1024.0);
        List<double> sorted;
        lock (latencies)
        {
            sorted = latencies.Order().ToList();
        }
        await TestContext.Out.WriteLineAsync($"idle RSS {idle / (1024.0 * 1024.0):F1} MiB, peak {peak / (1024.0 * 1024.0):F1} MiB: {over:F1} MiB above idle");
        await TestContext.Out.WriteLineAsync($"{Connections} connections sent at most {sent.Max() / (1024.0 * 1024.0):F2} MiB each of a {RequestBytes / 1e6:F0} MB request before being cut; abuse took {abuseTime.TotalMilliseconds:F0} ms");
        await TestContext.Out.WriteLineAsync($"probe get_lvols during the abuse: {sorted.Count} calls, median {sorted[sorted.Count / 2]:F1} ms, max {sorted[^1]:F1} ms");
        foreach (var answer in answers)
        {
            await TestContext.Out.WriteLineAsync(answer);
        }
        Assert.That(over, Is.LessThanOrEqualTo(128), "peak RSS above idle, MiB");
        Assert.That(sorted[^1], Is.LessThan(2000), "no probe waited seconds");
    }
}
