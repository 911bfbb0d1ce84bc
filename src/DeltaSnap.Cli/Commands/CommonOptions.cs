using System.CommandLine;
using System.CommandLine.Parsing;
using DeltaSnap.Checksums;

namespace DeltaSnap.Cli.Commands;

/// <summary>
/// Options several commands share, made fresh for each command so every command owns its symbols. Their
/// values are null when not given; the handler applies the default, so it can tell "not given" apart.
/// </summary>
internal static class CommonOptions
{
    /// <summary><c>--algorithm</c> / <c>-a</c>: one of <see cref="AlgorithmNames.All"/>.</summary>
    public static Option<ChecksumAlgorithm?> Algorithm(string description)
    {
        var option = new Option<ChecksumAlgorithm?>("--algorithm", "-a")
        {
            Description = description,
            HelpName = string.Join('|', AlgorithmNames.All),
            CustomParser = ParseAlgorithm,
        };
        option.CompletionSources.Add([.. AlgorithmNames.All]);
        return option;
    }

    /// <summary><c>--cluster-size</c> / <c>-c</c>: a power of two from 4K to 64M, with an optional K/M/G suffix.</summary>
    public static Option<int?> ClusterSize(string description) => new("--cluster-size", "-c")
    {
        Description = description,
        HelpName = "SIZE",
        CustomParser = ParseClusterSize,
    };

    /// <summary>
    /// <c>--zfs-base-protection hold|none</c>: whether ZFS volumes hold the common base (<see cref="Zfs.ZfsBaseProtection"/>;
    /// default hold).
    /// </summary>
    public static Option<Zfs.ZfsBaseProtection> ZfsBaseProtection()
    {
        var option = new Option<Zfs.ZfsBaseProtection>("--zfs-base-protection")
        {
            Description = "How this machine's ZFS volumes protect the snapshot both sides share: hold (zfs hold, the default) or none (no hold or release commands, as syncoid by default). A remote side follows its server's setting.",
            HelpName = "hold|none",
            DefaultValueFactory = _ => Zfs.ZfsBaseProtection.Hold,
            CustomParser = static result => result.Tokens[0].Value switch
            {
                "hold" => Zfs.ZfsBaseProtection.Hold,
                "none" => Zfs.ZfsBaseProtection.None,
                var other => Fail(result, $"--zfs-base-protection must be hold or none, not '{other}'."),
            },
        };
        option.CompletionSources.Add(["hold", "none"]);
        return option;

        static Zfs.ZfsBaseProtection Fail(ArgumentResult result, string message)
        {
            result.AddError(message);
            return default;
        }
    }

    /// <summary><c>--json</c>: one JSON object on standard output instead of text.</summary>
    public static Option<bool> Json(string description) => new("--json") { Description = description };

    private static ChecksumAlgorithm? ParseAlgorithm(ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var text = result.Tokens[0].Value;
        if (AlgorithmNames.TryParse(text, out var algorithm))
        {
            return algorithm;
        }
        result.AddError($"Unknown algorithm '{text}': use one of {string.Join(", ", AlgorithmNames.All)}.");
        return null;
    }

    private static int? ParseClusterSize(ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var text = result.Tokens[0].Value;
        if (!ByteSize.TryParse(text, out var bytes))
        {
            result.AddError($"'{text}' is not a size: give bytes, or a number with a binary suffix K, M or G (64K, 1M).");
            return null;
        }
        if (bytes is < ClusterLayout.MinClusterSize or > ClusterLayout.MaxClusterSize || (bytes & (bytes - 1)) != 0)
        {
            result.AddError($"Cluster size {text} is not a power of two from 4K to 64M.");
            return null;
        }
        return (int)bytes;
    }
}
