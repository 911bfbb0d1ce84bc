using System.Globalization;
using System.Text.RegularExpressions;

namespace DeltaSnap.Rsync;

/// <summary>
/// The server command lines of the remote rsync route, as the local rsync client writes them for its remote shell
/// (<c>rsync --server [--sender] -lHogDtpAXrxSe.iLsfxCIvu --delete --numeric-ids … . tree/</c>), and their check on
/// the machine that holds the tree, which runs nothing a peer asks for unless every word is one the route itself
/// produces: an allow-list of options, <c>--sender</c> exactly when the tree is only read, the dummy <c>.</c>, and the
/// one path <see cref="TreePlaceholder"/>, which the server replaces with the tree's own path. Everything else
/// (<c>--rsync-path</c>, <c>-e</c>, <c>--files-from</c>, <c>--temp-dir</c>, <c>--link-dest</c>, <c>--log-file</c>,
/// <c>-s</c> that would move the options into the protocol, a second path, a path of the peer's choosing) is refused.
/// </summary>
internal static partial class RsyncServerArguments
{
    /// <summary>The host name the client gives its remote shell: never resolved, only checked.</summary>
    public const string Host = "deltasnap";

    /// <summary>The path the client names on the remote side; the server replaces it with the tree's path.</summary>
    public const string TreePlaceholder = "tree/";

    // Short options the route's flags turn into (-a: rlptgoD; -H, -A, -X, -x, -S), and v for a verbose client.
    private const string ShortOptions = "lHogDtpAXrxSv";

    private static readonly HashSet<string> LongOptions = ["--numeric-ids", "--stats", "--inplace", "--no-W", "--no-whole-file"];

    // Only where the tree is written: deleting what the source lacks.
    private static readonly HashSet<string> WriteOptions = ["--delete", "--delete-during", "--delete-delay", "--delete-after"];

    /// <summary>
    /// Checks what a peer asked to run (the words after the host and the program: <c>--server …</c>) and returns the
    /// words to run it with: the same, with the tree's path in place of <see cref="TreePlaceholder"/>.
    /// </summary>
    /// <param name="arguments">The words the peer sent.</param>
    /// <param name="directory">The tree (absolute, validated by the caller).</param>
    /// <param name="writable">Whether the tree is a target to write (rsync's receiver) or a source only read (its sender).</param>
    /// <param name="linkDirectory">
    /// A written tree's link directory, chosen by this machine (the peer may never name one): added as
    /// <c>--link-dest</c>, so the receiver hard-links the files it does not receive from it.
    /// </param>
    /// <param name="inPlaceBlockSize">
    /// This machine's block size for a written tree updated in place (<c>--inplace</c>), raised for the tree's largest
    /// file (<see cref="RsyncBlockSize.For"/>) and added as <c>-B</c>: the receiver chooses it, and a peer may not (a
    /// small one on a large file would cost this machine memory).
    /// </param>
    /// <exception cref="UnauthorizedAccessException">A word is not one the route uses; the message names it.</exception>
    public static IReadOnlyList<string> Check(IReadOnlyList<string> arguments, string directory, bool writable, string? linkDirectory = null, int inPlaceBlockSize = 0)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Count == 0 || arguments[0] != "--server")
        {
            throw Refused(arguments.Count == 0 ? "an empty command line" : $"'{Shown(arguments[0])}' where '--server' must come first");
        }
        var result = new List<string>(arguments.Count) { "--server" };
        var sender = false;
        var capabilities = false;
        var i = 1;
        for (; i < arguments.Count && arguments[i] != "."; i++)
        {
            var word = arguments[i];
            if (word == "--sender")
            {
                if (writable)
                {
                    throw Refused("'--sender' on a tree that is to be written (the peer may only send to it)");
                }
                sender = true;
            }
            else if (IsNumericOption(word))
            {
                // -@N, --modify-window=N, --bwlimit=N
            }
            else if (word.Length > 1 && word[0] == '-' && word[1] != '-')
            {
                CheckShortOptions(word, ref capabilities);
            }
            else if (!LongOptions.Contains(word) && !(writable && WriteOptions.Contains(word)))
            {
                throw Refused(WriteOptions.Contains(word) ? $"'{word}' on a tree that is only read" : $"'{Shown(word)}', which the rsync route does not use");
            }
            result.Add(word);
        }
        if (!writable && !sender)
        {
            throw Refused("a receiver on a tree that is only read ('--sender' missing: the peer may only read it)");
        }
        if (i >= arguments.Count)
        {
            throw Refused("no '.' and path after the options");
        }
        var paths = arguments.Skip(i + 1).ToList();
        if (paths.Count != 1 || paths[0] != TreePlaceholder)
        {
            throw Refused(paths.Count == 0
                ? "no path after '.'"
                : $"the path{(paths.Count > 1 ? "s" : "")} {string.Join(", ", paths.Select(p => "'" + Shown(p) + "'"))} (only '{TreePlaceholder}', the served tree, may be named)");
        }
        if (linkDirectory is not null)
        {
            result.Add("--link-dest=" + linkDirectory);
        }
        if (writable && inPlaceBlockSize > 0 && result.Contains("--inplace"))
        {
            result.Add("-B" + RsyncBlockSize.For(RsyncBlockSize.LargestFile(directory), inPlaceBlockSize).ToString(CultureInfo.InvariantCulture));
        }
        result.Add(".");
        result.Add(directory.EndsWith('/') ? directory : directory + "/");
        return result;
    }

    /// <summary>A cluster of short options (<c>-lHogDtpAXrxSe.iLsfxCIvu</c>): known letters, then optionally <c>e</c> and the client's capability letters.</summary>
    private static void CheckShortOptions(string word, ref bool capabilities)
    {
        for (var k = 1; k < word.Length; k++)
        {
            var c = word[k];
            if (c == 'e' && k > 1 && !capabilities)
            {
                // "-e.iLsfxCIvu": in a server command line, what follows 'e' is the client's protocol capabilities, not a shell.
                var rest = word[(k + 1)..];
                if (!CapabilityLetters().IsMatch(rest))
                {
                    throw Refused($"the capability string '{Shown(rest)}' after 'e' in '{Shown(word)}'");
                }
                capabilities = true;
                return;
            }
            if (!ShortOptions.Contains(c, StringComparison.Ordinal))
            {
                throw Refused($"the option '-{Shown(c.ToString())}' in '{Shown(word)}', which the rsync route does not use");
            }
        }
    }

    /// <summary><c>-@N</c>/<c>--modify-window=N</c> (times compared to the nanosecond: -1) and <c>--bwlimit=N</c>.</summary>
    private static bool IsNumericOption(string word)
    {
        foreach (var prefix in (string[])["-@", "--modify-window=", "--bwlimit="])
        {
            if (word.StartsWith(prefix, StringComparison.Ordinal)
                && int.TryParse(word.AsSpan(prefix.Length), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
                && (prefix != "--bwlimit=" || value >= 0))
            {
                return true;
            }
        }
        return false;
    }

    private static UnauthorizedAccessException Refused(string what) =>
        new($"The peer asked to run rsync --server with {what}: refused, nothing ran (the rsync route runs only the options and the tree it produces itself).");

    private static string Shown(string text)
    {
        var shown = new string([.. text.Take(80).Select(c => char.IsControl(c) ? '?' : c)]);
        return text.Length > 80 ? shown + "…" : shown;
    }

    [GeneratedRegex(@"^[.0-9A-Za-z]{0,32}$", RegexOptions.CultureInvariant)]
    private static partial Regex CapabilityLetters();
}
