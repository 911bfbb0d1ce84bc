using System.Globalization;

namespace DeltaSnap.Cli.Commands;

/// <summary>Sizes on the command line: a number of bytes, optionally with a binary suffix K, M, G or T (<c>64K</c>, <c>1M</c>, <c>1MiB</c>).</summary>
internal static class ByteSize
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB"];

    /// <summary>Parses <paramref name="text"/>; false when it is not a non-negative size that fits in 64 bits.</summary>
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        var s = text.AsSpan().Trim();
        if (s.EndsWith("iB", StringComparison.OrdinalIgnoreCase) && s.Length > 2 && char.IsLetter(s[^3]))
        {
            s = s[..^2];
        }
        else if (s.EndsWith("B", StringComparison.OrdinalIgnoreCase))
        {
            s = s[..^1];
        }
        var shift = s.IsEmpty ? 0 : char.ToUpperInvariant(s[^1]) switch
        {
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            _ => 0,
        };
        if (shift != 0)
        {
            s = s[..^1];
        }
        if (s.IsEmpty || !long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > long.MaxValue >> shift)
        {
            return false;
        }
        bytes = number << shift;
        return true;
    }

    /// <summary>A short human form: <c>1 MiB</c>, <c>64 KiB</c>, <c>1.5 GiB</c>, <c>512 B</c>.</summary>
    public static string Format(long bytes)
    {
        var unit = 0;
        double value = bytes;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        var number = unit == 0 || value == Math.Floor(value)
            ? value.ToString("0", CultureInfo.InvariantCulture)
            : value.ToString("0.#", CultureInfo.InvariantCulture);
        return number + " " + Units[unit];
    }
}
