using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DeltaSnap.Bench;

/// <summary><c>compare A.json B.json</c>: the change from A to B in % of each case's and contender's median, per metric.</summary>
internal static class ReportComparison
{
    public static async Task<BenchReport> LoadAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(bytes, BenchJsonContext.Default.BenchReport) ?? throw new JsonException($"{path}: empty.");
    }

    /// <summary>The comparison as text: one line per case and contender both files hold; the rest listed after.</summary>
    public static string Compare(BenchReport a, BenchReport b)
    {
        var invariant = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        if (a.MatrixSha256 != b.MatrixSha256)
        {
            text.Append("note: the two runs used different matrices\n");
        }
        text.Append(invariant, $"A: {a.Started:yyyy-MM-dd HH:mm} load {a.LoadAverageAtStart}; B: {b.Started:yyyy-MM-dd HH:mm} load {b.LoadAverageAtStart}; medians, change B vs A in %\n");
        text.Append(invariant, $"{"case",-40} {"contender",-14} {"wall",9} {"cpu",9} {"rss",9} {"wire",9}\n");
        var unmatched = new List<string>();
        var inB = b.Cases.SelectMany(c => c.Contenders.Select(r => (Key: $"{c.Key} {r.Name}", Result: r))).ToDictionary(x => x.Key, x => x.Result);
        foreach (var c in a.Cases)
        {
            foreach (var r in c.Contenders)
            {
                if (!inB.Remove($"{c.Key} {r.Name}", out var other))
                {
                    unmatched.Add($"only in A: {c.Key} {r.Name}");
                    continue;
                }
                var changes = r.Metrics().Zip(other.Metrics(), (x, y) => Percent(x.Value.Median, y.Value.Median));
                text.Append(invariant, $"{c.Key,-40} {r.Name,-14} {string.Join(' ', changes.Select(p => p.PadLeft(9)))}\n");
            }
        }
        unmatched.AddRange(inB.Keys.Select(k => $"only in B: {k}"));
        foreach (var line in unmatched)
        {
            text.Append(line).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The change from <paramref name="a"/> to <paramref name="b"/> in percent (<c>+12.5%</c>), or <c>n/a</c> from zero.</summary>
    public static string Percent(double a, double b) =>
        a == 0 ? (b == 0 ? "0.0%" : "n/a") : ((b - a) / a * 100).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + "%";
}
