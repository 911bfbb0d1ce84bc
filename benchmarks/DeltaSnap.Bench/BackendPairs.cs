// A console tool's benchmark: there is no synchronization context to avoid, and ConfigureAwait on every line would hide the steps.
#pragma warning disable CA2007

using System.Security.Cryptography;
using DeltaSnap.Btrfs;
using DeltaSnap.Ceph;
using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lvol;
using DeltaSnap.RefreshBenchmarks;
using DeltaSnap.Replication;
using DeltaSnap.Rsync;
using DeltaSnap.Zfs;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeltaSnap.Bench;

/// <summary>The backend pairs a matrix names, and how to make each.</summary>
internal static class BackendPairs
{
    /// <summary>Every pair.</summary>
    public static IReadOnlyList<string> Names { get; } = ["lvol-lvol", "zfs-zfs", "btrfs-btrfs", "rbd-rbd", "lvol-rbd", "dir-dir", "file-file"];

    /// <summary>Makes the pair <paramref name="name"/> (nothing is opened yet).</summary>
    public static BackendPair Create(string name, BenchEnvironment environment) => name switch
    {
        "lvol-lvol" => new LvolPair(environment),
        "zfs-zfs" => new ZfsPair(environment),
        "btrfs-btrfs" => new BtrfsPair(environment),
        "rbd-rbd" => new RbdPair(environment, lvolSource: false),
        "lvol-rbd" => new RbdPair(environment, lvolSource: true),
        "dir-dir" => new DirPair(environment),
        "file-file" => new FilePair(environment),
        _ => throw new ArgumentException($"Unknown pair '{name}'.", nameof(name)),
    };
}

/// <summary>
/// Two volumes of a backend pair, made for one data size and deleted after: the source the data is written to, and the
/// target every contender refreshes from the same base. The pair says whether the machine can open it, which contenders
/// it has, how to let the backend settle before a timed run, and how to bring the target back to the base after one.
/// </summary>
internal abstract class BackendPair(BenchEnvironment environment)
{
    /// <summary>The base snapshot every case starts from.</summary>
    public const string BaseSnapshot = "base";

    private Volume? _source;
    private Volume? _target;

    /// <summary>The pair's name (<c>zfs-zfs</c>).</summary>
    public abstract string Name { get; }

    /// <summary>The size of each file of the data on file system volumes.</summary>
    public virtual int FileSize => 4 << 20;

    /// <summary>The environment the run uses.</summary>
    protected BenchEnvironment Environment { get; } = environment;

    /// <summary>The source volume.</summary>
    public Volume Source => _source ?? throw new InvalidOperationException("The volumes are not made yet.");

    /// <summary>The target volume.</summary>
    public Volume Target => _target ?? throw new InvalidOperationException("The volumes are not made yet.");

    /// <summary>Null when this machine can open the pair; else why not.</summary>
    public abstract Task<string?> ProbeAsync(CancellationToken cancellationToken);

    /// <summary>The contenders besides DeltaSnap's two (the native pipe, the peers).</summary>
    public virtual IEnumerable<Contender> Peers => [];

