namespace DeltaSnap.Checksums;

/// <summary>The checksum algorithms DeltaSnap computes. The numeric values are part of the persisted formats.</summary>
public enum ChecksumAlgorithm : byte
{
    /// <summary>CRC-32C (Castagnoli), hardware accelerated; 4 bytes.</summary>
    Crc32C = 1,

    /// <summary>CRC-64/ISO (reflected, init and xorout all ones): Longhorn's per-cluster and whole-snapshot checksum; 8 bytes.</summary>
    Crc64Iso = 2,

    /// <summary>XXH3-64 with seed 0; 8 bytes.</summary>
    Xxh3 = 3,

    /// <summary>XXH3-128 (XXH128) with seed 0: the default for DeltaSnap's own maps; 16 bytes.</summary>
    Xxh128 = 4,

    /// <summary>SHA-256, for data that may be adversarial; 32 bytes.</summary>
    Sha256 = 5,
}
