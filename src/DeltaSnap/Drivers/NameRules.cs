namespace DeltaSnap.Drivers;

/// <summary>
/// What a backend accepts as a name. Every name reaches validation before any command runs: no leading
/// <c>-</c> (it would read as an option), no <c>..</c> component, no control characters, none of the
/// backend's forbidden characters, and a length limit.
/// </summary>
public sealed record NameRules
{
    /// <summary>The longest name accepted.</summary>
    public int MaxLength { get; init; } = 255;

    /// <summary>Characters never accepted.</summary>
    public string ForbiddenCharacters { get; init; } = "@#/\\\"'`$;|&<>*?[]{}()!~ \t";

    /// <summary>Whether <c>/</c> may separate path components (ZFS datasets, RBD pool/image). Empty components are never accepted.</summary>
    public bool AllowSlash { get; init; }

    /// <summary>Rules for snapshot names: no slash, 255 characters.</summary>
    public static NameRules Snapshot { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="name"/> follows the rules.</summary>
    /// <exception cref="ArgumentException">The name is empty, too long, starts with '-', has a '..' component, a control character or a forbidden character.</exception>
    public void Validate(string name, string what = "name")
    {
        if (string.IsNullOrEmpty(name))
        {
            ThrowHelper.ThrowArgument(nameof(name), $"The {what} is empty.");
        }
        if (name.Length > MaxLength)
        {
            ThrowHelper.ThrowArgument(nameof(name), $"The {what} '{Printable(name)}' is longer than {MaxLength} characters.");
        }
        foreach (var c in name)
        {
            if (char.IsControl(c))
            {
                ThrowHelper.ThrowArgument(nameof(name), $"The {what} '{Printable(name)}' holds a control character.");
            }
            if (c == '/' ? !AllowSlash : ForbiddenCharacters.Contains(c, StringComparison.Ordinal))
            {
                ThrowHelper.ThrowArgument(nameof(name), $"The {what} '{Printable(name)}' holds the forbidden character '{c}'.");
            }
        }
        foreach (var part in AllowSlash ? name.Split('/') : [name])
        {
            if (part.Length == 0)
            {
                ThrowHelper.ThrowArgument(nameof(name), $"The {what} '{Printable(name)}' has an empty path component.");
            }
            if (part[0] == '-')
            {
                ThrowHelper.ThrowArgument(nameof(name), $"The {what} '{Printable(name)}' starts with '-', which a command would read as an option.");
            }
            if (part is "." or "..")
            {
                ThrowHelper.ThrowArgument(nameof(name), $"The {what} '{Printable(name)}' has a '{part}' component (path traversal).");
            }
        }
    }

    private static string Printable(string name) =>
        new(name.Take(80).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
