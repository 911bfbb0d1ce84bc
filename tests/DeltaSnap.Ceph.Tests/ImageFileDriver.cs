using System.Text.Json;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Ceph.Tests;

/// <summary>
/// A minimal second block backend for cross-backend refreshes: each volume is a directory holding <c>live.img</c>
/// and, per snapshot, a copy of it with a JSON record (GUID identity, creation time, received-from).
/// </summary>
internal sealed class ImageFileDriver(string root) : VolumeDriver("img", null)
{
    public string Root { get; } = root;

    public override DriverCapabilities Capabilities => DriverCapabilities.BlockVolumes | DriverCapabilities.Resize;

    public override NameRules VolumeNameRules { get; } = new();

    protected override Task<IReadOnlyList<string>> ListVolumesCoreAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>(Directory.GetDirectories(Root).Select(Path.GetFileName).ToArray()!);

    protected override Task<Volume> OpenVolumeCoreAsync(string name, CancellationToken cancellationToken) =>
        Directory.Exists(Path.Combine(Root, name))
            ? Task.FromResult<Volume>(new ImageFileVolume(this, name, Path.Combine(Root, name)))
            : throw new VolumeNotFoundException(name);

    protected override async Task<Volume> CreateVolumeCoreAsync(string name, VolumeCreateOptions options, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(Root, name);
        Directory.CreateDirectory(Path.Combine(dir, "snapshots"));
        await using (FileBlockDevice.Create(Path.Combine(dir, "live.img"), options.Size))
        {
        }
        return new ImageFileVolume(this, name, dir);
    }

    protected override Task DeleteVolumeCoreAsync(string name, CancellationToken cancellationToken)
    {
        Directory.Delete(Path.Combine(Root, name), recursive: true);
        return Task.CompletedTask;
    }

    private sealed record Record(string Id, long Created, string? ReceivedFrom, long Sequence);

    private sealed class ImageFileVolume(ImageFileDriver driver, string name, string dir) : Volume(driver, name, VolumeKind.Block)
    {
        private string Live => Path.Combine(dir, "live.img");

        private string Image(string snapshot) => Path.Combine(dir, "snapshots", snapshot + ".img");

        private string Json(string snapshot) => Path.Combine(dir, "snapshots", snapshot + ".json");

        protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => Task.FromResult(new FileInfo(Live).Length);

        protected override Task ResizeCoreAsync(long size, CancellationToken cancellationToken)
        {
            using var stream = new FileStream(Live, FileMode.Open, FileAccess.Write);
            stream.SetLength(size);
            return Task.CompletedTask;
        }

        protected override async Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken)
        {
            var list = new List<(Record Record, SnapshotInfo Info)>();
            foreach (var file in Directory.GetFiles(Path.Combine(dir, "snapshots"), "*.json"))
            {
                var record = JsonSerializer.Deserialize<Record>(await File.ReadAllTextAsync(file, cancellationToken))!;
                var snapshot = Path.GetFileNameWithoutExtension(file);
                list.Add((record, new SnapshotInfo(snapshot, new SnapshotIdentity("img", record.Id), DateTimeOffset.FromUnixTimeSeconds(record.Created))
                {
                    ReceivedFrom = record.ReceivedFrom is null ? null : SnapshotIdentity.Parse(record.ReceivedFrom),
                    Size = new FileInfo(Image(snapshot)).Length,
                }));
            }
            return new SnapshotLineage(list.OrderBy(e => e.Record.Sequence).Select(e => e.Info));
        }

        protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken)
        {
            File.Copy(Live, Image(name));
            var record = new Record(Guid.NewGuid().ToString("N"), (options.CreatedUtc ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds(), options.ReceivedFrom?.ToString(), DateTime.UtcNow.Ticks);
            await File.WriteAllTextAsync(Json(name), JsonSerializer.Serialize(record), cancellationToken);
            return (await GetLineageCoreAsync(cancellationToken)).Find(name)!;
        }

        protected override Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken)
        {
            File.Delete(Image(name));
            File.Delete(Json(name));
            return Task.CompletedTask;
        }

        protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken)
        {
            File.Copy(Image(name), Live, overwrite: true);
            return Task.CompletedTask;
        }

        protected override Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken) =>
            Task.FromResult<BlockDevice>(FileBlockDevice.Open(snapshot is null ? Live : Image(snapshot), readOnly: snapshot is not null || !writable));
    }
}
