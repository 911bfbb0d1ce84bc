using System.Buffers.Binary;
using System.Diagnostics;

namespace DeltaSnap.Testing.Streams;

/// <summary>One mutated input: how it was made, and its bytes.</summary>
public sealed record Mutation(string Kind, byte[] Bytes);

/// <summary>What a campaign found, per outcome.</summary>
public sealed class CampaignResult(string reader)
{
    private readonly Dictionary<string, int> _byKind = new(StringComparer.Ordinal);

    public string Reader { get; } = reader;

    public int Cases { get; set; }

    /// <summary>Rejected with the expected typed exception.</summary>
    public int Rejected { get; set; }

    /// <summary>Accepted as a valid input (allowed only where the format has no integrity check over the mutated bytes).</summary>
    public int Accepted { get; set; }

    /// <summary>Threw something outside the expected exception family, hung, or allocated beyond the bound.</summary>
    public List<string> Failures { get; } = [];

    public TimeSpan Elapsed { get; set; }

    public long MaxAllocatedBytes { get; set; }

    /// <summary>Acceptances per kind of mutation.</summary>
    public Dictionary<string, int> AcceptedByKind { get; } = new(StringComparer.Ordinal);

    public void Count(string kind) => _byKind[kind] = _byKind.GetValueOrDefault(kind) + 1;

    public override string ToString() =>
        $"{Reader}: {Cases} mutated inputs ({string.Join(", ", _byKind.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"))}): " +
        $"{Rejected} rejected with a typed error, {Accepted} accepted{(Accepted > 0 ? $" ({string.Join(", ", AcceptedByKind.Select(k => $"{k.Key} {k.Value}"))})" : "")}, {Failures.Count} failures (untyped exception, hang or unbounded allocation); " +
        $"largest allocation in one case {MaxAllocatedBytes / 1024} KiB; {Elapsed.TotalSeconds:F1} s";
}

/// <summary>
/// Deterministic mutation of valid inputs for reader campaigns: bit flips, truncations, duplicated and dropped
/// records, lengths of 2^40 written into length fields, and splices of two valid inputs at record boundaries.
/// The count scales with <c>DELTASNAP_CAMPAIGN_SCALE</c> (default 1) for longer runs by hand.
/// </summary>
public static class MutationCampaign
{
    /// <summary>The multiplier from <c>DELTASNAP_CAMPAIGN_SCALE</c>: 1 unless set to a larger integer.</summary>
    public static int Scale => int.TryParse(Environment.GetEnvironmentVariable("DELTASNAP_CAMPAIGN_SCALE"), out var s) && s > 1 ? s : 1;

    /// <summary>How a format is cut into records and where its length fields are, for structure-aware mutations.</summary>
    /// <param name="Records">The byte ranges of the records of a valid input (the header may be the first).</param>
    /// <param name="LengthFields">Offsets and sizes (4 or 8) of length fields in a valid input.</param>
    public sealed record Structure(Func<byte[], IReadOnlyList<Range>> Records, Func<byte[], IReadOnlyList<(int Offset, int Size)>> LengthFields);

