using System.Buffers.Binary;
using System.IO.Hashing;

namespace DeltaSnap.Checksums;

/// <summary>Incremental XXH3-64 (seed 0) from System.IO.Hashing; the digest is the big-endian canonical form <c>xxhsum -H3</c> prints.</summary>
internal sealed class Xxh3Hasher : ChecksumHasher
{
    private readonly XxHash3 _hash = new();

    public Xxh3Hasher()
        : base(ChecksumAlgorithm.Xxh3)
    {
    }

    protected override void AppendCore(ReadOnlySpan<byte> data) => _hash.Append(data);

    protected override void ResetCore() => _hash.Reset();

    protected override void GetCurrentHashCore(Span<byte> destination) =>
        BinaryPrimitives.WriteUInt64BigEndian(destination, _hash.GetCurrentHashAsUInt64());
}

/// <summary>Incremental XXH3-128 (seed 0) from System.IO.Hashing; the digest is the big-endian canonical form <c>xxhsum -H2</c> prints.</summary>
internal sealed class Xxh128Hasher : ChecksumHasher
{
    private readonly XxHash128 _hash = new();

    public Xxh128Hasher()
        : base(ChecksumAlgorithm.Xxh128)
    {
    }

    protected override void AppendCore(ReadOnlySpan<byte> data) => _hash.Append(data);

    protected override void ResetCore() => _hash.Reset();

    protected override void GetCurrentHashCore(Span<byte> destination) =>
        BinaryPrimitives.WriteUInt128BigEndian(destination, _hash.GetCurrentHashAsUInt128());
}