    /// <summary>Settings of the backend worth recording (pool properties, mount options, cluster size).</summary>
    public virtual Task<IReadOnlyDictionary<string, string>> DescribeAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string>());

    /// <summary>Makes the empty source and target (<paramref name="volumeSize"/> is the size of block volumes).</summary>
    public async Task CreateAsync(string id, long volumeSize, CancellationToken cancellationToken) =>
        (_source, _target) = await CreateVolumesAsync(id, volumeSize, cancellationToken);

    /// <summary>The replicator DeltaSnap's in-process contender uses.</summary>
    public virtual Replicator CreateReplicator() => new();

    /// <summary>Before each timed run, untimed: lets the backend finish earlier work.</summary>
    public virtual Task SettleAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Closes what keeps another process from opening the volumes (the lvol stores' locks) before the CLI runs.</summary>
    public virtual Task ReleaseAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Opens the volumes again after <see cref="ReleaseAsync"/>.</summary>
    public virtual Task ReopenAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Brings the target back to the base: every newer snapshot deleted, the live state rolled back.</summary>
    public async Task ResetTargetAsync(CancellationToken cancellationToken)
    {
        var lineage = await Target.GetLineageAsync(cancellationToken);
        foreach (var snapshot in lineage.Reverse().Where(s => s.Name != BaseSnapshot))
        {
            await Target.DeleteSnapshotAsync(snapshot.Name, cancellationToken);
        }
        await Target.RollbackAsync(BaseSnapshot, cancellationToken);
    }

    /// <summary>SHA-256 of a volume's content: the whole device of a block volume, or every file (relative name and bytes, in name order) of a file system volume.</summary>
    public static async Task<string> DigestAsync(Volume volume, string? snapshot, CancellationToken cancellationToken)
    {
        if (volume.Kind != VolumeKind.Block)
        {
            return await DigestTreeAsync(await volume.GetPathAsync(snapshot, cancellationToken), cancellationToken);
        }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var device = await volume.OpenDeviceAsync(snapshot, writable: false, cancellationToken);
        await using (device)
        {
            var buffer = new byte[4 << 20];
            for (long offset = 0; offset < device.Length; offset += buffer.Length)
            {
                var chunk = buffer.AsMemory(0, (int)Math.Min(buffer.Length, device.Length - offset));
                await device.ReadAsync(offset, chunk, cancellationToken);
                hash.AppendData(chunk.Span);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>SHA-256 of every file under <paramref name="root"/>: relative name and bytes, in ordinal name order.</summary>
    public static async Task<string> DigestTreeAsync(string root, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(root, file) + "\0"));
            hash.AppendData(await File.ReadAllBytesAsync(file, cancellationToken));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The digest of what a contender made of the target: its snapshot <paramref name="snapshot"/> where it has one (a receive), else its live state (rsync).</summary>
    public async Task<string> DigestTargetAsync(string snapshot, CancellationToken cancellationToken)
    {
        var lineage = await Target.GetLineageAsync(cancellationToken);
        return await DigestAsync(Target, lineage.Any(s => s.Name == snapshot) ? snapshot : null, cancellationToken);
    }

    /// <summary>Deletes both volumes and whatever else the pair made (also after failures).</summary>
    public abstract Task DeleteAsync(CancellationToken cancellationToken);

    /// <summary>Makes the volumes.</summary>
    protected abstract Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, long volumeSize, CancellationToken cancellationToken);

    /// <summary>Replaces the volumes (after reopening them).</summary>
    protected void SetVolumes(Volume source, Volume target) => (_source, _target) = (source, target);

    /// <summary>Runs a program and returns its standard output; null when it fails or cannot start (for probes and descriptions).</summary>
    protected static async Task<string?> TryOutputAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken, int timeoutSeconds = 30)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            var result = await new ExternalCommandRunner(program, NullLogger.Instance).TryRunAsync(arguments, timeout.Token);
            return result.Succeeded ? result.StandardOutput.Trim() : null;
        }
        catch (Exception e) when (e is BackendCommandException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Runs a program, failing when it fails.</summary>
    protected static Task<string> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        new ExternalCommandRunner(program, NullLogger.Instance).RunAsync(arguments, cancellationToken);

    /// <summary>Deletes the volumes through their drivers and disposes the drivers (each step even when one before failed).</summary>
    protected static async Task DeleteVolumesAsync(params (VolumeDriver? Driver, string? Volume)[] volumes)
    {
        foreach (var (driver, volume) in volumes)
        {
            if (driver is null)
            {
                continue;
            }
            try
            {
                if (volume is not null && await driver.VolumeExistsAsync(volume, CancellationToken.None))
                {
                    await driver.DeleteVolumeAsync(volume, CancellationToken.None);
                }
            }
            finally
            {
                await driver.DisposeAsync();
            }
        }
    }

    /// <summary>The value of environment variable <paramref name="name"/>, or null.</summary>
    protected static string? Variable(string name) => System.Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}

