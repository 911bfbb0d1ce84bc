using System.Text.RegularExpressions;
using DeltaSnap.Testing;

namespace DeltaSnap.Cli.Tests.Support;

/// <summary>The independent tools the tool's output is compared with: GNU <c>sha256sum</c> and Debian's <c>xxhsum</c>.</summary>
internal static partial class ReferenceTools
{
    /// <summary>Runs <c>sha256sum</c> (coreutils) on the files and returns its output.</summary>
    public static string Sha256Sum(params string[] files) =>
        BackendRequirement.Run(BackendRequirement.RequireProgram("sha256sum", "coreutils"), files);

    /// <summary>
    /// Runs <c>xxhsum -H&lt;variant&gt;</c> and returns file → lowercase hex digest. xxhsum 0.8 prints XXH3 in the BSD
    /// form (<c>XXH3 (name) = hex</c>) and XXH128 in the GNU form (<c>hex  name</c>); both are understood.
    /// </summary>
    public static Dictionary<string, string> XxhSum(string variant, params string[] files)
    {
        var program = BackendRequirement.RequireProgram("xxhsum", "xxhash");
        var output = BackendRequirement.Run(program, ["-H" + variant, .. files]);
        var digests = new Dictionary<string, string>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var bsd = BsdLine().Match(line);
            var gnu = GnuLine().Match(line);
            if (bsd.Success)
            {
                digests[bsd.Groups["name"].Value] = bsd.Groups["hex"].Value;
            }
            else if (gnu.Success)
            {
                digests[gnu.Groups["name"].Value] = gnu.Groups["hex"].Value;
            }
            else
            {
                throw new FormatException($"Unexpected xxhsum output: {line}");
            }
        }
        return digests;
    }

    [GeneratedRegex(@"^\w+ \((?<name>.*)\) = (?<hex>[0-9a-f]+)$")]
    private static partial Regex BsdLine();

    [GeneratedRegex(@"^(?<hex>[0-9a-f]+)  (?<name>.*)$")]
    private static partial Regex GnuLine();
}
