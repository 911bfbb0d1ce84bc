using DeltaSnap.Checksums;
using static DeltaSnap.Tests.Checksums.ChecksumTestData;

namespace DeltaSnap.Tests.Checksums;

/// <summary>
/// XXH3-64 and XXH128 as DeltaSnap computes them (System.IO.Hashing underneath), one-shot and incremental, against Debian's
/// <c>xxhsum</c> on random inputs of every length from 0 to 4200 bytes and several large ones.
/// </summary>
public class Xxh3ReferenceTests
{
    private static readonly int[] LargeLengths = [16 * 1024, (16 * 1024) + 1, (64 * 1024) - 1, 1 << 20, (1 << 20) + 13, 10 << 20];

    private List<(string Name, byte[] Data)> _inputs = [];
    private Dictionary<string, string> _xxh3 = [];
    private Dictionary<string, string> _xxh128 = [];

    [OneTimeSetUp]
    public void RunXxhsum()
    {
        var source = RandomBytes(1 << 16, seed: 3);
        _inputs = [];
        for (var length = 0; length <= MaxExhaustiveLength; length++)
        {
            // A different window of the random source for each length.
            var offset = (length * 7919) % (source.Length - MaxExhaustiveLength);
            _inputs.Add(($"len{length:D5}.bin", source.AsSpan(offset, length).ToArray()));
        }
        foreach (var length in LargeLengths)
        {
            _inputs.Add(($"large{length}.bin", RandomBytes(length, seed: length)));
        }
        _xxh3 = XxhsumReference.Hash(_inputs, 3);
        _xxh128 = XxhsumReference.Hash(_inputs, 2);
        Assert.That(_xxh3, Has.Count.EqualTo(_inputs.Count), "xxhsum -H3 printed one line per input");
        Assert.That(_xxh128, Has.Count.EqualTo(_inputs.Count), "xxhsum -H2 printed one line per input");
    }

    [Test]
    public void Hash64_everyLengthAndLargeInputs_matchesXxhsum()
    {
        var mismatches = new List<string>();
        foreach (var (name, data) in _inputs)
        {
            var expected = XxhsumReference.ParseHash64(_xxh3[name]);
            var actual = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh3, data));
            if (actual != expected)
            {
                mismatches.Add($"{name}: {actual:x16} != {expected:x16}");
            }
        }
        Assert.That(mismatches, Is.Empty);
    }

    [Test]
    public void Hash128_everyLengthAndLargeInputs_matchesXxhsum()
    {
        var mismatches = new List<string>();
        foreach (var (name, data) in _inputs)
        {
            var expected = XxhsumReference.ParseHash128(_xxh128[name]);
            var actual = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh128, data));
            if (actual != expected)
            {
                mismatches.Add($"{name}: {actual:x32} != {expected:x32}");
            }
        }
        Assert.That(mismatches, Is.Empty);
    }

    [Test]
    public void Hasher_randomPiecesOnEveryInput_matchesXxhsum([Values(1, 2, 3)] int seed)
    {
        var random = new Random(seed);
        var hasher64 = ChecksumHasher.Create(ChecksumAlgorithm.Xxh3);
        var hasher128 = ChecksumHasher.Create(ChecksumAlgorithm.Xxh128);
        var mismatches = new List<string>();
        foreach (var (name, data) in _inputs)
        {
            hasher64.Reset();
            hasher128.Reset();
            var offset = 0;
            foreach (var piece in RandomPieces(random, data.Length))
            {
                hasher64.Append(data.AsSpan(offset, piece));
                hasher128.Append(data.AsSpan(offset, piece));
                offset += piece;
            }
            if (Convert.ToHexStringLower(hasher64.GetCurrentHash()) != _xxh3[name])
            {
                mismatches.Add($"XXH3 {name}");
            }
            if (Convert.ToHexStringLower(hasher128.GetCurrentHash()) != _xxh128[name])
            {
                mismatches.Add($"XXH128 {name}");
            }
        }
        Assert.That(mismatches, Is.Empty);
    }

    [Test]
    public void ChecksumHasherHash_everyInput_writesXxhsumCanonicalForm()
    {
        var mismatches = new List<string>();
        foreach (var (name, data) in _inputs)
        {
            if (Convert.ToHexStringLower(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh3, data)) != _xxh3[name])
            {
                mismatches.Add($"XXH3 {name}");
            }
            if (Convert.ToHexStringLower(ChecksumHasher.Hash(ChecksumAlgorithm.Xxh128, data)) != _xxh128[name])
            {
                mismatches.Add($"XXH128 {name}");
            }
        }
        Assert.That(mismatches, Is.Empty);
    }
}
