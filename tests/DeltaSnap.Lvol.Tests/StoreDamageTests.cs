using System.Buffers.Binary;
using System.CommandLine;
using DeltaSnap.Checksums;
using DeltaSnap.Cli.Commands;

namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// Damaged copies of a store file: metadata bit flips with and without fixed-up CRCs, slot and superblock damage,
/// truncations, overwritten ranges, and forged metadata (parent cycles, duplicate names and UUIDs, clusters out of
/// range). Each copy either fails to open with a typed error naming the store, or opens on the newest metadata and
/// reads what it held, or opens on the older metadata copy and says so (property and fsck) and reads what that copy
/// held. Nothing hangs; nothing surfaces a raw .NET exception.
/// </summary>
/// <remarks>
/// Damage to data clusters themselves is out of scope: the store keeps no checksum of data (the delta stream and the
/// volume checksum verify data in transit), so flipped data bytes read back flipped.
/// </remarks>
[NonParallelizable]
public sealed class StoreDamageTests : StoreFixture
{
    private const int Cluster = 16 * 1024;
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);

    private sealed record State(ulong Sequence, Dictionary<string, byte[]> Lvols);

    private enum Outcome { Refused, Newest, Fallback, ForgedAccepted }

    /// <summary>Builds a store whose two metadata copies hold different lvols: the older holds clone 'c', the newest does not.</summary>
    private async Task<(byte[] File, State Older, State Newest)> BuildAsync()
    {
        var path = StorePath();
        await using (var store = await CreateStoreAsync(Cluster))
        {
            await store.CreateLvolAsync("v1", 40 * Cluster + 4096);
            await WriteAsync(store, "v1", 3 * Cluster, Pattern(5 * Cluster, 1));
            await store.SnapshotAsync("v1", "s1");
            await WriteAsync(store, "v1", 4 * Cluster + 4096, Pattern(2 * 4096, 2));
            await store.CloneAsync("s1", "c");
            await WriteAsync(store, "c", 20 * Cluster, Pattern(Cluster + 8192, 3));
            await store.SetXattrAsync("v1", "color", "blue");
        }
        var older = await ReadStateAsync(path);
        await using (var store = await LvolStore.OpenAsync(path))
        {
            await store.DeleteLvolAsync("c");
        }
        var newest = await ReadStateAsync(path);
        Assert.That(newest.Sequence, Is.EqualTo(older.Sequence + 1), "one commit between the two states");
        return (await File.ReadAllBytesAsync(path), older, newest);
    }

    private static async Task<State> ReadStateAsync(string path)
    {
        await using var store = await LvolStore.OpenAsync(path);
        Assert.That(store.MetadataFallback, Is.Null);
        var lvols = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var l in store.ListLvols())
        {
            lvols[l.Name] = await ReadAllAsync(store, l.Name);
        }
        return new State(store.Sequence, lvols);
    }

    /// <summary>Where the pieces of a store file lie, read as the format lays them out.</summary>
    private sealed class Layout
    {
        public Layout(byte[] file)
        {
            DataOffset = BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(40));
            var seq0 = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(4096 + 8));
            var seq1 = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(8192 + 8));
            NewestSlot = seq1 > seq0 ? 1 : 0;
            (NewestBlob, NewestBlobLength) = Blob(file, NewestSlot);
            (OlderBlob, OlderBlobLength) = Blob(file, 1 - NewestSlot);
        }

        public long DataOffset { get; }

        public int NewestSlot { get; }

        public long NewestBlob { get; }

        public int NewestBlobLength { get; }

        public long OlderBlob { get; }

        public int OlderBlobLength { get; }

        public static long SlotOffset(int slot) => 4096 + (slot * 4096L);

        private (long Offset, int Length) Blob(byte[] file, int slot)
        {
            var s = file.AsSpan((int)SlotOffset(slot));
            return (DataOffset + (BinaryPrimitives.ReadInt64LittleEndian(s[16..]) * Cluster), (int)BinaryPrimitives.ReadInt64LittleEndian(s[32..]));
        }

        /// <summary>Recomputes the newest blob's CRC, the slot's CRC of the blob and the slot's own CRC, as a forger would.</summary>
        public void FixUp(byte[] file)
        {
            var blob = file.AsSpan((int)NewestBlob, NewestBlobLength);
            BinaryPrimitives.WriteUInt32LittleEndian(blob[^4..], Crc32C.Compute(blob[..^4]));
            var slot = file.AsSpan((int)SlotOffset(NewestSlot), 64);
            BinaryPrimitives.WriteUInt32LittleEndian(slot[40..], Crc32C.Compute(blob));
            BinaryPrimitives.WriteUInt32LittleEndian(slot[60..], Crc32C.Compute(slot[..60]));
        }
    }

    private sealed record Damage(string Category, string What, Func<byte[], byte[]> Apply, bool Forged = false);

    private static IEnumerable<Damage> Damages(byte[] pristine, State newest, int seed)
    {
        var layout = new Layout(pristine);
        var rng = new Random(seed);
        byte[] Flip(byte[] f, long offset, int bit)
        {
            f[offset] ^= (byte)(1 << bit);
            return f;
        }

        for (var i = 0; i < 50; i++)
        {
            var at = layout.NewestBlob + rng.Next(layout.NewestBlobLength);
            var bit = rng.Next(8);
            yield return new Damage("newest metadata bit flip", $"byte {at} bit {bit}", f => Flip(f, at, bit));
        }
        for (var i = 0; i < 70; i++)
        {
            var at = layout.NewestBlob + rng.Next(layout.NewestBlobLength - 4);
            var bit = rng.Next(8);
            yield return new Damage("newest metadata bit flip, CRCs fixed up", $"byte {at} bit {bit}", f =>
            {
                Flip(f, at, bit);
                layout.FixUp(f);
                return f;
            }, Forged: true);
        }
        for (var i = 0; i < 15; i++)
        {
            var at = layout.OlderBlob + rng.Next(layout.OlderBlobLength);
            var bit = rng.Next(8);
            yield return new Damage("older metadata bit flip", $"byte {at} bit {bit}", f => Flip(f, at, bit));
        }
        for (var i = 0; i < 30; i++)
        {
            var slot = rng.Next(2);
            var at = Layout.SlotOffset(slot) + rng.Next(64);
            var bit = rng.Next(8);
            yield return new Damage("slot bit flip", $"slot {slot} byte {at} bit {bit}", f => Flip(f, at, bit));
        }
        for (var i = 0; i < 15; i++)
        {
            var at = rng.Next(4096);
            var bit = rng.Next(8);
            yield return new Damage("superblock bit flip", $"byte {at} bit {bit}", f => Flip(f, at, bit));
        }
        long[] cuts = [1 << 20, 1, 4096, Cluster, pristine.Length - layout.NewestBlob, pristine.Length - layout.NewestBlob - 1,
            pristine.Length - layout.DataOffset, pristine.Length - 4096, pristine.Length - 8192, pristine.Length - 12288];
        foreach (var cut in cuts.Concat(Enumerable.Range(0, 20).Select(_ => (long)rng.Next(1, pristine.Length))).Distinct().Where(c => c > 0 && c <= pristine.Length))
        {
            yield return new Damage("truncation", $"cut by {cut} bytes to {pristine.Length - cut}", f => f[..(int)(f.Length - cut)]);
        }
        (long Start, long Length)[] regions = [(0, 4096), (4096, 8192), (layout.NewestBlob, layout.NewestBlobLength), (layout.OlderBlob, layout.OlderBlobLength)];
        for (var i = 0; i < 30; i++)
        {
            var (start, length) = regions[rng.Next(regions.Length)];
            var at = start + rng.Next((int)length);
            var n = (int)Math.Min(rng.Next(1, 256), start + length - at);
            var zeros = rng.Next(2) == 0;
            var fill = new byte[n];
            if (!zeros)
            {
                rng.NextBytes(fill);
            }
            yield return new Damage("overwritten range", $"{n} {(zeros ? "zero" : "random")} bytes at {at}", f =>
            {
                fill.CopyTo(f, at);
                return f;
            });
        }
        foreach (var forged in Forgeries(pristine, layout, newest))
        {
            yield return forged;
        }
    }

    /// <summary>Metadata rewritten with every CRC fixed up: each forgery passes every checksum and breaks a structural rule.</summary>
    private static IEnumerable<Damage> Forgeries(byte[] pristine, Layout layout, State newest)
    {
        var blob = pristine.AsSpan((int)layout.NewestBlob, layout.NewestBlobLength).ToArray();
        int RecordOf(string name)
        {
            // A record is 16 bytes UUID, 16 bytes parent, 8 size, 4 flags, 8 created, then u16 name length and the name.
            var bytes = System.Text.Encoding.UTF8.GetBytes(name);
            for (var p = 0; p + 54 + bytes.Length < blob.Length; p++)
            {
                if (BinaryPrimitives.ReadUInt16LittleEndian(blob.AsSpan(p + 52)) == bytes.Length && blob.AsSpan(p + 54, bytes.Length).SequenceEqual(bytes))
                {
                    return p;
                }
            }
            throw new InvalidOperationException($"no record for {name}");
        }
        Damage Forge(string what, Action<byte[], int, int> edit) => new("forged metadata, CRCs fixed up", what, f =>
        {
            var b = (int)layout.NewestBlob;
            edit(f, b + RecordOf("v1"), b + RecordOf("s1"));
            layout.FixUp(f);
            return f;
        }, Forged: true);

        Assert.That(newest.Lvols.Keys, Is.EquivalentTo(new[] { "v1", "s1" }));
        yield return Forge("parent cycle: s1's parent is v1, v1's parent is s1", (f, a, s1) => f.AsSpan(a, 16).CopyTo(f.AsSpan(s1 + 16)));
        yield return Forge("self parent: s1's parent is s1", (f, a, s1) => f.AsSpan(s1, 16).CopyTo(f.AsSpan(s1 + 16)));
        yield return Forge("duplicate UUID", (f, a, s1) => f.AsSpan(s1, 16).CopyTo(f.AsSpan(a)));
        yield return Forge("duplicate name", (f, a, s1) => f.AsSpan(s1 + 54, 2).CopyTo(f.AsSpan(a + 54)));
        yield return Forge("parent that does not exist", (f, a, s1) => f[a + 16] ^= 0x55);
        yield return Forge("parent that is not a snapshot", (f, a, s1) => BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(s1 + 40), 0));
        yield return Forge("negative size", (f, a, s1) => BinaryPrimitives.WriteInt64LittleEndian(f.AsSpan(a + 32), -4096));
        yield return Forge("size of 2^62 bytes", (f, a, s1) => BinaryPrimitives.WriteInt64LittleEndian(f.AsSpan(s1 + 32), 1L << 62));
        yield return Forge("size shrunk below its mapped clusters", (f, a, s1) => BinaryPrimitives.WriteInt64LittleEndian(f.AsSpan(s1 + 32), 4096));
        yield return Forge("creation time out of range", (f, a, s1) => BinaryPrimitives.WriteInt64LittleEndian(f.AsSpan(s1 + 44), long.MaxValue));
        yield return Forge("physical cluster count 0", (f, a, s1) => BinaryPrimitives.WriteInt64LittleEndian(f.AsSpan((int)layout.NewestBlob + 40), 0));
        yield return Forge("physical cluster count huge", (f, a, s1) => BinaryPrimitives.WriteInt64LittleEndian(f.AsSpan((int)layout.NewestBlob + 40), 1L << 33));
        yield return Forge("lvol count huge", (f, a, s1) =>
        {
            var b = (int)layout.NewestBlob;
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(b + 64));
            var physical = BinaryPrimitives.ReadInt64LittleEndian(f.AsSpan(b + 40));
            BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(b + 64 + 2 + nameLength + (int)((physical + 7) >> 3)), uint.MaxValue);
        });
        yield return Forge("xattr length 2^32-1", (f, a, s1) =>
        {
            // a's record: 54 + name, then u32 xattr count, then u16 key length, key, u32 value length.
            var x = a + 54 + 2 + 4;
            var keyLength = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(x));
            BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(x + 2 + keyLength), uint.MaxValue);
        });
    }

    [Test]
    public async Task DamagedCopies_eachRefusedWithTypedErrorOrOpenedOnAReportedCopy_neverWrongData()
    {
        var (pristine, older, newest) = await BuildAsync();
        var scale = int.TryParse(Environment.GetEnvironmentVariable("DELTASNAP_CAMPAIGN_SCALE"), out var s) && s > 1 ? s : 1;
        var damages = Enumerable.Range(0, scale).SelectMany(round => Damages(pristine, newest, 20261206 + round)).ToList();
        Assert.That(damages, Has.Count.GreaterThanOrEqualTo(200));
        var counts = new Dictionary<(string, Outcome), int>();
        var failures = new List<string>();
        var path = StorePath("damaged");
        foreach (var damage in damages)
        {
            var file = damage.Apply(pristine.ToArray());
            await File.WriteAllBytesAsync(path, file);
            Outcome outcome;
            try
            {
                outcome = await CheckAsync(path, damage, older, newest).WaitAsync(CaseTimeout);
            }
            catch (TimeoutException)
            {
                failures.Add($"{damage.Category}, {damage.What}: did not finish within {CaseTimeout}");
                continue;
            }
            catch (AssertionException e)
            {
                failures.Add($"{damage.Category}, {damage.What}: {e.Message}");
                continue;
            }
            counts[(damage.Category, outcome)] = counts.GetValueOrDefault((damage.Category, outcome)) + 1;
        }
        await TestContext.Out.WriteLineAsync($"lvol store damage campaign: {damages.Count} damaged copies, {failures.Count} failure(s)");
        foreach (var group in counts.GroupBy(kv => kv.Key.Item1))
        {
            await TestContext.Out.WriteLineAsync($"  {group.Key}: " + string.Join(", ", group.OrderBy(kv => kv.Key.Item2).Select(kv => $"{kv.Key.Item2} {kv.Value}")));
        }
        Assert.That(failures, Is.Empty);
    }

    /// <summary>Opens, fscks and reads the damaged copy; asserts what each outcome must satisfy.</summary>
    private static async Task<Outcome> CheckAsync(string path, Damage damage, State older, State newest)
    {
        LvolStore store;
        try
        {
            store = await LvolStore.OpenAsync(path);
        }
        catch (Exception e)
        {
            Assert.That(e, Is.InstanceOf<DeltaSnapException>(), $"open threw {e.GetType().Name}: {e.Message}");
            Assert.That(e.Message, Does.Contain(path), "the error names the store");
            Assert.That(e.Message, Does.Not.Contain(Environment.NewLine), "one line");
            return Outcome.Refused;
        }
        await using (store)
        {
            var fallback = store.MetadataFallback;
            var report = await store.FsckAsync();
            // A damaged older slot is reported too, while the newest copy is in use.
            var expected = store.Sequence == newest.Sequence ? newest : older;
            if (fallback is not null)
            {
                Assert.That(report.IsConsistent, Is.False, "fsck reports the fallback as damage");
                Assert.That(report.MetadataFallback, Is.Not.Null);
                Assert.That(report.Problems[0], Does.Contain("older copy"));
                Assert.That(store.Sequence, Is.EqualTo(fallback.Sequence));
                Assert.That(store.Sequence, Is.EqualTo(older.Sequence).Or.EqualTo(newest.Sequence));
            }
            else if (store.Sequence != newest.Sequence)
            {
                Assert.Fail($"opened sequence {store.Sequence} without reporting a fallback (newest is {newest.Sequence})");
            }
            var names = store.ListLvols().Select(l => l.Name).ToList();
            var wrong = false;
            foreach (var name in names)
            {
                if (!expected.Lvols.TryGetValue(name, out var wanted) || store.GetLvol(name).Size != wanted.Length)
                {
                    wrong = true;
                    continue;
                }
                byte[] actual;
                try
                {
                    actual = await ReadAllAsync(store, name);
                }
                catch (Exception e)
                {
                    Assert.That(e, Is.InstanceOf<DeltaSnapException>(), $"reading {name} threw {e.GetType().Name}: {e.Message}");
                    Assert.That(e.Message, Does.Contain(path), "the error names the store");
                    continue;
                }
                if (!expected.Lvols.TryGetValue(name, out var want) || !actual.AsSpan().SequenceEqual(want))
                {
                    wrong = true;
                }
            }
            if (names.Count != expected.Lvols.Count)
            {
                wrong = true;
            }
            if (wrong)
            {
                // Metadata forged with valid CRCs and no structural fault (a renamed lvol, a changed creation time or
                // xattr) is indistinguishable from a real commit; anything else reading different bytes is wrong data.
                Assert.That(damage.Forged && report.IsConsistent, Is.True,
                    $"read different data (sequence {store.Sequence}, fallback {fallback?.Damage ?? "none"}; sizes {string.Join(", ", store.ListLvols().Select(l => $"{l.Name} {l.Size}"))})");
                return Outcome.ForgedAccepted;
            }
            return fallback is null ? Outcome.Newest : Outcome.Fallback;
        }
    }

    [Test]
    public async Task NewestCopyDamaged_opensOlderCopy_reportsFallbackOnStoreAndInFsck()
    {
        var (pristine, older, _) = await BuildAsync();
        var layout = new Layout(pristine);
        var file = pristine.ToArray();
        file[layout.NewestBlob + 70] ^= 1;
        var path = StorePath("damaged");
        await File.WriteAllBytesAsync(path, file);

        await using var store = await LvolStore.OpenAsync(path);
        Assert.That(store.MetadataFallback, Is.Not.Null);
        Assert.That(store.MetadataFallback!.Sequence, Is.EqualTo(older.Sequence));
        Assert.That(store.MetadataFallback.LostSequence, Is.EqualTo(older.Sequence + 1));
        Assert.That(store.ListLvols().Select(l => l.Name), Is.EquivalentTo(older.Lvols.Keys), "the older copy still holds clone c");
        var report = await store.FsckAsync();
        Assert.That(report.IsConsistent, Is.False);
        Assert.That(report.Problems[0], Does.Contain($"sequence {older.Sequence + 1}").And.Contain("lost"));
    }

    [Test]
    [Explicit("Open question: a store cut by 1 MiB now opens on the older metadata copy (reported by fsck and as a warning), and export then exits 0 with that older state; decide whether export must refuse a fallback store.")]
    public async Task TruncatedByOneMebibyte_exportAndFsckFail_namingTheStore()
    {
        var path = StorePath();
        await using (var store = await CreateStoreAsync(Cluster))
        {
            await store.CreateLvolAsync("v", 4 << 20);
            await WriteAsync(store, "v", 0, Pattern(3 << 20, 7));
        }
        var length = new FileInfo(path).Length;
        await using (var f = new FileStream(path, FileMode.Open))
        {
            f.SetLength(length - (1 << 20));
        }

        var fsck = await RunCliAsync("fsck", path);
        Assert.That(fsck.Exit, Is.Not.Zero, fsck.Out + fsck.Error);
        Assert.That(fsck.Error, Does.Contain(path).And.Contain("cut short").Or.Contain(path).And.Contain("does not hold"));
        var export = await RunCliAsync("export", path, "v", Path.Combine(Directory, "v.img"));
        Assert.That(export.Exit, Is.Not.Zero, export.Out + export.Error);
        Assert.That(export.Error, Does.Contain(path).And.Contain("cut short").Or.Contain("shorter than its metadata").Or.Contain("does not hold"));
    }

    [Test]
    public async Task ForgedParentCycle_openRefusesOrFallsBack_exportDoesNotSpin()
    {
        var (pristine, _, newest) = await BuildAsync();
        var cycle = Forgeries(pristine, new Layout(pristine), newest).First();
        var path = StorePath("damaged");
        await File.WriteAllBytesAsync(path, cycle.Apply(pristine.ToArray()));

        var export = await RunCliAsync("export", path, "v1", Path.Combine(Directory, "v1.img")).WaitAsync(CaseTimeout);
        var fsck = await RunCliAsync("fsck", path).WaitAsync(CaseTimeout);
        Assert.That(fsck.Exit, Is.EqualTo(1), "the fallback is reported");
        Assert.That(fsck.Error, Does.Contain("cycle").Or.Contain("Metadata damaged, older copy in use"));
        Assert.That(export.Exit, Is.Zero, "the older copy is intact, so export works on it");
    }

    private static async Task<(int Exit, string Out, string Error)> RunCliAsync(string command, string store, params string[] args)
    {
        var root = new RootCommand { LvolCommands.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await root.Parse(["lvol", command, store, .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }
}
