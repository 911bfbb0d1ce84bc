namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// Random sequences of writes, unmaps, snapshots, deletes, rollbacks, inflates and decouples, checked after every
/// step against a plain byte-array model of every lvol, and by fsck after reopening.
/// </summary>
public sealed class StoreModelTests : StoreFixture
{
    [TestCase(4096, 1)]
    [TestCase(16384, 2)]
    [TestCase(65536, 3)]
    [TestCase(16384, 4)]
    public async Task RandomOperations_matchTheModel(int clusterSize, int seed)
    {
        var rng = new Random(seed);
        var model = new Dictionary<string, byte[]>();
        var snapshots = new List<string>();
        var size = (clusterSize * 12) + 5000;
        var store = await CreateStoreAsync(clusterSize);
        try
        {
            await store.CreateLvolAsync("vol", size);
            model["vol"] = new byte[size];
            for (var step = 0; step < 80; step++)
            {
                var op = rng.Next(100);
                string what;
                if (op < 45)
                {
                    var offset = rng.Next(0, size - 1);
                    var length = rng.Next(1, Math.Min(size - offset, clusterSize * 3));
                    var data = Pattern(length, rng.Next());
                    await WriteAsync(store, "vol", offset, data, flush: rng.Next(2) == 0);
                    data.CopyTo(model["vol"], offset);
                    what = $"write {offset}+{length}";
                }
                else if (op < 55)
                {
                    var offset = rng.Next(0, size - 1);
                    var length = rng.Next(1, Math.Min(size - offset, clusterSize * 4));
                    await using (var d = store.OpenDevice("vol", writable: true))
                    {
                        await d.UnmapAsync(new ByteRange(offset, length));
                    }
                    Array.Clear(model["vol"], offset, length);
                    what = $"unmap {offset}+{length}";
                }
                else if (op < 70)
                {
                    var name = $"s{step}";
                    await store.SnapshotAsync("vol", name);
                    model[name] = model["vol"].ToArray();
                    snapshots.Add(name);
                    what = $"snapshot {name}";
                }
                else if (op < 80 && snapshots.Count > 0)
                {
                    var name = snapshots[rng.Next(snapshots.Count)];
                    if (store.GetLvol(name).Children.Count > 1)
                    {
                        var e = Assert.ThrowsAsync<LvolException>(() => store.DeleteLvolAsync(name));
                        Assert.That(e!.Errno, Is.EqualTo(LvolErrno.EBUSY));
                        what = $"delete {name} refused";
                    }
                    else
                    {
                        await store.DeleteLvolAsync(name);
                        snapshots.Remove(name);
                        model.Remove(name);
                        what = $"delete {name}";
                    }
                }
                else if (op < 86 && store.GetLvol("vol").ParentName is not null)
                {
                    // Roll back to the newest snapshot in the live lvol's chain.
                    var parent = store.GetLvol("vol").ParentName!;
                    await store.RollbackAsync("vol", parent);
                    model["vol"] = model[parent].ToArray();
                    what = $"rollback {parent}";
                }
                else if (op < 90 && store.GetLvol("vol").ParentName is not null)
                {
                    await store.DecoupleParentAsync("vol");
                    what = "decouple";
                }
                else if (op < 93)
                {
                    await store.InflateAsync("vol");
                    what = "inflate";
                }
                else
                {
                    await store.DisposeAsync();
                    store = await LvolStore.OpenAsync(StorePath());
                    what = "reopen";
                }
                foreach (var (name, expected) in model)
                {
                    var actual = await ReadAllAsync(store, name);
                    Assert.That(actual, Is.EqualTo(expected), $"lvol {name} after step {step} ({what})");
                }
            }
            await store.FlushAsync();
            await AssertConsistentAsync(store);
            await store.DisposeAsync();
            store = await LvolStore.OpenAsync(StorePath());
            await AssertConsistentAsync(store);
            foreach (var (name, expected) in model)
            {
                Assert.That(await ReadAllAsync(store, name), Is.EqualTo(expected), $"lvol {name} after reopening");
            }
        }
        finally
        {
            await store.DisposeAsync();
        }
    }
}
