using DeltaSnap.Lineage;

namespace DeltaSnap.Drivers;

/// <summary>
/// What <see cref="Volume.ReceiveAsync"/> knows of the receiving volume while the stream's header is read: its
/// lineage, which the template checks the header against. A driver may derive from it to carry the extra state it
/// reads at the same time (properties, an open handle, a process started early) and release it in
/// <see cref="ReleaseCoreAsync"/>, which runs whether or not the stream was received.
/// </summary>
public class NativeReceiveTarget : IAsyncDisposable
{
    private int _disposed;

    /// <summary>Creates the target state.</summary>
    /// <param name="lineage">The target's snapshots, oldest first (empty for a volume that does not exist yet).</param>
    public NativeReceiveTarget(SnapshotLineage lineage)
    {
        ArgumentNullException.ThrowIfNull(lineage);
        Lineage = lineage;
    }

    /// <summary>The target's snapshots, oldest first.</summary>
    public SnapshotLineage Lineage { get; }

    /// <summary>Releases what the driver holds for the receive (once).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await ReleaseCoreAsync().ConfigureAwait(false);
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what the driver holds; the default holds nothing.</summary>
    protected virtual ValueTask ReleaseCoreAsync() => ValueTask.CompletedTask;
}
