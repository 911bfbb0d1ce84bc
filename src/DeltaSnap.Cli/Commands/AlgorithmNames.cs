using DeltaSnap.Checksums;

namespace DeltaSnap.Cli.Commands;

/// <summary>The command-line names of the checksum algorithms (<c>crc32c</c>, <c>crc64iso</c>, <c>xxh3</c>, <c>xxh128</c>, <c>sha256</c>).</summary>
internal static class AlgorithmNames
{
    /// <summary>The algorithm used when none is named: the library's default for cluster maps.</summary>
    public const ChecksumAlgorithm Default = ChecksumAlgorithm.Xxh128;

    private static readonly (string Name, ChecksumAlgorithm Algorithm)[] Names =
    [
        ("crc32c", ChecksumAlgorithm.Crc32C),
        ("crc64iso", ChecksumAlgorithm.Crc64Iso),
        ("xxh3", ChecksumAlgorithm.Xxh3),
        ("xxh128", ChecksumAlgorithm.Xxh128),
        ("sha256", ChecksumAlgorithm.Sha256),
    ];

    /// <summary>Every name, in the order help lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [.. Names.Select(n => n.Name)];

    /// <summary>Looks up <paramref name="name"/> (case-insensitive).</summary>
    public static bool TryParse(string name, out ChecksumAlgorithm algorithm)
    {
        foreach (var (candidate, value) in Names)
        {
            if (string.Equals(candidate, name, StringComparison.OrdinalIgnoreCase))
            {
                algorithm = value;
                return true;
            }
        }
        algorithm = default;
        return false;
    }

    /// <summary>The command-line name of <paramref name="algorithm"/>.</summary>
    public static string Format(ChecksumAlgorithm algorithm)
    {
        foreach (var (name, value) in Names)
        {
            if (value == algorithm)
            {
                return name;
            }
        }
        return algorithm.ToString().ToLowerInvariant();
    }
}
