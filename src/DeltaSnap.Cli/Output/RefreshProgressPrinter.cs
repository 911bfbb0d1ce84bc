using System.Globalization;
using System.Text;
using DeltaSnap.Cli.Commands;
using DeltaSnap.Replication;

namespace DeltaSnap.Cli.Output;

/// <summary>How <c>refresh</c> shows its progress on standard error.</summary>
internal enum ProgressStyle
{
    /// <summary>Nothing.</summary>
    None,

    /// <summary>One line redrawn in place (<c>\r</c>), for a terminal: bar, stage, bytes, rate, ETA.</summary>
    Bar,

    /// <summary>A plain line at most once per interval, for logs (as <c>zfs send -v</c> and <c>rsync --info=progress2</c> print when redirected).</summary>
    Lines,
}

/// <summary>
/// Shows a refresh's <see cref="RefreshProgress"/> on standard error: bytes done and the total (when the route
/// knows it), the rate over the last seconds, the time left, sizes human-readable. The library reports from several
/// threads and as often as data moves; this prints at most once per <see cref="Interval"/>, and a timer prints
/// between reports so the elapsed time moves while a stage reports no bytes (a backend's receive finishing, rsync).
/// The clock is a <see cref="TimeProvider"/>, so tests drive the throttle and the rate by hand.
/// </summary>
internal sealed class RefreshProgressPrinter : IProgress<RefreshProgress>, IDisposable
{
    /// <summary>The default interval of plain lines: once a second, as <c>zfs send -v</c> and <c>dd status=progress</c>.</summary>
    public static readonly TimeSpan DefaultLineInterval = TimeSpan.FromSeconds(1);

    /// <summary>How often the bar is redrawn at most: often enough to look live, rarely enough not to flicker or cost.</summary>
    public static readonly TimeSpan BarInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The width of the bar between its brackets.</summary>
    public const int BarWidth = 20;

    /// <summary>The rate is measured over about this long (recent samples only, so it follows a changing speed).</summary>
    private static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(5);

    /// <summary>Samples closer together than this are not kept (the native route reports every write).</summary>
    private static readonly TimeSpan SampleSpacing = TimeSpan.FromMilliseconds(100);

    private readonly TextWriter _error;
    private readonly TimeProvider _clock;
    private readonly long _started;
    private readonly int? _width;
    private readonly Lock _lock = new();
    private readonly List<(TimeSpan At, long Done)> _samples = []; // at most RateWindow / SampleSpacing + 2
    private ITimer? _timer;
    private RefreshProgress? _current;
    private TimeSpan? _lastPrinted;
    private bool _changedSincePrint;
    private int _lastLength;
    private bool _finished;