/// <summary>lvol → lvol: two stores of 1 MiB clusters in the work directory; the native lvol diff stream. No peer: the store is DeltaSnap's own format (file → file is the comparable rsync case).</summary>
internal sealed class LvolPair(BenchEnvironment environment) : BackendPair(environment)
{
    private string? _directory;
    private LvolDriver? _sourceDriver;
    private LvolDriver? _targetDriver;
    private string _volume = "";

    public override string Name => "lvol-lvol";

    public override Task<string?> ProbeAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public override Task<IReadOnlyDictionary<string, string>> DescribeAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["lvol cluster size"] = "1 MiB", ["lvol stores on"] = Environment.WorkDirectory });

    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, long volumeSize, CancellationToken cancellationToken)
    {
        _directory = Directory.CreateDirectory(Path.Combine(Environment.WorkDirectory, id)).FullName;
        _volume = "vol";
        _sourceDriver = await LvolDriver.CreateStoreAsync(Path.Combine(_directory, "source.lvs"), cancellationToken: cancellationToken);
        _targetDriver = await LvolDriver.CreateStoreAsync(Path.Combine(_directory, "target.lvs"), cancellationToken: cancellationToken);
        var options = new VolumeCreateOptions { Size = volumeSize };
        return (await _sourceDriver.CreateVolumeAsync(_volume, options, cancellationToken), await _targetDriver.CreateVolumeAsync(_volume, options, cancellationToken));
    }

    public override async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        await _sourceDriver!.DisposeAsync();
        await _targetDriver!.DisposeAsync();
        (_sourceDriver, _targetDriver) = (null, null);
    }

    public override async Task ReopenAsync(CancellationToken cancellationToken)
    {
        _sourceDriver = await LvolDriver.OpenAsync(Path.Combine(_directory!, "source.lvs"), cancellationToken: cancellationToken);
        _targetDriver = await LvolDriver.OpenAsync(Path.Combine(_directory!, "target.lvs"), cancellationToken: cancellationToken);
        SetVolumes(await _sourceDriver.OpenVolumeAsync(_volume, cancellationToken), await _targetDriver.OpenVolumeAsync(_volume, cancellationToken));
    }

    public override async Task DeleteAsync(CancellationToken cancellationToken)
    {
        foreach (var driver in new[] { _sourceDriver, _targetDriver })
        {
            if (driver is not null)
            {
                await driver.DisposeAsync();
            }
        }
        if (_directory is not null && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>zfs → zfs: datasets under the test pools (DELTASNAP_ZFS_POOL_A/B); peers <c>zfs send -i | zfs receive</c> and syncoid.</summary>
#pragma warning disable CA1001 // The drivers live from CreateAsync to DeleteAsync, which the runner always calls: that disposes them.
internal sealed class ZfsPair(BenchEnvironment environment) : BackendPair(environment)
{
    private readonly string? _poolA = Variable("DELTASNAP_ZFS_POOL_A");
    private readonly string? _poolB = Variable("DELTASNAP_ZFS_POOL_B");
    private ZfsDriver? _driverA;
    private ZfsDriver? _driverB;
    private string? _volume;

    public override string Name => "zfs-zfs";

    public override async Task<string?> ProbeAsync(CancellationToken cancellationToken) =>
        _poolA is null || _poolB is null ? "DELTASNAP_ZFS_POOL_A/B are not set (source /tmp/dsb/env.sh after scripts/backends/up.sh)"
        : await TryOutputAsync("zfs", ["list", "-H", "-o", "name", _poolA, _poolB], cancellationToken) is null ? $"zfs cannot list the pools {_poolA} and {_poolB} (root? zfs running?)"
        : null;

    public override IEnumerable<Contender> Peers =>
    [
        new ProgramContender("native-pipe", ContenderKind.Native, "zfs send -i BASE SNAP | zfs receive -F TARGET", (pair, snapshot) =>
            Task.FromResult(("sh", NativePipelines.ZfsSendReceive(Dataset(pair.Source) + "@" + BaseSnapshot, Dataset(pair.Source) + "@" + snapshot, Dataset(pair.Target))))),
        new ProgramContender("syncoid", ContenderKind.Peer, "syncoid --no-sync-snap SOURCE TARGET (sends up to the newest snapshot)", (pair, _) =>
            Task.FromResult(("syncoid", (IReadOnlyList<string>)["--no-sync-snap", "--no-privilege-elevation", "--quiet", Dataset(pair.Source), Dataset(pair.Target)]))),
    ];

    public override async Task<IReadOnlyDictionary<string, string>> DescribeAsync(CancellationToken cancellationToken)
    {
        var settings = new Dictionary<string, string>();
        foreach (var pool in new[] { _poolA!, _poolB! })
        {
            settings[$"zfs {pool}"] = (await TryOutputAsync("zfs", ["get", "-H", "-o", "property,value", "recordsize,compression,checksum,atime,available", pool], cancellationToken) ?? "?")
                .ReplaceLineEndings("; ").Replace('\t', '=');
        }
        settings["zfs implementation"] = File.Exists("/tmp/dsb/zfs-fuse.pid") || await TryOutputAsync("pgrep", ["-x", "zfs-fuse"], cancellationToken) is not null ? "zfs-fuse (userspace)" : "kernel ZFS";
        return settings;
    }

    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, long volumeSize, CancellationToken cancellationToken)
    {
        _volume = id;
        _driverA = await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = _poolA }, cancellationToken: cancellationToken);
        _driverB = await ZfsDriver.OpenAsync(new ZfsDriverOptions { Root = _poolB }, cancellationToken: cancellationToken);
        var options = new VolumeCreateOptions { Kind = VolumeKind.Filesystem };
        return (await _driverA.CreateVolumeAsync(id, options, cancellationToken), await _driverB.CreateVolumeAsync(id, options, cancellationToken));
    }

    // A short pause lets zfs-fuse write out the previous run's transaction groups before the clock starts.
    public override Task SettleAsync(CancellationToken cancellationToken) => Task.Delay(300, cancellationToken);

    public override Task DeleteAsync(CancellationToken cancellationToken) => DeleteVolumesAsync((_driverB, _volume), (_driverA, _volume));

    private static string Dataset(Volume volume) => ((ZfsVolume)volume).Dataset;
}

