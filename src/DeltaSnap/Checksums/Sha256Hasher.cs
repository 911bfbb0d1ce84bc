using System.Security.Cryptography;

namespace DeltaSnap.Checksums;

/// <summary>SHA-256 from the BCL (SHA-NI where the CPU has it).</summary>
internal sealed class Sha256Hasher : ChecksumHasher
{
    private IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public Sha256Hasher()
        : base(ChecksumAlgorithm.Sha256)
    {
    }

    protected override void AppendCore(ReadOnlySpan<byte> data) => _hash.AppendData(data);

    protected override void ResetCore()
    {
        _hash.Dispose();
        _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    }

    protected override void GetCurrentHashCore(Span<byte> destination) => _hash.GetCurrentHash(destination);
}
