using System.Security.Cryptography;
using System.Text;

namespace DeltaSnap.Btrfs.Tests;

/// <summary>
/// A digest of a directory tree: every entry's relative name, type, permissions, size, symbolic-link
/// target and SHA-256 of its bytes. Two trees with equal digests have equal contents.
/// </summary>
public static class TreeDigest
{
    /// <summary>One line per entry, sorted by path.</summary>
    public static IReadOnlyList<string> Describe(string root)
    {
        var lines = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions
                 {
                     RecurseSubdirectories = true,
                     AttributesToSkip = 0,
                     IgnoreInaccessible = false,
                     ReturnSpecialDirectories = false,
                 }).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, path);
            var info = new FileInfo(path);
            var mode = Convert.ToString((int)File.GetUnixFileMode(path), 8);
            if (info.LinkTarget is { } target)
            {
                lines.Add($"L {relative} -> {target}");
            }
            else if (Directory.Exists(path))
            {
                lines.Add($"D {relative} {mode}");
            }
            else
            {
                using var stream = File.OpenRead(path);
                var hash = Convert.ToHexStringLower(SHA256.HashData(stream));
                lines.Add($"F {relative} {mode} {info.Length} {hash}");
            }
        }
        return lines;
    }

    /// <summary>The SHA-256 of <see cref="Describe"/>'s lines.</summary>
    public static string Compute(string root) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', Describe(root)))));
}
