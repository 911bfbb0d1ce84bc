using DeltaSnap.Drivers;
using DeltaSnap.Replication;

namespace DeltaSnap.Remote.Tests;

/// <summary>A checkpointed refresh cancelled once its spool holds a number of bytes: the first half of a resume test.</summary>
internal static class SpooledCut
{
    /// <summary>
    /// Runs the refresh and cancels it when the checkpoint directory's spool (its only <c>*.spool</c> file; the library
    /// names it after the target's address) holds <paramref name="bytes"/>; asserts it was cancelled; returns what is spooled.
    /// </summary>
    public static async Task<long> RefreshCutAtAsync(Replicator replicator, Volume source, Volume target, RefreshOptions options, long bytes)
    {
        var directory = options.CheckpointDirectory!;
        string? Spool() => Directory.Exists(directory) ? Directory.GetFiles(directory, "*.spool").SingleOrDefault() : null;
        using (var cut = new CancellationTokenSource())
        {
            var watching = Task.Run(async () =>
            {
                while (!cut.IsCancellationRequested)
                {
                    if (Spool() is { } spool && new FileInfo(spool).Length >= bytes)
                    {
                        await cut.CancelAsync();
                        return;
                    }
                    await Task.Delay(2, CancellationToken.None);
                }
            }, CancellationToken.None);
            Assert.That(() => replicator.RefreshAsync(source, target, options, cancellationToken: cut.Token), Throws.InstanceOf<OperationCanceledException>());
            await cut.CancelAsync();
            await watching;
        }
        return new FileInfo(Spool()!).Length;
    }
}
