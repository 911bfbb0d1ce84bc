using DeltaSnap.Cli.Commands;
using DeltaSnap.Cli.Tests.Support;
using DeltaSnap.Testing;

namespace DeltaSnap.Cli.Tests;

/// <summary>
/// <c>deltasnap refresh</c> of a target another refresh holds (here: this test process, as a second refresh on the
/// machine would): refused with exit 8 and a message naming the target and the lock, the target untouched; once the
/// lock is let go, the same command runs.
/// </summary>
public sealed class RefreshLockCommandTests : LvolPairTests
{
    [Test]
    public async Task Refresh_targetHeldByAnotherProcess_exitsBusyChangingNothingThenRunsOnceLetGo()
    {
        await Lvol.WriteAsync(SourceStore, "vm1", 0, LvolFixture.RandomBytes(256 * 1024, 1));
        await LvolFixture.RunOkAsync("snapshot", "create", Source, "s1");
        var before = await TargetBytesAsync();

        ToolResult refused;
        await using (RefreshLocks.Hold(Target))
        {
            refused = await DeltaSnapTool.RunProcessAsync("refresh", Source, Target);
        }

        Assert.That(refused.ExitCode, Is.EqualTo(ExitCodes.Busy), refused.ToString());
        Assert.That(refused.Error, Does.StartWith("deltasnap: Another refresh of " + Target).And.Contain("/deltasnap"));
        Assert.That(await LvolFixture.SnapshotsAsync(Target), Is.Empty, "the refused refresh sent nothing");
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(before));

        var ran = await DeltaSnapTool.RunProcessAsync("refresh", Source, Target);

        Assert.That(ran.ExitCode, Is.Zero, ran.ToString());
        Assert.That(await TargetBytesAsync(), Bytes.EqualTo(await SourceBytesAsync()));
    }
}