    /// <summary>Creates a printer; <see cref="StartTimer"/> starts its timer.</summary>
    /// <param name="error">Where to print (standard error).</param>
    /// <param name="style"><see cref="ProgressStyle.Bar"/> or <see cref="ProgressStyle.Lines"/>.</param>
    /// <param name="interval">The least time between two prints.</param>
    /// <param name="clock">The clock (tests pass their own).</param>
    /// <param name="width">The terminal's width: a bar line is cut to one less, so it never wraps (a wrapped line cannot be redrawn with <c>\r</c>); null for no limit.</param>
    public RefreshProgressPrinter(TextWriter error, ProgressStyle style, TimeSpan interval, TimeProvider? clock = null, int? width = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (style == ProgressStyle.None)
        {
            throw new ArgumentOutOfRangeException(nameof(style), style, "A printer prints: use no printer for no progress.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.Zero);
        _error = error;
        Style = style;
        Interval = interval;
        _clock = clock ?? TimeProvider.System;
        _started = _clock.GetTimestamp();
        _width = width is > 1 ? width : null;
    }

    /// <summary>How it prints.</summary>
    public ProgressStyle Style { get; }

    /// <summary>The least time between two prints.</summary>
    public TimeSpan Interval { get; }

    /// <summary>
    /// The printer for <paramref name="style"/> on <paramref name="error"/> with its timer started, or null for
    /// <see cref="ProgressStyle.None"/>. A bar is cut to the console's width when <paramref name="error"/> is the console.
    /// </summary>
    public static RefreshProgressPrinter? Start(TextWriter error, ProgressStyle style, TimeSpan lineInterval)
    {
        if (style == ProgressStyle.None)
        {
            return null;
        }
        var printer = new RefreshProgressPrinter(error, style, style == ProgressStyle.Bar ? BarInterval : lineInterval, width: style == ProgressStyle.Bar ? ConsoleWidth() : null);
        printer.StartTimer();
        return printer;
    }

    /// <summary>Whether <paramref name="error"/> is this process's standard error and that is a terminal (not redirected to a file or pipe).</summary>
    public static bool IsTerminal(TextWriter error) => ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>Starts the timer that prints between reports (the elapsed time moves while no bytes do).</summary>
    public void StartTimer()
    {
        lock (_lock)
        {
            var period = Interval > TimeSpan.Zero ? Interval : BarInterval;
            _timer ??= _clock.CreateTimer(_ => Tick(), null, period, period);
        }
    }

    /// <summary>Takes one report (from any thread). Prints when the last print is at least <see cref="Interval"/> old.</summary>
    public void Report(RefreshProgress value)
    {
        lock (_lock)
        {
            if (_finished)
            {
                return;
            }
            var now = Elapsed();
            if (_current is { } current && current.Stage == value.Stage && current.Snapshot == value.Snapshot)
            {
                // The same stage: reports from several threads may arrive out of order; the count never goes back.
                value = value with { BytesDone = Math.Max(value.BytesDone, current.BytesDone), BytesTotal = value.BytesTotal > 0 ? value.BytesTotal : current.BytesTotal };
            }
            else
            {
                _samples.Clear();
            }
            _current = value;
            _changedSincePrint = true;
            AddSample(now, value.BytesDone);
            PrintIfDue(now);
        }
    }

    /// <summary>What the timer does: prints the current state again when the interval has passed (the elapsed time moves).</summary>
    public void Tick()
    {
        lock (_lock)
        {
            if (!_finished && _current is not null)
            {
                var now = Elapsed();
                AddSample(now, _current.Value.BytesDone);
                PrintIfDue(now);
            }
        }
    }

    /// <summary>Stops printing; a bar is erased, so what follows starts on a clean line. Plain lines stay as printed.</summary>
    public void Finish()
    {
        ITimer? timer;
        lock (_lock)
        {
            if (_finished)
            {
                return;
            }
            _finished = true;
            timer = _timer;
            _timer = null;
            if (Style == ProgressStyle.Bar && _lastLength > 0)
            {
                _error.Write("\r" + new string(' ', _lastLength) + "\r");
                _error.Flush();
                _lastLength = 0;
            }
        }
        timer?.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => Finish();

    /// <summary>The rate in bytes per second over the recent samples of this stage; null until there is enough to tell.</summary>
    public double? Rate()
    {
        lock (_lock)
        {
            return RateOf(_samples);
        }
    }

    private static double? RateOf(List<(TimeSpan At, long Done)> samples)
    {
        if (samples.Count < 2)
        {
            return null;
        }
        var (firstAt, firstDone) = samples[0];
        var (lastAt, lastDone) = samples[^1];
        var seconds = (lastAt - firstAt).TotalSeconds;
        return seconds < 0.5 ? null : (lastDone - firstDone) / seconds;
    }

    private void AddSample(TimeSpan now, long done)
    {
        if (_samples.Count > 0 && now - _samples[^1].At < SampleSpacing)
        {
            return;
        }
        _samples.Add((now, done));
        // Keep one sample older than the window, so the rate spans the whole window.
        while (_samples.Count > 2 && now - _samples[1].At >= RateWindow)
        {
            _samples.RemoveAt(0);
        }
    }

    private void PrintIfDue(TimeSpan now)
    {
        if (_lastPrinted is { } last && now - last < Interval)
        {
            return;
        }
        if (Style == ProgressStyle.Lines && !_changedSincePrint && _lastPrinted is not null && now - _lastPrinted.Value < TimeSpan.FromTicks(Interval.Ticks * 10))
        {
            // Nothing moved: a log gets a line every ten intervals (the refresh is alive), not one a second.
            return;
        }
        _lastPrinted = now;
        _changedSincePrint = false;
        var state = _current!.Value;
        var rate = RateOf(_samples);
        if (Style == ProgressStyle.Bar)
        {
            var line = ProgressFormat.BarLine(state, rate, now);
            if (_width is { } width && line.Length > width - 1)
            {
                line = line[..(width - 1)];
            }
            _error.Write("\r" + line.PadRight(_lastLength));
            _lastLength = line.Length;
        }
        else
        {
            _error.WriteLine(ProgressFormat.PlainLine(state, rate, now));
        }
        _error.Flush();
    }

    private TimeSpan Elapsed() => _clock.GetElapsedTime(_started);

    private static int? ConsoleWidth()
    {
        try
        {
            return Console.WindowWidth;
        }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException or InvalidOperationException)
        {
            return null;
        }
    }
}

/// <summary>The text of progress: sizes, rates, durations, and the two kinds of line. Pure functions of their inputs.</summary>
internal static class ProgressFormat
{
    private static readonly string[] Units = ["KiB", "MiB", "GiB", "TiB", "PiB"];

    /// <summary>A rate: <c>12.5 MiB/s</c>, <c>800 B/s</c>; <c>-</c> when unknown.</summary>
    public static string Rate(double? bytesPerSecond) =>
        bytesPerSecond is { } r && double.IsFinite(r) && r >= 0 ? Size((long)r) + "/s" : "-";

    /// <summary>A size with one decimal above a KiB (<c>1.5 GiB</c>, <c>12.0 MiB</c>, <c>512 B</c>): steady width as it grows.</summary>
    public static string Size(long bytes)
    {
        var units = Units;
        if (bytes < 1024)
        {
            return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        }
        double value = bytes;
        var unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        // 1023.96 KiB would print as "1024.0 KiB": show it as the next unit instead.
        if (Math.Round(value, 1) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return value.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    /// <summary>A duration as <c>H:MM:SS</c> (<c>0:00:07</c>, <c>12:03:00</c>), as rsync and pv print it; whole seconds.</summary>
    public static string Duration(TimeSpan duration)
    {
        var seconds = (long)Math.Max(0, Math.Floor(duration.TotalSeconds));
        return string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600}:{seconds / 60 % 60:00}:{seconds % 60:00}");
    }

    /// <summary>The time left at <paramref name="bytesPerSecond"/>; null when the total or the rate is unknown, or nothing moves.</summary>
    public static TimeSpan? TimeLeft(long done, long total, double? bytesPerSecond)
    {
        if (total <= 0 || bytesPerSecond is not > 0 || !double.IsFinite(bytesPerSecond.Value))
        {
            return null;
        }
        var seconds = Math.Max(0, total - done) / bytesPerSecond.Value;
        return seconds > TimeSpan.MaxValue.TotalSeconds / 2 ? null : TimeSpan.FromSeconds(seconds);
    }

    /// <summary>The percentage done, 0 to 100 (a total that was an estimate and is passed counts as 100); null when the total is unknown.</summary>
    public static double? Percent(long done, long total) => total > 0 ? Math.Min(100.0, 100.0 * done / total) : null;

    /// <summary>
    /// A log line: <c>0:00:07 sending s1: 512.0 MiB of 1.0 GiB (50%), 120.0 MiB/s, ETA 0:00:04</c>; without a total,
    /// <c>0:00:07 sending s1: 512.0 MiB, 120.0 MiB/s</c>.
    /// </summary>
    public static string PlainLine(RefreshProgress progress, double? bytesPerSecond, TimeSpan elapsed)
    {
        var line = new StringBuilder();
        line.Append(Duration(elapsed)).Append(' ').Append(Stage(progress)).Append(": ").Append(Size(progress.BytesDone));
        if (Percent(progress.BytesDone, progress.BytesTotal) is { } percent)
        {
            line.Append(" of ").Append(Size(progress.BytesTotal)).Append(CultureInfo.InvariantCulture, $" ({Math.Floor(percent):0}%)");
        }
        line.Append(", ").Append(Rate(bytesPerSecond));
        if (TimeLeft(progress.BytesDone, progress.BytesTotal, bytesPerSecond) is { } left)
        {
            line.Append(", ETA ").Append(Duration(left));
        }
        return line.ToString();
    }

    /// <summary>
    /// A terminal line: <c>[##########..........]  50% sending s1  512.0 MiB/1.0 GiB  120.0 MiB/s  ETA 0:00:04</c>. Without a total
    /// the bar holds a <c>&lt;=&gt;</c> that moves with the elapsed time (as wget and pv show an unknown size) and the
    /// elapsed time stands where the ETA would.
    /// </summary>
    public static string BarLine(RefreshProgress progress, double? bytesPerSecond, TimeSpan elapsed)
    {
        var line = new StringBuilder("[");
        if (Percent(progress.BytesDone, progress.BytesTotal) is { } percent)
        {
            var filled = (int)(RefreshProgressPrinter.BarWidth * percent / 100);
            line.Append('#', filled).Append('.', RefreshProgressPrinter.BarWidth - filled)
                .Append(CultureInfo.InvariantCulture, $"] {Math.Floor(percent),3:0}% ").Append(Stage(progress))
                .Append("  ").Append(Size(progress.BytesDone)).Append('/').Append(Size(progress.BytesTotal));
        }
        else
        {
            // Back and forth, a step each 200 ms.
            var span = RefreshProgressPrinter.BarWidth - 3;
            var step = (int)(elapsed.Ticks / TimeSpan.FromMilliseconds(200).Ticks % (2 * span));
            var at = step <= span ? step : (2 * span) - step;
            line.Append(' ', at).Append("<=>").Append(' ', span - at)
                .Append("]      ").Append(Stage(progress)).Append("  ").Append(Size(progress.BytesDone));
        }
        line.Append("  ").Append(Rate(bytesPerSecond));
        line.Append(TimeLeft(progress.BytesDone, progress.BytesTotal, bytesPerSecond) is { } left ? "  ETA " + Duration(left) : "  " + Duration(elapsed));
        return line.ToString();
    }

    private static string Stage(RefreshProgress progress) =>
        progress.Snapshot is null ? progress.Stage : progress.Stage + " " + progress.Snapshot;
}