/// <summary>btrfs → btrfs: subvolumes on the test mounts (DELTASNAP_BTRFS_MOUNT_A/B) in 16 MiB files; peers <c>btrfs send -p | btrfs receive</c> and btrbk.</summary>
#pragma warning disable CA1001 // The drivers live from CreateAsync to DeleteAsync, which the runner always calls: that disposes them.
internal sealed class BtrfsPair(BenchEnvironment environment) : BackendPair(environment)
{
    private readonly string? _mountA = Variable("DELTASNAP_BTRFS_MOUNT_A");
    private readonly string? _mountB = Variable("DELTASNAP_BTRFS_MOUNT_B");
    private string? _rootA;
    private string? _rootB;
    private BtrfsDriver? _driverA;
    private BtrfsDriver? _driverB;

    public override string Name => "btrfs-btrfs";

    public override int FileSize => 16 << 20;

    /// <summary>The source's work directory (btrbk's volume).</summary>
    public string SourceRoot => _rootA!;

    /// <summary>The target's work directory (btrbk's target lives in it).</summary>
    public string TargetRoot => _rootB!;

    public override async Task<string?> ProbeAsync(CancellationToken cancellationToken) =>
        _mountA is null || _mountB is null ? "DELTASNAP_BTRFS_MOUNT_A/B are not set (source /tmp/dsb/env.sh after scripts/backends/up.sh)"
        : await TryOutputAsync("stat", ["-f", "-c", "%T", _mountA, _mountB], cancellationToken) is not { } types || types.Split('\n').Any(t => t.Trim() != "btrfs")
            ? $"{_mountA} and {_mountB} are not both Btrfs file systems"
        : null;

    public override IEnumerable<Contender> Peers =>
    [
        new ProgramContender("native-pipe", ContenderKind.Native, "btrfs send -p BASE SNAP | btrfs receive DIR", async (pair, snapshot) =>
            ("sh", NativePipelines.BtrfsSendReceive(
                await pair.Source.GetPathAsync(BaseSnapshot, CancellationToken.None), await pair.Source.GetPathAsync(snapshot, CancellationToken.None),
                ((BtrfsVolume)pair.Target).SnapshotDirectory))),
        new BtrbkContender(),
    ];

