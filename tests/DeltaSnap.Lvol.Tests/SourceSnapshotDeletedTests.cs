using DeltaSnap.Checksums;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using DeltaSnap.Replication;

namespace DeltaSnap.Lvol.Tests;

/// <summary>
/// A source snapshot deleted while a refresh runs (after planning, right before it is read): the refresh fails with a
/// clear error naming the snapshot, nothing is half-promoted on the target (its lineage and live state are what they
/// were at its last complete snapshot), no temporary snapshot is left on either side, and the next refresh succeeds.
/// </summary>
public sealed class SourceSnapshotDeletedTests : StoreFixture
{
    private const int Cluster = 64 * 1024;

    [TestCase(false)]
    [TestCase(true)]
    public async Task Refresh_sourceSnapshotDeletedDuringTheRefresh_clearErrorNothingHalfPromotedNextRefreshSucceeds(bool checksumRoute)
    {
        await using var sourceDriver = await LvolDriver.CreateStoreAsync(StorePath("a"), Cluster);
        await using var targetDriver = await LvolDriver.CreateStoreAsync(StorePath("b"), Cluster);
        var source = await sourceDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 32 * Cluster });
        var target = await targetDriver.CreateVolumeAsync("vm", new VolumeCreateOptions { Size = 32 * Cluster });
        await WriteAsync(source, 0, Pattern(4 * Cluster, 1));
        await source.CreateSnapshotAsync("s1");
        var options = new RefreshOptions { DisableNativeStreams = checksumRoute, Delta = new DeltaSnap.Delta.DeltaPlanOptions { ClusterSize = Cluster } };
        var replicator = new Replicator();
        await replicator.RefreshAsync(source, target, options);
        var complete = await ReadAsync(target, null);
        await WriteAsync(source, 8 * Cluster, Pattern(4 * Cluster, 2));
        await source.CreateSnapshotAsync("s2");
        await WriteAsync(source, 16 * Cluster, Pattern(2 * Cluster, 3));
        await source.CreateSnapshotAsync("s3");

        var racing = new SnapshotDeletingVolume(source, "s3");
        var failure = Assert.ThrowsAsync<VolumeNotFoundException>(async () => await replicator.RefreshAsync(racing, target, options));

        Assert.That(failure!.Message, Does.Contain("'s3'"), "the error names the snapshot that vanished");
        var targetLineage = await target.GetLineageAsync();
        Assert.That(targetLineage.Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }).Or.EqualTo(new[] { "s1" }), "only complete snapshots, none half-received");
        var last = targetLineage.Latest!.Name;
        Assert.That(await ReadAsync(target, null), Is.EqualTo(await ReadAsync(target, last)), "the live state is the last complete snapshot");
        Assert.That(await ReadAsync(target, "s1"), Is.EqualTo(complete));
        Assert.That((await source.GetLineageAsync()).Where(s => s.IsTemporary), Is.Empty);
        Assert.That(targetDriver.Store.ListLvols().Select(l => l.Name).Where(n => n.Contains("deltasnap-tmp-", StringComparison.Ordinal) || n.Contains("@.receiving-", StringComparison.Ordinal)), Is.Empty);

        await replicator.RefreshAsync(source, target, options);

        Assert.That(await ReadAsync(target, null), Is.EqualTo(await ReadAsync(source, null)));
        Assert.That((await target.GetLineageAsync()).Select(s => s.Name), Is.EqualTo(new[] { "s1", "s2" }));
    }

    private static async Task WriteAsync(Volume volume, long offset, byte[] data)
    {
        await using var device = await volume.OpenDeviceAsync(null, writable: true);
        await device.WriteAsync(offset, data);
        await device.FlushAsync();
    }

    private static async Task<byte[]> ReadAsync(Volume volume, string? snapshot)
    {
        await using var device = await volume.OpenDeviceAsync(snapshot);
        var bytes = new byte[device.Length];
        await device.ReadAsync(0, bytes);
        return bytes;
    }

    /// <summary>A source whose snapshot <paramref name="doomed"/> is deleted (as by another tool) the moment the refresh first reads it.</summary>
    private sealed class SnapshotDeletingVolume(Volume inner, string doomed) : Volume(inner.Driver, inner.Name, inner.Kind)
    {
        private int _deleted;

        public override string Address => inner.Address;

        private async Task RaceAsync(string? snapshot, CancellationToken cancellationToken)
        {
            if (snapshot == doomed && Interlocked.Exchange(ref _deleted, 1) == 0)
            {
                await inner.DeleteSnapshotAsync(doomed, cancellationToken);
            }
        }

        protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => inner.GetSizeAsync(cancellationToken);

        protected override Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken) => inner.GetLineageAsync(cancellationToken);

        protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken) =>
            inner.CreateSnapshotAsync(name, options, cancellationToken);

        protected override Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken) => inner.DeleteSnapshotAsync(name, cancellationToken);

        protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken) => inner.RollbackAsync(name, cancellationToken);

        protected override async Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken)
        {
            await RaceAsync(snapshot, cancellationToken);
            return await inner.OpenDeviceAsync(snapshot, writable, cancellationToken);
        }

        protected override async Task SendCoreAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions options, CancellationToken cancellationToken)
        {
            await RaceAsync(snapshot, cancellationToken);
            await inner.SendAsync(baseSnapshot, snapshot, destination, options, cancellationToken);
        }

        protected override Task<RangeSet> GetChangedRangesCoreAsync(string? baseSnapshot, string snapshot, CancellationToken cancellationToken) =>
            inner.GetChangedRangesAsync(baseSnapshot, snapshot, cancellationToken);

        protected override Task<ClusterChecksums?> GetStoredChecksumsCoreAsync(string snapshot, ClusterChecksumOptions options, CancellationToken cancellationToken) =>
            inner.GetStoredChecksumsAsync(snapshot, options, cancellationToken);
    }
}
