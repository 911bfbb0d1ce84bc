using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Cli.Tests.Support;

/// <summary>
/// A backend the tool does not ship: block volumes held in memory, addressed <c>mem:VOLUME</c>, registered by a test the
/// way a program embedding the tool registers its own. No native stream, so refreshes take the checksum route.
/// </summary>
internal sealed class MemoryBlockBackend() : VolumeBackend("mem")
{
    public Dictionary<string, MemoryBlockVolumeData> Volumes { get; } = new(StringComparer.Ordinal);

    public override string AddressSyntax => "mem:VOLUME";

    /// <summary>Adds a volume with these live bytes.</summary>
    public MemoryBlockVolumeData Add(string name, byte[] live) => Volumes[name] = new MemoryBlockVolumeData { Live = live };

    protected override VolumeAddress ParseAddressCore(string path) => new(Scheme, "memory", path);

    protected override Task<VolumeDriver> OpenDriverCoreAsync(string location, ILoggerFactory loggerFactory, CancellationToken cancellationToken) =>
        Task.FromResult<VolumeDriver>(new MemoryBlockDriver(this, loggerFactory));
}

/// <summary>One in-memory volume: its live bytes and its snapshots, oldest first.</summary>
internal sealed class MemoryBlockVolumeData
{
    public required byte[] Live { get; set; }

    public List<(SnapshotInfo Info, byte[] Data)> Snapshots { get; } = [];
}

internal sealed class MemoryBlockDriver(MemoryBlockBackend backend, ILoggerFactory loggerFactory) : VolumeDriver(backend.Scheme, loggerFactory)
{
    public override DriverCapabilities Capabilities => DriverCapabilities.BlockVolumes;

    protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>([.. backend.Volumes.Keys]);

    protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken) =>
        backend.Volumes.TryGetValue(name, out var data)
            ? Task.FromResult<Volume>(new MemoryBlockVolume(this, name, data))
            : throw new VolumeNotFoundException($"There is no memory volume '{name}'.");

    protected override Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<Volume>(new MemoryBlockVolume(this, name, backend.Add(name, new byte[options.Size])));

    protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken) => Task.FromResult(backend.Volumes.Remove(name));
}

internal sealed class MemoryBlockVolume(MemoryBlockDriver driver, string name, MemoryBlockVolumeData data) : Volume(driver, name, VolumeKind.Block)
{
    protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => Task.FromResult((long)data.Live.Length);

    protected override Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new SnapshotLineage(data.Snapshots.Select(s => s.Info)));

    protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken)
    {
        var info = new SnapshotInfo(name, new SnapshotIdentity("mem", Guid.NewGuid().ToString("N")), options.CreatedUtc ?? DateTimeOffset.UtcNow)
        {
            ReceivedFrom = options.ReceivedFrom,
            Size = data.Live.Length,
        };
        data.Snapshots.Add((info, data.Live.ToArray()));
        return Task.FromResult(info);
    }

    protected override Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken)
    {
        data.Snapshots.RemoveAll(s => s.Info.Name == name);
        return Task.CompletedTask;
    }

    protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken)
    {
        data.Live = data.Snapshots.Single(s => s.Info.Name == name).Data.ToArray();
        return Task.CompletedTask;
    }

    protected override Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken) =>
        Task.FromResult<BlockDevice>(snapshot is null
            ? new BytesDevice(() => data.Live, readOnly: false)
            : new BytesDevice(() => data.Snapshots.Single(s => s.Info.Name == snapshot).Data, readOnly: true));

    /// <summary>A device over a byte array that outlives it (disposing the device leaves the bytes).</summary>
    private sealed class BytesDevice(Func<byte[]> bytes, bool readOnly) : BlockDevice
    {
        public override long Length => bytes().Length;

        public override bool IsReadOnly => readOnly;

        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
        {
            bytes().AsMemory((int)offset, buffer.Length).CopyTo(buffer);
            return ValueTask.CompletedTask;
        }

        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            data.CopyTo(bytes().AsMemory((int)offset));
            return ValueTask.CompletedTask;
        }
    }
}