    public override async Task<IReadOnlyDictionary<string, string>> DescribeAsync(CancellationToken cancellationToken)
    {
        var settings = new Dictionary<string, string>();
        foreach (var mount in new[] { _mountA!, _mountB! })
        {
            var options = await TryOutputAsync("findmnt", ["-n", "-o", "SOURCE,OPTIONS", mount], cancellationToken);
            var df = await TryOutputAsync("df", ["-h", "--output=size", mount], cancellationToken);
            settings[$"btrfs {mount}"] = $"{options}; size {(df is null ? "?" : df.Split('\n')[^1].Trim())}";
        }
        return settings;
    }

    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, long volumeSize, CancellationToken cancellationToken)
    {
        _rootA = Directory.CreateDirectory(Path.Combine(_mountA!, id)).FullName;
        _rootB = Directory.CreateDirectory(Path.Combine(_mountB!, id)).FullName;
        _driverA = new BtrfsDriver(_rootA);
        _driverB = new BtrfsDriver(_rootB);
        var options = new VolumeCreateOptions { Kind = VolumeKind.Filesystem };
        return (await _driverA.CreateVolumeAsync("data", options, cancellationToken), await _driverB.CreateVolumeAsync("data", options, cancellationToken));
    }

    /// <summary>Flushes both file systems and waits for deleted subvolumes to be cleaned, so runs do not overlap.</summary>
    public override async Task SettleAsync(CancellationToken cancellationToken)
    {
        foreach (var directory in new[] { _mountA!, _mountB! })
        {
            await RunAsync("btrfs", ["filesystem", "sync", directory], cancellationToken);
            await RunAsync("btrfs", ["subvolume", "sync", directory], cancellationToken);
        }
    }

    public override async Task DeleteAsync(CancellationToken cancellationToken)
    {
        await DeleteVolumesAsync((_driverA, "data"), (_driverB, "data"));
        foreach (var root in new[] { _rootA, _rootB })
        {
            if (root is null || !Directory.Exists(root))
            {
                continue;
            }
            // What btrbk left: its snapshots and received subvolumes, deepest first.
            foreach (var subvolume in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length))
            {
                if (await TryOutputAsync("stat", ["-c", "%i", subvolume], CancellationToken.None) == "256")
                {
                    await RunAsync("btrfs", ["-q", "subvolume", "delete", subvolume], CancellationToken.None);
                }
            }
            Directory.Delete(root, recursive: true);
        }
    }
}

/// <summary>rbd → rbd (or lvol → rbd, the checksum route): images in the test pools (DELTASNAP_CEPH_POOL_A/B); peer <c>rbd export-diff | rbd import-diff</c>.</summary>
internal sealed class RbdPair(BenchEnvironment environment, bool lvolSource) : BackendPair(environment)
{
    private readonly string? _poolA = Variable("DELTASNAP_CEPH_POOL_A");
    private readonly string? _poolB = Variable("DELTASNAP_CEPH_POOL_B");
    private RbdDriver? _sourceDriver;
    private RbdDriver? _targetDriver;
    private LvolDriver? _lvolDriver;
    private string? _directory;
    private string? _sourceName;
    private string? _targetName;

    public override string Name => lvolSource ? "lvol-rbd" : "rbd-rbd";

    public override async Task<string?> ProbeAsync(CancellationToken cancellationToken) =>
        Variable("CEPH_CONF") is null || _poolA is null || _poolB is null ? "CEPH_CONF and DELTASNAP_CEPH_POOL_A/B are not set (source /tmp/dsb/env.sh after scripts/backends/up.sh)"
        : await TryOutputAsync("rbd", ["ls", _poolA], cancellationToken, timeoutSeconds: 20) is null || await TryOutputAsync("rbd", ["ls", _poolB], cancellationToken, timeoutSeconds: 20) is null
            ? $"the Ceph cluster does not answer 'rbd ls {_poolA}' and 'rbd ls {_poolB}' within 20 s"
        : null;

