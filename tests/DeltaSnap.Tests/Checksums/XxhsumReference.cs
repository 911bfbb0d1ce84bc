using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using DeltaSnap.Testing;

namespace DeltaSnap.Tests.Checksums;

/// <summary>
/// Runs Debian's <c>xxhsum</c> (package xxhash) once over many files and returns the hex digest per file:
/// the independent reference for DeltaSnap's XXH3-64 and XXH128 digests.
/// </summary>
internal static partial class XxhsumReference
{
    /// <summary>
    /// Hashes every input with <c>xxhsum -H<paramref name="algorithm"/></c> (3 = XXH3-64, 2 = XXH128) and returns
    /// the lowercase hex digests by input name. Fails or ignores the test when xxhsum is missing.
    /// </summary>
    public static Dictionary<string, string> Hash(IReadOnlyList<(string Name, byte[] Data)> inputs, int algorithm)
    {
        var program = BackendRequirement.RequireProgram("xxhsum", "xxhash");
        var directory = Directory.CreateTempSubdirectory("deltasnap-xxhsum-");
        try
        {
            foreach (var (name, data) in inputs)
            {
                File.WriteAllBytes(Path.Combine(directory.FullName, name), data);
            }
            var info = new ProcessStartInfo(program)
            {
                WorkingDirectory = directory.FullName,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add($"-H{algorithm}");
            foreach (var (name, _) in inputs)
            {
                info.ArgumentList.Add(name); // relative names keep the command line short
            }
            using var process = Process.Start(info)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"xxhsum -H{algorithm} exited with {process.ExitCode}: {stderr.Result}");
            }
            return Parse(stdout);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Parses both output styles: xxhsum 0.8.1 prints XXH3-64 BSD-style, <c>XXH3 (name) = hex</c>, and XXH128
    /// GNU-style, <c>hex  name</c>; 0.8.2 prints <c>XXH3_hex  name</c> for XXH3-64.
    /// </summary>
    public static Dictionary<string, string> Parse(string output)
    {
        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bsd = BsdLine().Match(line);
            var gnu = GnuLine().Match(line);
            if (bsd.Success)
            {
                digests[bsd.Groups["name"].Value] = bsd.Groups["hash"].Value.ToLowerInvariant();
            }
            else if (gnu.Success)
            {
                digests[gnu.Groups["name"].Value] = gnu.Groups["hash"].Value.ToLowerInvariant();
            }
            else
            {
                throw new FormatException($"Unexpected xxhsum output line: {line}");
            }
        }
        return digests;
    }

    /// <summary>The 64-bit value of an XXH3-64 hex digest.</summary>
    public static ulong ParseHash64(string hex) => ulong.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    /// <summary>The 128-bit value of an XXH128 hex digest (canonical: high half first).</summary>
    public static UInt128 ParseHash128(string hex) => UInt128.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^XXH(?:3|128) \((?<name>.+)\) = (?<hash>[0-9a-fA-F]+)$")]
    private static partial Regex BsdLine();

    [GeneratedRegex(@"^(?:XXH3_)?(?<hash>[0-9a-fA-F]{16,32})  (?<name>.+)$")]
    private static partial Regex GnuLine();
}