    public static IEnumerable<Mutation> Generate(IReadOnlyList<byte[]> valid, int count, int seed, Structure? structure = null)
    {
        var rng = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var a = valid[rng.Next(valid.Count)];
            var kind = rng.Next(8);
            switch (kind)
            {
                case 0 or 1:
                {
                    var bytes = a.ToArray();
                    var flips = 1 + rng.Next(3);
                    for (var f = 0; f < flips; f++)
                    {
                        bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                    }
                    yield return new Mutation("bit flip", bytes);
                    break;
                }
                case 2:
                    yield return new Mutation("truncation", a[..rng.Next(a.Length)]);
                    break;
                case 3 or 4:
                {
                    var records = structure?.Records(a) ?? RandomCuts(a, rng);
                    if (records.Count < 2)
                    {
                        goto case 2;
                    }
                    var r = records[1 + rng.Next(records.Count - 1)];
                    var (start, length) = r.GetOffsetAndLength(a.Length);
                    yield return kind == 3
                        ? new Mutation("duplicated record", [.. a[..(start + length)], .. a[start..(start + length)], .. a[(start + length)..]])
                        : new Mutation("dropped record", [.. a[..start], .. a[(start + length)..]]);
                    break;
                }
                case 5 or 6:
                {
                    var fields = structure?.LengthFields(a) ?? [];
                    var bytes = a.ToArray();
                    if (fields.Count > 0)
                    {
                        var (offset, size) = fields[rng.Next(fields.Count)];
                        if (size == 8)
                        {
                            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offset), 1UL << 40);
                        }
                        else
                        {
                            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(offset), rng.Next(2) == 0 ? uint.MaxValue : 1u << 30);
                        }
                    }
                    else if (bytes.Length >= 8)
                    {
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(rng.Next(bytes.Length - 7)), 1UL << 40);
                    }
                    yield return new Mutation("length 2^40", bytes);
                    break;
                }
                default:
                {
                    var b = valid[rng.Next(valid.Count)];
                    var ra = structure?.Records(a) ?? RandomCuts(a, rng);
                    var rb = structure?.Records(b) ?? RandomCuts(b, rng);
                    var cutA = ra[rng.Next(ra.Count)].End.GetOffset(a.Length);
                    var cutB = rb[rng.Next(rb.Count)].End.GetOffset(b.Length);
                    // A's header and first records, B's records from some boundary on (B's header onto A's records when cutA is A's header end).
                    yield return rng.Next(2) == 0
                        ? new Mutation("splice", [.. a[..cutA], .. b[cutB..]])
                        : new Mutation("splice", [.. b[..rb[0].End.GetOffset(b.Length)], .. a[ra[0].End.GetOffset(a.Length)..]]);
                    break;
                }
            }
        }
    }

    private static List<Range> RandomCuts(byte[] a, Random rng)
    {
        var cuts = Enumerable.Range(0, 6).Select(_ => rng.Next(a.Length)).Append(0).Append(a.Length).Distinct().Order().ToList();
        return cuts.Zip(cuts.Skip(1), (x, y) => new Range(x, y)).ToList();
    }

    /// <summary>
    /// Runs <paramref name="read"/> on every mutation, one at a time, each under <paramref name="timeout"/>: an
    /// exception <paramref name="isTyped"/> accepts is a rejection; no exception is an acceptance; anything else, a
    /// time-out, or more than <paramref name="maxAllocatedBytes"/> allocated while reading is a failure.
    /// </summary>
    public static async Task<CampaignResult> RunAsync(string reader, IEnumerable<Mutation> mutations, Func<byte[], CancellationToken, Task> read,
        Func<Exception, bool> isTyped, TimeSpan timeout, long maxAllocatedBytes = 64L << 20)
    {
        var result = new CampaignResult(reader);
        var clock = Stopwatch.StartNew();
        foreach (var m in mutations)
        {
            result.Cases++;
            result.Count(m.Kind);
            using var cts = new CancellationTokenSource(timeout);
            var before = GC.GetTotalAllocatedBytes(precise: false);
            try
            {
                await Task.Run(() => read(m.Bytes, cts.Token), cts.Token).WaitAsync(timeout + TimeSpan.FromSeconds(5));
                result.Accepted++;
                result.AcceptedByKind[m.Kind] = result.AcceptedByKind.GetValueOrDefault(m.Kind) + 1;
            }
            catch (Exception e) when (e is TimeoutException || (e is OperationCanceledException && cts.IsCancellationRequested))
            {
                result.Failures.Add($"{m.Kind} #{result.Cases}: did not finish within {timeout}");
            }
            catch (Exception e) when (isTyped(e))
            {
                result.Rejected++;
            }
            catch (Exception e)
            {
                result.Failures.Add($"{m.Kind} #{result.Cases}: {e.GetType().Name}: {e.Message}");
            }
            var allocated = GC.GetTotalAllocatedBytes(precise: false) - before;
            result.MaxAllocatedBytes = Math.Max(result.MaxAllocatedBytes, allocated);
            if (allocated > maxAllocatedBytes)
            {
                result.Failures.Add($"{m.Kind} #{result.Cases}: allocated {allocated} bytes");
            }
        }
        result.Elapsed = clock.Elapsed;
        return result;
    }
}