    public override IEnumerable<Contender> Peers => lvolSource ? [] :
    [
        new ProgramContender("native-pipe", ContenderKind.Native, "rbd export-diff --from-snap BASE IMAGE@SNAP - | rbd import-diff - TARGET", (pair, snapshot) =>
            Task.FromResult(("sh", NativePipelines.RbdExportImportDiff(BaseSnapshot, $"{pair.Source.Name}@{snapshot}", pair.Target.Name)))),
    ];

    public override async Task<IReadOnlyDictionary<string, string>> DescribeAsync(CancellationToken cancellationToken)
    {
        var settings = new Dictionary<string, string>
        {
            ["ceph"] = await TryOutputAsync("ceph", ["--version"], cancellationToken) ?? "?",
            ["ceph osd"] = (await TryOutputAsync("ceph", ["osd", "df", "--format", "plain"], cancellationToken, 20) ?? "?").Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith('0')) ?? "?",
        };
        foreach (var pool in new[] { _poolA!, _poolB! })
        {
            settings[$"ceph pool {pool}"] = (await TryOutputAsync("ceph", ["osd", "pool", "get", pool, "size"], cancellationToken, 20) ?? "?").ReplaceLineEndings("; ");
        }
        if (lvolSource)
        {
            settings["lvol cluster size"] = "1 MiB";
        }
        return settings;
    }

    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, long volumeSize, CancellationToken cancellationToken)
    {
        var options = new VolumeCreateOptions { Size = volumeSize };
        _targetDriver = await RbdDriver.ConnectAsync(cancellationToken: cancellationToken);
        _targetName = $"{_poolB}/{id}";
        var target = await _targetDriver.CreateVolumeAsync(_targetName, options, cancellationToken);
        if (lvolSource)
        {
            _directory = Directory.CreateDirectory(Path.Combine(Environment.WorkDirectory, id)).FullName;
            _lvolDriver = await LvolDriver.CreateStoreAsync(Path.Combine(_directory, "source.lvs"), cancellationToken: cancellationToken);
            _sourceName = "vol";
            return (await _lvolDriver.CreateVolumeAsync(_sourceName, options, cancellationToken), target);
        }
        _sourceDriver = await RbdDriver.ConnectAsync(cancellationToken: cancellationToken);
        _sourceName = $"{_poolA}/{id}";
        return (await _sourceDriver.CreateVolumeAsync(_sourceName, options, cancellationToken), target);
    }

    // The OSD finishes deferred writes and snapshot trimming before the clock starts.
    public override Task SettleAsync(CancellationToken cancellationToken) => Task.Delay(500, cancellationToken);

    public override async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        if (_lvolDriver is not null)
        {
            await _lvolDriver.DisposeAsync();
            _lvolDriver = null;
        }
    }

    public override async Task ReopenAsync(CancellationToken cancellationToken)
    {
        if (lvolSource)
        {
            _lvolDriver = await LvolDriver.OpenAsync(Path.Combine(_directory!, "source.lvs"), cancellationToken: cancellationToken);
            SetVolumes(await _lvolDriver.OpenVolumeAsync(_sourceName!, cancellationToken), Target);
        }
    }

    public override async Task DeleteAsync(CancellationToken cancellationToken)
    {
        await DeleteVolumesAsync((_targetDriver, _targetName), (_sourceDriver, _sourceName), (_lvolDriver, null));
        if (_directory is not null && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>dir → dir (the rsync route) or file → file (the checksum route over sparse image files), in the work directory; peer rsync.</summary>
internal abstract class PlainPair(BenchEnvironment environment) : BackendPair(environment)
{
    private string? _directory;

    /// <summary>The source and target root directories.</summary>
    protected (string Source, string Target) Roots { get; private set; }

    public override async Task<string?> ProbeAsync(CancellationToken cancellationToken) =>
        await TryOutputAsync("rsync", ["--version"], cancellationToken) is null ? "rsync is not installed" : null;

    public override async Task<IReadOnlyDictionary<string, string>> DescribeAsync(CancellationToken cancellationToken) =>
        new Dictionary<string, string> { [$"{Name} file system"] = await TryOutputAsync("findmnt", ["-n", "-o", "FSTYPE,OPTIONS", "-T", Environment.WorkDirectory], cancellationToken) ?? "?" };

    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(string id, long volumeSize, CancellationToken cancellationToken)
    {
        _directory = Directory.CreateDirectory(Path.Combine(Environment.WorkDirectory, id)).FullName;
        Roots = (Directory.CreateDirectory(Path.Combine(_directory, "source")).FullName, Directory.CreateDirectory(Path.Combine(_directory, "target")).FullName);
        return await CreateVolumesAsync(volumeSize, cancellationToken);
    }

    /// <summary>Makes the volumes under <see cref="Roots"/>.</summary>
    protected abstract Task<(Volume Source, Volume Target)> CreateVolumesAsync(long volumeSize, CancellationToken cancellationToken);

    public override async Task DeleteAsync(CancellationToken cancellationToken)
    {
        if (_directory is not null && Roots.Source is not null)
        {
            await Source.Driver.DisposeAsync();
            await Target.Driver.DisposeAsync();
        }
        if (_directory is not null && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>dir → dir: DeltaSnap's rsync route; peer <c>rsync -a --delete --inplace --no-whole-file -B 4096</c> from the source snapshot into the target's live tree.</summary>
internal sealed class DirPair(BenchEnvironment environment) : PlainPair(environment)
{
    public override string Name => "dir-dir";

    public override Replicator CreateReplicator() => new() { TreeSynchronizer = new RsyncTreeSynchronizer() };

    public override IEnumerable<Contender> Peers =>
    [
        new ProgramContender("rsync", ContenderKind.Peer, "rsync -a --delete --inplace --no-whole-file -B 4096 --modify-window=-1 SNAPSHOT/ TARGET/", async (pair, snapshot) =>
            ("rsync", (IReadOnlyList<string>)["-a", "--delete", "--inplace", "--no-whole-file", "-B", "4096", "--modify-window=-1", "--stats", "--no-human-readable", "--",
                await pair.Source.GetPathAsync(snapshot, CancellationToken.None) + "/", await pair.Target.GetPathAsync(null, CancellationToken.None) + "/"])),
    ];

    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(long volumeSize, CancellationToken cancellationToken)
    {
        var options = new VolumeCreateOptions { Kind = VolumeKind.Filesystem };
        return (await new DirDriver(Roots.Source).CreateVolumeAsync("data", options, cancellationToken),
            await new DirDriver(Roots.Target).CreateVolumeAsync("data", options, cancellationToken));
    }
}

/// <summary>file → file: sparse image files, DeltaSnap's checksum route; peer <c>rsync --inplace --no-whole-file -B 4096 --ignore-times</c> from the snapshot's image into the target image.</summary>
internal sealed class FilePair(BenchEnvironment environment) : PlainPair(environment)
{
    public override string Name => "file-file";

    public override IEnumerable<Contender> Peers =>
    [
        new ProgramContender("rsync", ContenderKind.Peer, "rsync --inplace --no-whole-file -B 4096 --ignore-times SNAPSHOT.img TARGET.img", (pair, snapshot) =>
            Task.FromResult(("rsync", (IReadOnlyList<string>)["--inplace", "--no-whole-file", "-B", "4096", "--ignore-times", "--stats", "--no-human-readable", "--",
                // The file driver's documented layout: snapshot S of ROOT/NAME is ROOT/.NAME.deltasnap/snapshots/S.img.
                Path.Combine(Path.GetDirectoryName(((FileVolume)pair.Source).LivePath)!, $".{pair.Source.Name}.deltasnap", "snapshots", snapshot + ".img"),
                ((FileVolume)pair.Target).LivePath]))),
    ];

    protected override async Task<(Volume Source, Volume Target)> CreateVolumesAsync(long volumeSize, CancellationToken cancellationToken)
    {
        var options = new VolumeCreateOptions { Size = volumeSize };
        return (await new FileDriver(Roots.Source).CreateVolumeAsync("disk.img", options, cancellationToken),
            await new FileDriver(Roots.Target).CreateVolumeAsync("disk.img", options, cancellationToken));
    }
}
