using Microsoft.Extensions.Logging;

namespace DeltaSnap.Ceph.Interop;

/// <summary>
/// One cluster connection shared by every driver a backend opens: the first to ask connects, the others (also those
/// asking while it connects) take a reference to the same connection. Once its last holder has let go the connection
/// is shut down, and the next to ask connects again. A failed connect is not kept: the next to ask tries again.
/// </summary>
internal sealed class SharedRadosConnection(CephConnectionOptions options)
{
    private readonly Lock _gate = new();
    private Task<RadosCluster>? _connecting;

    /// <summary>A reference to the shared connection, connecting when there is none; dispose it to let go.</summary>
    /// <param name="logger">Where the connect logs, when this call is the one that connects.</param>
    /// <param name="cancellationToken">Stops this caller's wait; a connect in progress goes on for the others.</param>
    /// <exception cref="RbdException">The connection failed.</exception>
    public async Task<RadosCluster> AcquireAsync(ILogger logger, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<RadosCluster> connecting;
            lock (_gate)
            {
                // Not the caller's token: the connection is everyone's, and a connect cannot be cut short anyway.
                connecting = _connecting ??= RadosCluster.ConnectAsync(options, logger, CancellationToken.None);
            }
            RadosCluster cluster;
            try
            {
                cluster = await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                Forget(connecting);
                throw;
            }
            if (cluster.TryAddReference())
            {
                return cluster;
            }
            Forget(connecting); // shut down by its last holder a moment ago: connect again
        }
    }

    private void Forget(Task<RadosCluster> connecting)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_connecting, connecting))
            {
                _connecting = null;
            }
        }
    }
}
