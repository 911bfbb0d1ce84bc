namespace DeltaSnap.Checksums;

/// <summary>XXH3-64 and XXH3-128 with seed 0 (placeholder until the vectorized implementation lands).</summary>
public static class Xxh3
{
    /// <summary>XXH3-64 of <paramref name="data"/>.</summary>
    public static ulong Hash64(ReadOnlySpan<byte> data) => throw new NotSupportedException("XXH3 is not written yet.");

    /// <summary>XXH3-128 of <paramref name="data"/>.</summary>
    public static UInt128 Hash128(ReadOnlySpan<byte> data) => throw new NotSupportedException("XXH3 is not written yet.");
}

internal sealed class Xxh3Hasher : ChecksumHasher
{
    public Xxh3Hasher()
        : base(ChecksumAlgorithm.Xxh3) => throw new NotSupportedException("XXH3 is not written yet.");

    protected override void AppendCore(ReadOnlySpan<byte> data) { }

    protected override void ResetCore() { }

    protected override void GetCurrentHashCore(Span<byte> destination) { }
}

internal sealed class Xxh128Hasher : ChecksumHasher
{
    public Xxh128Hasher()
        : base(ChecksumAlgorithm.Xxh128) => throw new NotSupportedException("XXH3 is not written yet.");

    protected override void AppendCore(ReadOnlySpan<byte> data) { }

    protected override void ResetCore() { }

    protected override void GetCurrentHashCore(Span<byte> destination) { }
}
