using System.Globalization;

namespace DeltaSnap.Drivers;

/// <summary>A name broke a driver's naming rules; the message names the rule. Nothing was contacted or changed.</summary>
public sealed class InvalidNameException : ArgumentException
{
    private readonly string _message;

    /// <summary>Creates the exception.</summary>
    public InvalidNameException()
        : this("The name breaks the naming rules.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public InvalidNameException(string message)
        : this(message, (Exception?)null)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public InvalidNameException(string message, Exception? innerException)
        : base(message, innerException)
    {
        _message = message;
    }

    /// <summary>Creates the exception with a message and the parameter that held the name.</summary>
    public InvalidNameException(string message, string? paramName)
        : base(message, paramName)
    {
        _message = message;
    }

    /// <summary>The message alone (without the parameter name .NET appends), for users.</summary>
    public override string Message => _message;
}

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

    /// <summary>Throws <see cref="InvalidNameException"/> unless <paramref name="name"/> follows the rules.</summary>
    /// <exception cref="InvalidNameException">The name is empty, too long, starts with '-', has a '..' component, a control
    /// character, an invisible format character (bidirectional overrides and isolates, zero-width characters: they make a
    /// listing lie about what a name is), a line separator, a lone surrogate, or a forbidden character.</exception>
    public void Validate(string name, string what = "name")
    {
        if (string.IsNullOrEmpty(name))
        {
            Throw($"The {what} is empty.");
        }
        if (name.Length > MaxLength)
        {
            Throw($"The {what} '{Printable(name)}' is longer than {MaxLength} characters.");
        }
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsControl(c))
            {
                Throw($"The {what} '{Printable(name)}' holds the control character U+{(int)c:X4}.");
            }
            if (char.IsSurrogate(c) && !(char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1])))
            {
                Throw($"The {what} '{Printable(name)}' holds a lone surrogate U+{(int)c:X4} (not valid Unicode).");
            }
            if (char.IsSurrogate(c))
            {
                i++;
                continue;
            }
            switch (char.GetUnicodeCategory(c))
            {
                case UnicodeCategory.Format:
                    Throw($"The {what} '{Printable(name)}' holds the invisible format character U+{(int)c:X4} (such as a right-to-left override or a zero-width character), which would make listings show another name.");
                    break;
                case UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator:
                    Throw($"The {what} '{Printable(name)}' holds the line separator U+{(int)c:X4}.");
                    break;
                default:
                    break;
            }
            if (c == '/' ? !AllowSlash : ForbiddenCharacters.Contains(c, StringComparison.Ordinal))
            {
                Throw($"The {what} '{Printable(name)}' holds the forbidden character '{c}'.");
            }
        }
        foreach (var part in AllowSlash ? name.Split('/') : [name])
        {
            if (part.Length == 0)
            {
                Throw($"The {what} '{Printable(name)}' has an empty path component.");
            }
            if (part[0] == '-')
            {
                Throw($"The {what} '{Printable(name)}' starts with '-', which a command would read as an option.");
            }
            if (part is "." or "..")
            {
                Throw($"The {what} '{Printable(name)}' has a '{part}' component (path traversal).");
            }
        }
    }

    /// <summary>Whether <paramref name="name"/> follows the rules.</summary>
    public bool IsValid(string name)
    {
        try
        {
            Validate(name);
            return true;
        }
        catch (InvalidNameException)
        {
            return false;
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Throw(string message) => throw new InvalidNameException(message);

    /// <summary>The name as it can be shown: control, format and separator characters and surrogates as '?'.</summary>
    private static string Printable(string name) =>
        new(name.Take(80).Select(c => char.IsControl(c) || char.IsSurrogate(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator ? '?' : c).ToArray());
}
