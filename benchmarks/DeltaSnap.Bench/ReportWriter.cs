using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ScottPlot;

namespace DeltaSnap.Bench;

/// <summary>
/// Writes a report's files into a results directory: <c>results.json</c>, one CSV per metric, <c>summary.md</c>,
/// and <c>report.html</c> with its plots (<c>plots/*.png</c>: time and bytes on the wire against the change per pair).
/// </summary>
internal static class ReportWriter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private static readonly MarkerShape[] Shapes =
        [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond, MarkerShape.FilledTriangleDown, MarkerShape.Cross];

    /// <summary>Writes every file; returns their paths.</summary>
    public static async Task<IReadOnlyList<string>> WriteAsync(BenchReport report, string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        var json = Path.Combine(directory, "results.json");
        await File.WriteAllTextAsync(json, JsonSerializer.Serialize(report, BenchJsonContext.Default.BenchReport), cancellationToken).ConfigureAwait(false);
        written.Add(json);
        foreach (var metric in new[] { "wall-seconds", "cpu-seconds", "peak-rss-bytes", "wire-bytes" })
        {
            var csv = Path.Combine(directory, metric + ".csv");
            await File.WriteAllTextAsync(csv, Csv(report, metric), cancellationToken).ConfigureAwait(false);
            written.Add(csv);
        }
        var plots = Plots(report, Path.Combine(directory, "plots"));
        written.AddRange(plots.Select(p => Path.Combine(directory, p.File)));
        var markdown = Path.Combine(directory, "summary.md");
        await File.WriteAllTextAsync(markdown, Markdown(report, plots), cancellationToken).ConfigureAwait(false);
        written.Add(markdown);
        var html = Path.Combine(directory, "report.html");
        await File.WriteAllTextAsync(html, Html(report, plots), cancellationToken).ConfigureAwait(false);
        written.Add(html);
        return written;
    }

    /// <summary>One metric of every case and contender: median, min, max over the rounds.</summary>
    public static string Csv(BenchReport report, string metric)
    {
        var text = new StringBuilder("pair,size_bytes,pattern,rate_percent,changed_bytes,contender,kind,rounds,median,min,max\n");
        foreach (var c in report.Cases)
        {
            foreach (var contender in c.Contenders)
            {
                var value = contender.Metrics().Single(m => m.Metric == metric).Value;
                text.Append(Invariant, $"{c.Pair},{c.SizeBytes},{c.Pattern},{c.RatePercent},{c.ChangedBytes},{contender.Name},{contender.Kind},{contender.Runs.Count},{value.Median:R},{value.Min:R},{value.Max:R}\n");
            }
        }
        return text.ToString();
    }

    /// <summary>The Markdown summary: environment, what was skipped, one table row per case and contender.</summary>
    public static string Markdown(BenchReport report, IReadOnlyList<PlotFile> plots)
    {
        var text = new StringBuilder();
        text.Append(Invariant, $"# DeltaSnap benchmark: {report.MatrixName}\n\n");
        text.Append(Invariant, $"{report.Started:yyyy-MM-dd HH:mm}–{report.Finished:HH:mm} UTC, {report.Rounds} rounds per case and contender, rotated order. ");
        text.Append(Invariant, $"Matrix `{Path.GetFileName(report.MatrixPath)}` SHA-256 `{report.MatrixSha256}`. ");
        text.Append(Invariant, $"Load average at start {report.LoadAverageAtStart}, at end {report.LoadAverageAtEnd}.\n\n");
        text.Append("| environment | |\n|---|---|\n");
        foreach (var (key, value) in report.Environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Append(Invariant, $"| {key} | {value.Replace("|", "\\|", StringComparison.Ordinal)} |\n");
        }
        if (report.Skipped.Count > 0)
        {
            text.Append("\nSkipped:\n\n");
            foreach (var s in report.Skipped)
            {
                text.Append(Invariant, $"- {s.Pair}{(s.Contender is null ? "" : " " + s.Contender)}: {s.Reason}\n");
            }
        }
        text.Append("\nTimes in seconds: median (min–max). Wire: bytes on the wire (median) ÷ bytes whose content changed. RSS: peak resident set, MiB (median). Target = source: what the contender's first run made on the target has the source snapshot's content (SHA-256).\n\n");
        text.Append("| case | changed MiB | contender | wall s | CPU s | RSS MiB | wire MiB | wire ÷ changed | target = source |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var row in CaseRows(report))
        {
            text.Append("| ").AppendJoin(" | ", row.Where((_, i) => i != 3)).Append(" |\n");
        }
        if (plots.Count > 0)
        {
            text.Append("\n## Plots\n\n");
            foreach (var plot in plots)
            {
                text.Append(Invariant, $"![{plot.Title}]({plot.File})\n");
            }
        }
        return text.ToString();
    }

    /// <summary>A plot written next to the report.</summary>
    /// <param name="File">Its path relative to the results directory.</param>
    /// <param name="Title">What it shows.</param>
    internal sealed record PlotFile(string File, string Title);

    // Per pair: wall time, and bytes on the wire, against the cases (pattern × rate), one line per contender and pattern, log scale.
    private static List<PlotFile> Plots(BenchReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var files = new List<PlotFile>();
        foreach (var pairCases in report.Cases.GroupBy(c => (c.Pair, c.SizeBytes)))
        {
            var cases = pairCases.ToList();
            var patterns = cases.Select(c => c.Pattern).Distinct().ToList();
            // One slot per (pattern, rate) measured, the patterns apart by a gap.
            var slots = cases.Select(c => (c.Pattern, c.RatePercent)).Distinct()
                .OrderBy(k => patterns.IndexOf(k.Pattern)).ThenBy(k => k.RatePercent).ToList();
            foreach (var (metric, label, value) in new (string, string, Func<ContenderResult, CaseResult, double>)[]
            {
                ("time", "seconds, log scale", (r, _) => r.WallSeconds.Median),
                ("wire", "MiB, log scale", (r, _) => r.WireBytes.Median / (1 << 20)),
            })
            {
                var plot = new Plot();
                var palette = new ScottPlot.Palettes.Category10();
                var contenders = cases.SelectMany(c => c.Contenders.Select(r => r.Name)).Distinct().ToList();
                // The pattern's name under its first rate only, so that neighbouring labels do not run into each other.
                var ticks = slots.Select((k, i) => new Tick(X(k.Pattern, k.RatePercent),
                    string.Create(Invariant, $"{(i > 0 && slots[i - 1].Pattern == k.Pattern ? "" : k.Pattern)}\n{k.RatePercent:0.##}%"))).ToArray();
                foreach (var (name, index) in contenders.Select((n, i) => (n, i)))
                {
                    for (var p = 0; p < patterns.Count; p++)
                    {
                        var points = cases.Where(c => c.Pattern == patterns[p]).OrderBy(c => c.RatePercent)
                            .Select(c => (Case: c, Result: c.Contenders.FirstOrDefault(r => r.Name == name))).Where(x => x.Result is not null).ToList();
                        if (points.Count == 0)
                        {
                            continue;
                        }
                        // Side by side, so that equal values (the same stream) do not hide each other.
                        var xs = points.Select(x => X(x.Case.Pattern, x.Case.RatePercent) + ((index - ((contenders.Count - 1) / 2.0)) * 0.1)).ToArray();
                        var ys = points.Select(x => Math.Log10(Math.Max(value(x.Result!, x.Case), 1e-4))).ToArray();
                        var line = plot.Add.Scatter(xs, ys);
                        line.Color = palette.GetColor(index);
                        line.LineWidth = 2;
                        line.MarkerSize = 8;
                        line.MarkerShape = Shapes[index % Shapes.Length];
                        if (p == 0)
                        {
                            line.LegendText = name;
                        }
                        if (metric == "time")
                        {
                            foreach (var (x, point) in xs.Zip(points))
                            {
                                var bar = plot.Add.Line(x, Math.Log10(point.Result!.WallSeconds.Min), x, Math.Log10(point.Result.WallSeconds.Max));
                                bar.Color = palette.GetColor(index).WithAlpha(0.6);
                                bar.LineWidth = 1;
                                bar.MarkerSize = 0;
                            }
                        }
                    }
                }
                if (metric == "wire")
                {
                    // The yardstick: the bytes whose content changed.
                    for (var p = 0; p < patterns.Count; p++)
                    {
                        var points = cases.Where(c => c.Pattern == patterns[p]).OrderBy(c => c.RatePercent).ToList();
                        var changed = plot.Add.Scatter(
                            points.Select(c => X(c.Pattern, c.RatePercent)).ToArray(),
                            points.Select(c => Math.Log10(Math.Max(c.ChangedBytes / (double)(1 << 20), 1e-4))).ToArray());
                        changed.Color = Colors.Black;
                        changed.LinePattern = LinePattern.Dashed;
                        changed.MarkerShape = MarkerShape.OpenSquare;
                        if (p == 0)
                        {
                            changed.LegendText = "content changed";
                        }
                    }
                }
                plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
                plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
                {
                    MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                    IntegerTicksOnly = true,
                    LabelFormatter = y => Math.Pow(10, y).ToString("0.###", Invariant),
                };
                plot.Axes.Left.Label.Text = label;
                plot.Axes.Bottom.Label.Text = "change pattern and rate";
                plot.Axes.Title.Label.Text = string.Create(Invariant, $"{pairCases.Key.Pair}, {pairCases.Key.SizeBytes >> 20} MiB: {(metric == "time" ? "wall time (median; bar: min to max)" : "bytes on the wire (median) and bytes changed")}");
                plot.Axes.SetLimitsX(-0.7, X(slots[^1].Pattern, slots[^1].RatePercent) + 0.7);
                plot.ShowLegend(Edge.Right);
                plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.1);
                var file = Path.Combine("plots", string.Create(Invariant, $"{pairCases.Key.Pair}-{pairCases.Key.SizeBytes >> 20}M-{metric}.png"));
                plot.SavePng(Path.Combine(directory, Path.GetFileName(file)), 820, 420);
                files.Add(new PlotFile(file, plot.Axes.Title.Label.Text));
            }

            double X(string pattern, double rate) => slots.IndexOf((pattern, rate)) + patterns.IndexOf(pattern);
        }
        return files;
    }

    /// <summary>The HTML report: the Markdown summary's content as tables, with the plots embedded.</summary>
    public static string Html(BenchReport report, IReadOnlyList<PlotFile> plots)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var text = new StringBuilder("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>DeltaSnap benchmark</title><style>")
            .Append("body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}")
            .Append("td.n{text-align:right}img{max-width:100%;border:1px solid #eee;margin:4px}</style></head><body>\n");
        text.Append(Invariant, $"<h1>DeltaSnap benchmark: {E(report.MatrixName)}</h1>\n<p>{report.Started:yyyy-MM-dd HH:mm}–{report.Finished:HH:mm} UTC; {report.Rounds} rounds per case and contender in rotated order; ");
        text.Append(Invariant, $"matrix <code>{E(Path.GetFileName(report.MatrixPath))}</code> SHA-256 <code>{report.MatrixSha256}</code>; load average {E(report.LoadAverageAtStart)} at start, {E(report.LoadAverageAtEnd)} at end.</p>\n");
        text.Append("<h2>Environment</h2><table>");
        foreach (var (key, value) in report.Environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Append(Invariant, $"<tr><th>{E(key)}</th><td>{E(value)}</td></tr>");
        }
        text.Append("</table>\n");
        if (report.Skipped.Count > 0)
        {
            text.Append("<h2>Skipped</h2><ul>");
            foreach (var s in report.Skipped)
            {
                text.Append(Invariant, $"<li>{E(s.Pair)}{(s.Contender is null ? "" : " " + E(s.Contender))}: {E(s.Reason)}</li>");
            }
            text.Append("</ul>\n");
        }
        text.Append("<h2>Plots</h2>\n");
        foreach (var plot in plots)
        {
            text.Append(Invariant, $"<img src=\"{E(plot.File)}\" alt=\"{E(plot.Title)}\">\n");
        }
        text.Append("<h2>Cases</h2><p>Seconds: median (min–max). Wire ÷ changed: bytes on the wire (median) over bytes whose content changed.</p><table><tr><th>case</th><th>changed MiB</th><th>contender</th><th>what runs</th><th>wall s</th><th>CPU s</th><th>peak RSS MiB</th><th>wire MiB</th><th>wire ÷ changed</th><th>target = source</th></tr>\n");
        foreach (var row in CaseRows(report))
        {
            text.Append("<tr>").AppendJoin("", row.Select((cell, i) => i is 0 or 2 or 3 ? $"<td>{E(cell)}</td>" : $"<td class=n>{E(cell)}</td>")).Append("</tr>\n");
        }
        text.Append("</table>\n</body></html>\n");
        return text.ToString();
    }

    // Case, changed MiB, contender, what runs, wall, CPU, peak RSS MiB, wire MiB, wire ÷ changed, target = source: the summary's and the HTML's rows.
    private static IEnumerable<string[]> CaseRows(BenchReport report) =>
        from c in report.Cases
        from r in c.Contenders
        select new[]
        {
            c.Key.ToString(), Mib(c.ChangedBytes), r.Name, r.Description, Seconds(r.WallSeconds), Seconds(r.CpuSeconds),
            (r.PeakRssBytes.Median / (1 << 20)).ToString("F0", Invariant), Mib((long)r.WireBytes.Median), (r.WireBytes.Median / c.ChangedBytes).ToString("F2", Invariant),
            r.TargetMatches ? "yes" : "NO",
        };

    private static string Seconds(Summary s) => string.Create(Invariant, $"{s.Median:F3} ({s.Min:F3}–{s.Max:F3})");

    private static string Mib(long bytes) => (bytes / (double)(1 << 20)).ToString("F2", Invariant);
}
