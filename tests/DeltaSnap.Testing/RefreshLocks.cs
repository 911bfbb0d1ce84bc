namespace DeltaSnap.Testing;

/// <summary>Holds a target's refresh lock as another refresh would, so tests can see what a second one does.</summary>
public static class RefreshLocks
{
    /// <summary>Takes the lock of the target at <paramref name="address"/> (as its refresh takes it); dispose to let go.</summary>
    public static IAsyncDisposable Hold(string address) =>
        DeltaSnap.Drivers.RefreshLock.Acquire(address, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
}
