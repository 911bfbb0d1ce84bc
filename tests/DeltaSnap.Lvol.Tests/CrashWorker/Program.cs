using DeltaSnap;
using DeltaSnap.Lvol;

namespace DeltaSnap.Lvol.CrashWorker;

/// <summary>
/// Runs writes, unmaps, snapshots, deletes, rollbacks and range shallow copies on an lvol store in a loop, printing
/// one line before each operation ("B ...", everything needed to replay it) and "E" once it is durable, until it is
/// killed. Arguments: STORE SEED GENERATION.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var storePath = args[0];
        var rng = new Random(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
        var generation = long.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        var output = Console.Out;
        await using var store = await LvolStore.OpenAsync(storePath);
        var size = store.GetLvol("vol").Size;
        var cluster = store.ClusterSize;
        for (var step = 0; step < 100_000; step++)
        {
            generation++;
            var op = rng.Next(100);
            var snapshots = store.ListLvols().Where(l => l.IsSnapshot).ToList();
            if (op is >= 58 and < 72 && snapshots.Count >= 6)
            {
                op = 75; // keep the chain short: delete instead of snapshotting again
            }
            if (op < 50)
            {
                var target = rng.Next(4) == 0 ? "copy" : "vol";
                var offset = rng.NextInt64(0, size - 1);
                var length = (int)Math.Min(size - offset, rng.Next(1, 3 * cluster));
                await output.WriteLineAsync($"B W {target} {offset} {length} {generation}");
                await using (var device = store.OpenDevice(target, writable: true))
                {
                    await device.WriteAsync(offset, Patterns.Make(generation, offset, length));
                    await device.FlushAsync();
                }
            }
            else if (op < 58)
            {
                var offset = rng.NextInt64(0, size - 1);
                var length = (int)Math.Min(size - offset, rng.Next(1, 4 * cluster));
                await output.WriteLineAsync($"B U vol {offset} {length}");
                await using (var device = store.OpenDevice("vol", writable: true))
                {
                    await device.UnmapAsync(new ByteRange(offset, length));
                    await device.FlushAsync();
                }
            }
            else if (op < 72)
            {
                await output.WriteLineAsync($"B S vol s{generation}");
                await store.SnapshotAsync("vol", $"s{generation}");
            }
            else if (op < 82 && snapshots.Count > 0)
            {
                var victim = snapshots[rng.Next(snapshots.Count)];
                if (victim.Children.Count > 1)
                {
                    continue;
                }
                await output.WriteLineAsync($"B D {victim.Name}");
                await store.DeleteLvolAsync(victim.Name);
            }
            else if (op < 86 && store.GetLvol("vol").ParentName is { } parent)
            {
                await output.WriteLineAsync($"B R vol {parent}");
                await store.RollbackAsync("vol", parent);
            }
            else if (snapshots.Count > 0)
            {
                var source = snapshots[rng.Next(snapshots.Count)];
                var fragmap = store.GetFragmap(source.Name);
                var clusters = Enumerable.Range(0, (int)fragmap.ClusterCount).Where(_ => rng.Next(3) == 0).Select(c => (long)c).ToList();
                var described = string.Join(' ', clusters.Select(c => $"{c}:{(fragmap.Map[c] ? 'h' : 'u')}"));
                await output.WriteLineAsync($"B C {source.Name} copy {described}");
                await using var device = store.OpenDevice("copy", writable: true);
                var operation = store.StartRangeShallowCopy(source.Name, device, clusters);
                await operation.Completion;
                if (operation.Error is { } error)
                {
                    throw error;
                }
            }
            else
            {
                continue;
            }
            await output.WriteLineAsync("E");
        }
        return 0;
    }
}
