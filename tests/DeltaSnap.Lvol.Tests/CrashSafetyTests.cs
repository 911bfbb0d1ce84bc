using System.Diagnostics;
using DeltaSnap.Lvol.CrashWorker;

namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// Starts a child process that writes, unmaps, snapshots, deletes, rolls back and shallow-copies in a loop, kills it
/// with SIGKILL at random moments, reopens the store and checks: fsck finds nothing wrong, and every lvol reads either
/// what it held before the interrupted operation or what it holds after it (per 4 KiB block for data operations, as a
/// disk guarantees). Operations that reported completion are never lost.
/// </summary>
[NonParallelizable]
public sealed class CrashSafetyTests : StoreFixture
{
    private const int Cluster = 16 * 1024;
    private const int Size = (40 * Cluster) + 3000;

    [Test]
    public async Task KilledAtRandomPoints_storeReopensConsistentWithBeforeOrAfterState()
    {
        var worker = Path.Combine(AppContext.BaseDirectory, "DeltaSnap.Lvol.CrashWorker.dll");
        Assert.That(File.Exists(worker), Is.True, $"the worker is built next to the tests ({worker})");
        await using (var store = await CreateStoreAsync(Cluster))
        {
            await store.CreateLvolAsync("vol", Size);
            await store.CreateLvolAsync("copy", Size);
        }
        var model = new Dictionary<string, byte[]> { ["vol"] = new byte[Size], ["copy"] = new byte[Size] };
        var rng = new Random(20260101);
        long generation = 0;
        var interrupted = new Dictionary<char, int>();
        var completed = 0;
        const int kills = 40;
        for (var kill = 0; kill < kills; kill++)
        {
            var lines = await RunAndKillAsync(worker, rng.Next(), generation, rng.Next(150, 1200));
            generation += 1_000_000;

            string? inflight = null;
            foreach (var line in lines)
            {
                if (line.StartsWith("B ", StringComparison.Ordinal))
                {
                    inflight = line[2..];
                }
                else if (line == "E" && inflight is not null)
                {
                    Apply(model, inflight);
                    inflight = null;
                    completed++;
                }
            }

            await using var store = await LvolStore.OpenAsync(StorePath());
            var report = await store.FsckAsync();
            Assert.That(report.Problems, Is.Empty, $"fsck after kill {kill} (in flight: {inflight ?? "nothing"})");

            var actual = new Dictionary<string, byte[]>();
            foreach (var lvol in store.ListLvols())
            {
                actual[lvol.Name] = await ReadAllAsync(store, lvol.Name);
            }
            if (inflight is null)
            {
                AssertSame(model, actual, $"kill {kill}, between operations");
                continue;
            }
            interrupted[inflight[0]] = interrupted.GetValueOrDefault(inflight[0]) + 1;
            var after = model.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
            Apply(after, inflight);
            if (inflight[0] is 'W' or 'U' or 'C')
            {
                // Data operations: each 4 KiB block of the lvol they write is old or new.
                var target = inflight.Split(' ')[inflight[0] == 'C' ? 2 : 1];
                foreach (var name in model.Keys.Where(n => n != target))
                {
                    Assert.That(actual[name], Is.EqualTo(model[name]), $"kill {kill} during '{inflight}': lvol {name} must not change");
                }
                var a = actual[target];
                for (var block = 0; block < Size; block += 4096)
                {
                    var n = Math.Min(4096, Size - block);
                    var span = a.AsSpan(block, n);
                    Assert.That(span.SequenceEqual(model[target].AsSpan(block, n)) || span.SequenceEqual(after[target].AsSpan(block, n)), Is.True,
                        $"kill {kill} during '{inflight}': block at {block} of {target} is neither before nor after");
                }
                model[target] = a;
            }
            else
            {
                var matchesBefore = Same(model, actual);
                var matchesAfter = Same(after, actual);
                Assert.That(matchesBefore || matchesAfter, Is.True, $"kill {kill} during '{inflight}': the store is neither before nor after it");
                if (matchesAfter)
                {
                    model = after;
                }
            }
        }
        TestContext.Out.WriteLine($"{completed} operations completed; interrupted mid-operation: {string.Join(", ", interrupted.Select(kv => $"{kv.Key}={kv.Value}"))}");
        Assert.That(completed, Is.GreaterThan(kills), "the worker got work done between kills");
        Assert.That(interrupted.Values.Sum(), Is.GreaterThan(kills / 2), "most kills landed inside an operation");
    }

    private async Task<List<string>> RunAndKillAsync(string worker, int seed, long generation, int delayMs)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(worker);
        info.ArgumentList.Add(StorePath());
        info.ArgumentList.Add(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.ArgumentList.Add(generation.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var process = Process.Start(info)!;
        var lines = new List<string>();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Task.Run(async () =>
        {
            string? line;
            while ((line = await process.StandardOutput.ReadLineAsync()) is not null)
            {
                lock (lines)
                {
                    lines.Add(line);
                }
                started.TrySetResult();
            }
            started.TrySetResult();
        });
        var stderr = process.StandardError.ReadToEndAsync();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(delayMs);
        var killed = !process.HasExited;
        if (killed)
        {
            process.Kill(); // SIGKILL
        }
        await process.WaitForExitAsync();
        await reading;
        Assert.That(killed, Is.True, $"the worker ended by itself (exit {process.ExitCode}): {await stderr}");
        return lines;
    }

    private static void Apply(Dictionary<string, byte[]> model, string op)
    {
        var p = op.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        switch (p[0])
        {
            case "W":
                {
                    var offset = long.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture);
                    var length = int.Parse(p[3], System.Globalization.CultureInfo.InvariantCulture);
                    Patterns.Make(long.Parse(p[4], System.Globalization.CultureInfo.InvariantCulture), offset, length).CopyTo(model[p[1]], offset);
                    break;
                }
            case "U":
                Array.Clear(model[p[1]], int.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(p[3], System.Globalization.CultureInfo.InvariantCulture));
                break;
            case "S":
                model[p[2]] = model[p[1]].ToArray();
                break;
            case "D":
                model.Remove(p[1]);
                break;
            case "R":
                model[p[1]] = model[p[2]].ToArray();
                break;
            case "C":
                foreach (var item in p.Skip(3))
                {
                    var c = int.Parse(item[..^2], System.Globalization.CultureInfo.InvariantCulture);
                    var start = c * Cluster;
                    var n = Math.Min(Cluster, Size - start);
                    if (item[^1] == 'h')
                    {
                        Array.Copy(model[p[1]], start, model[p[2]], start, n);
                    }
                    else
                    {
                        Array.Clear(model[p[2]], start, n);
                    }
                }
                break;
            default:
                throw new InvalidOperationException($"Unknown operation '{op}'.");
        }
    }

    private static bool Same(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual) =>
        expected.Count == actual.Count && expected.All(kv => actual.TryGetValue(kv.Key, out var a) && a.AsSpan().SequenceEqual(kv.Value));

    private static void AssertSame(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual, string when)
    {
        Assert.That(actual.Keys.Order(), Is.EqualTo(expected.Keys.Order()), $"{when}: the lvols");
        foreach (var (name, bytes) in expected)
        {
            Assert.That(actual[name], Is.EqualTo(bytes), $"{when}: lvol {name}");
        }
    }
}
