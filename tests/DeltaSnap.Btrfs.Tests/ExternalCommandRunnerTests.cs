using System.Security.Cryptography;
using DeltaSnap.ExternalCommands;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Btrfs.Tests;

/// <summary>
/// The shared external-command runner (src/Shared/ExternalCommands, compiled into DeltaSnap.Btrfs and DeltaSnap.Zfs),
/// with ordinary programs: no Btrfs needed.
/// </summary>
public class ExternalCommandRunnerTests
{
    private static ExternalCommandRunner Runner(string program, Func<string, bool>? isTransient = null) =>
        new(program, NullLogger.Instance, isTransient: isTransient);

    [Test]
    public async Task TryRunAsync_argumentsAreNotShellWords()
    {
        var result = await Runner("printf").TryRunAsync(["%s|", "a b", "$(echo no)", "-x;"], default);
        Assert.That(result.Succeeded, Is.True);
        Assert.That(result.StandardOutput, Is.EqualTo("a b|$(echo no)|-x;|"));
    }

    [Test]
    public async Task TryRunAsync_runsInTheCLocaleWithExtraEnvironment()
    {
        var runner = new ExternalCommandRunner("sh", NullLogger.Instance, environment: [new("TZ", "UTC")]);
        var output = await runner.RunAsync(["-c", "echo \"$LC_ALL $TZ\""], default);
        Assert.That(output.Trim(), Is.EqualTo("C UTC"));
    }

    [Test]
    public async Task TryRunAsync_longStandardError_keepsABoundedTail()
    {
        var result = await Runner("sh").TryRunAsync(["-c", "head -c 300000 /dev/zero | tr '\\0' x >&2; echo THE-END >&2; exit 3"], default);
        Assert.That(result.ExitCode, Is.EqualTo(3));
        Assert.That(result.StandardError.Length, Is.LessThanOrEqualTo(ExternalCommandRunner.StandardErrorTailChars + 1));
        Assert.That(result.StandardError, Does.StartWith("…").And.EndWith("THE-END\n"));
    }

    [Test]
    public async Task TryRunAsync_standardOutputTailAsked_keepsOnlyTheTailOfStandardOutput()
    {
        var script = "head -c 300000 /dev/zero | tr '\\0' x; echo THE-END";
        var tail = await new ExternalCommandRunner("sh", NullLogger.Instance, standardOutputTailChars: 1000).TryRunAsync(["-c", script], default);
        var whole = await Runner("sh").TryRunAsync(["-c", script], default);
        Assert.That(tail.StandardOutput.Length, Is.LessThanOrEqualTo(1001));
        Assert.That(tail.StandardOutput, Does.StartWith("…x").And.EndWith("xTHE-END\n"));
        Assert.That(whole.StandardOutput, Has.Length.EqualTo(300_008), "without a tail limit the whole output is kept (zfs list)");
    }

    [Test]
    public async Task TryRunAsync_cancelled_killsTheWholeProcessTree()
    {
        var pidFile = Path.Combine(Path.GetTempPath(), "deltasnap-runner-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var cancel = new CancellationTokenSource();
            var run = Runner("sh").TryRunAsync(["-c", $"sleep 60 & echo $! > '{pidFile}'; wait"], cancel.Token);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!File.Exists(pidFile) || File.ReadAllText(pidFile).Trim().Length == 0)
            {
                Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "the child never started");
                await Task.Delay(20);
            }
            var grandchild = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            await cancel.CancelAsync();
            Assert.That(async () => await run, Throws.InstanceOf<OperationCanceledException>());
            while (IsRunning(grandchild) && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(20);
            }
            Assert.That(IsRunning(grandchild), Is.False, "the grandchild (sleep) was killed with its parent");
        }
        finally
        {
            File.Delete(pidFile);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            return !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal); // a zombie has ended
        }
        catch (IOException)
        {
            return false;
        }
    }

    [Test]
    public void ThrowIfFailed_failure_isBackendCommandExceptionWithCommandExitCodeStderrAndTransience()
    {
        var runner = Runner("sh", isTransient: static stderr => stderr.Contains("busy", StringComparison.Ordinal));
        var busy = Assert.ThrowsAsync<BackendCommandException>(() => runner.RunAsync(["-c", "echo 'it is busy' >&2; exit 16"], default));
        Assert.That(busy!.CommandLine, Is.EqualTo("sh -c 'echo '\\''it is busy'\\'' >&2; exit 16'"));
        Assert.That(busy.ExitCode, Is.EqualTo(16));
        Assert.That(busy.StandardError, Is.EqualTo("it is busy"));
        Assert.That(busy.IsTransient, Is.True);
        var other = Assert.ThrowsAsync<BackendCommandException>(() => runner.RunAsync(["-c", "echo nope >&2; exit 1"], default));
        Assert.That(other!.IsTransient, Is.False);
    }

    [Test]
    public void Start_missingProgram_isBackendCommandExceptionWithExitCodeMinusOne()
    {
        var e = Assert.ThrowsAsync<BackendCommandException>(() => Runner("/nonexistent/deltasnap-no-such-program").RunAsync(["x"], default));
        Assert.That(e!.ExitCode, Is.EqualTo(-1));
    }

    [Test]
    public async Task RunWithInputAndOutput_relayCopiesEveryByteBothWays()
    {
        var path = Path.Combine(Path.GetTempPath(), "deltasnap-relay-" + Guid.NewGuid().ToString("N"));
        try
        {
            var data = RandomNumberGenerator.GetBytes(5 << 20);
            var prefix = data.AsMemory(0, 1000);
            var fed = await Runner("sh").RunWithInputAsync(["-c", "cat > \"$1\"", "sh", path], prefix, new MemoryStream(data, 1000, data.Length - 1000), default);
            Assert.That(fed, Is.EqualTo(data.Length));
            var back = new MemoryStream();
            var copied = await Runner("cat").RunWithOutputAsync([path], back, default);
            Assert.That(copied, Is.EqualTo(data.Length));
            Assert.That(back.ToArray(), Is.EqualTo(data));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void RunWithInputAsync_failingSource_killsTheCommandAndRethrowsTheSourceFailure()
    {
        var source = new Testing.Streams.ThrowAfterNBytesStream(new MemoryStream(new byte[1 << 20]), 1000);
        var e = Assert.CatchAsync(() => Runner("cat").RunWithInputAsync([], default, source, default));
        Assert.That(e, Is.Not.InstanceOf<BackendCommandException>(), "the source's own failure, not the command's");
    }

    [Test]
    public void TryRunAsync_cancelled_killsTheProcess()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.That(async () => await Runner("sleep").TryRunAsync(["30"], cancel.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public async Task StartWithInput_abandonedUnfed_killsTheCommandWithoutItSeeingAnEmptyInput()
    {
        var path = Path.Combine(Path.GetTempPath(), "deltasnap-unfed-" + Guid.NewGuid().ToString("N"));
        var command = Runner("sh").StartWithInput(["-c", "cat > /dev/null && touch \"$1\"", "sh", path], default);
        await command.DisposeAsync();
        Assert.That(File.Exists(path), Is.False);
    }
}
