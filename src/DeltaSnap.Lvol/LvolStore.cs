using System.Buffers.Binary;
using System.Text;
using DeltaSnap.Checksums;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace DeltaSnap.Lvol;

/// <summary>
/// An SPDK-style logical volume store in one file on local disk: a superblock, two alternating metadata slots, and
/// data clusters. It holds lvols (thin or thick volumes, snapshots and clones) with copy-on-write per cluster map,
/// and the Longhorn delta-rebuild operations (fragmaps, registered checksums, shallow copies).
/// </summary>
/// <remarks>
/// <para>Crash safety: data is written and <c>fsync</c>ed before any metadata that points to it is committed;
/// metadata is written whole to clusters the committed copy does not use and synced with the data, then a slot
/// naming it (sequence number and CRC-32C) is written and synced; on open the newest valid slot wins. A cluster freed in memory is not reused
/// until the commit that frees it is durable, so the state on disk is always one committed state.</para>
/// <para>Structural operations (create, snapshot, clone, delete, resize, rename, set/detach parent, inflate,
/// decouple) commit before they return. Writes through an <see cref="LvolBlockDevice"/> are durable after
/// <c>FlushAsync</c>, as on a disk with a volatile write cache.</para>
/// <para>One process opens a store at a time (the file is locked); the store is safe for concurrent use
/// within the process.</para>
/// </remarks>
public sealed partial class LvolStore : IAsyncDisposable, IDisposable
{
    /// <summary>The block size of every lvol: 4 KiB, as SPDK's blobstore page.</summary>
    public const int BlockSize = 4096;

    /// <summary>The version of the store's on-disk format (superblock and metadata copies).</summary>
    internal const uint FormatVersion = 1;

    private const int BlockShift = StoreGeometry.BlockShift;
    private const int SuperblockSize = 4096;
    private const int MaxNameBytes = 255;
    private static readonly byte[] SuperblockMagic = "DSNAPLVS"u8.ToArray();

    private readonly SafeFileHandle _file;
    private readonly DirectDataWriter? _direct;
    private readonly object _sync = new();
    private readonly AsyncReaderWriterLock _gate = new();
    private readonly SemaphoreSlim _commitLock = new(1, 1);
    private readonly Dictionary<Guid, LvolNode> _byUuid = [];
    private readonly Dictionary<string, LvolNode> _byName = new(StringComparer.Ordinal);
    private readonly ILogger _logger;
    private readonly StoreGeometry _geometry;
    private readonly MetadataJournal _journal;
    private readonly CopyOnWritePlanner _copyOnWrite;
    private readonly ReadResolver _reads;
    private ClusterAllocator _clusters;
    private int _disposed;

    private LvolStore(string path, SafeFileHandle file, Guid uuid, int clusterSize, long dataOffset, long capacity, ILogger logger)
    {
        Path = path;
        _file = file;
        _direct = DirectDataWriter.TryOpen(path);
        Uuid = uuid;
        _geometry = new StoreGeometry(clusterSize, dataOffset);
        Name = "";
        _logger = logger;
        _clusters = new ClusterAllocator(0, capacity);
        _journal = new MetadataJournal(file, path, uuid, _geometry);
        _copyOnWrite = new CopyOnWritePlanner(_geometry.BlocksPerCluster);
        _reads = new ReadResolver(_geometry);
    }

    /// <summary>The store file.</summary>
    public string Path { get; }

    /// <summary>The store's UUID.</summary>
    public Guid Uuid { get; }

    /// <summary>The store's name (SPDK's <c>lvs_name</c>); lvols are also addressed as <c>NAME/LVOL</c>.</summary>
    public string Name { get; private set; }

    /// <summary>The cluster size in bytes.</summary>
    public int ClusterSize => _geometry.ClusterSize;

    /// <summary>log2 of <see cref="ClusterSize"/>.</summary>
    internal int ClusterShift => _geometry.ClusterShift;

    internal int BlocksPerCluster => _geometry.BlocksPerCluster;

    /// <summary>Physical clusters in use (data and metadata).</summary>
    public long UsedClusters
    {
        get
        {
            lock (_sync)
            {
                return _clusters.UsedCount;
            }
        }
    }

    /// <summary>The number of physical clusters the file spans.</summary>
    public long TotalClusters
    {
        get
        {
            lock (_sync)
            {
                return _clusters.Count;
            }
        }
    }

    /// <summary>The most data clusters the store may hold; 0 for as many as the disk takes.</summary>
    public long CapacityClusters => _clusters.Capacity;

    /// <summary>
    /// When open found the newest metadata copy damaged and recovered an older one (the last commit may be gone): what
    /// was damaged and lost. Null when the newest copy was intact. It is logged as a warning and reported by
    /// <see cref="FsckAsync"/>; it stays set until the store is reopened.
    /// </summary>
    public LvolMetadataFallback? MetadataFallback { get; private set; }

    /// <summary>The committed metadata's sequence number (it grows by one per commit).</summary>
    public ulong Sequence
    {
        get
        {
            lock (_sync)
            {
                return _journal.Sequence;
            }
        }
    }

    /// <summary>Creates a new store file.</summary>
    /// <param name="path">The file to create; it must not exist.</param>
    /// <param name="options">Cluster size, name, capacity; null for the defaults.</param>
    /// <param name="loggerFactory">Where to log; null for nowhere.</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    /// <exception cref="LvolException">EEXIST: the file exists.</exception>
    public static async Task<LvolStore> CreateAsync(string path, LvolStoreOptions? options = null, ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new LvolStoreOptions();
        var name = options.Name ?? System.IO.Path.GetFileNameWithoutExtension(path);
        ValidateStoreName(name);
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw new LvolException(LvolErrno.EEXIST, $"Cannot create the lvol store {path}: the file exists.", e);
        }
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<LvolStore>();
        var dataOffset = Math.Max(options.ClusterSize, 64 * 1024);
        var store = new LvolStore(path, file, Guid.NewGuid(), options.ClusterSize, dataOffset, options.CapacityClusters, logger) { Name = name };
        try
        {
            var superblock = new byte[SuperblockSize];
            SuperblockMagic.CopyTo(superblock, 0);
            BinaryPrimitives.WriteUInt32LittleEndian(superblock.AsSpan(8), FormatVersion);
            BinaryPrimitives.WriteUInt32LittleEndian(superblock.AsSpan(12), (uint)options.ClusterSize);
            BinaryPrimitives.WriteUInt32LittleEndian(superblock.AsSpan(16), BlockSize);
            store.Uuid.TryWriteBytes(superblock.AsSpan(24));
            BinaryPrimitives.WriteInt64LittleEndian(superblock.AsSpan(40), dataOffset);
            BinaryPrimitives.WriteInt64LittleEndian(superblock.AsSpan(48), options.CapacityClusters);
            BinaryPrimitives.WriteUInt32LittleEndian(superblock.AsSpan(SuperblockSize - 4), Crc32C.Compute(superblock.AsSpan(0, SuperblockSize - 4)));
            RandomAccess.Write(file, superblock, 0);
            store._journal.Initialize();
            await store.CommitAsync(cancellationToken).ConfigureAwait(false);
            Log.StoreCreated(logger, path, options.ClusterSize);
            return store;
        }
        catch
        {
            file.Dispose();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>Opens an existing store file, recovering the newest committed metadata.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="LvolException">EBUSY: another process (or this one) has the store open.</exception>
    /// <exception cref="CorruptDataException">The file is not an lvol store, or no metadata copy is valid.</exception>
    public static Task<LvolStore> OpenAsync(string path, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        cancellationToken.ThrowIfCancellationRequested();
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The lvol store {path} does not exist.", path);
        }
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new LvolException(LvolErrno.EBUSY, $"The lvol store {path} is in use by another process or is already open: {e.Message}", e);
        }
        try
        {
            var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<LvolStore>();
            var superblock = new byte[SuperblockSize];
            if (RandomAccess.Read(file, superblock, 0) != SuperblockSize || !superblock.AsSpan(0, 8).SequenceEqual(SuperblockMagic))
            {
                throw new CorruptDataException($"{path} is not a DeltaSnap lvol store (bad magic).");
            }
            if (BinaryPrimitives.ReadUInt32LittleEndian(superblock.AsSpan(SuperblockSize - 4)) != Crc32C.Compute(superblock.AsSpan(0, SuperblockSize - 4)))
            {
                throw new CorruptDataException($"The superblock of lvol store {path} is corrupt (CRC mismatch).");
            }
            var version = BinaryPrimitives.ReadUInt32LittleEndian(superblock.AsSpan(8));
            if (version != FormatVersion)
            {
                throw new CorruptDataException($"Lvol store {path} has format version {version}; this library reads version {FormatVersion}.");
            }
            var clusterSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(superblock.AsSpan(12));
            try
            {
                ClusterLayout.ValidateClusterSize(clusterSize);
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new CorruptDataException($"The superblock of lvol store {path} names an invalid cluster size {clusterSize}.", e);
            }
            var uuid = new Guid(superblock.AsSpan(24, 16));
            var dataOffset = BinaryPrimitives.ReadInt64LittleEndian(superblock.AsSpan(40));
            var capacity = BinaryPrimitives.ReadInt64LittleEndian(superblock.AsSpan(48));
            if (dataOffset < MetadataJournal.EndOfSlots || dataOffset % BlockSize != 0 || dataOffset > 1L << 40 || capacity < 0)
            {
                throw new CorruptDataException($"The superblock of lvol store {path} is corrupt: data offset {dataOffset}, capacity {capacity} clusters.");
            }
            var store = new LvolStore(path, file, uuid, clusterSize, dataOffset, capacity, logger);
            store.LoadNewestMetadata();
            Log.StoreOpened(logger, path, store._journal.Sequence, store._byUuid.Count);
            return Task.FromResult(store);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Every lvol of the store, in creation order of their UUIDs' discovery (snapshots before their children).</summary>
    public IReadOnlyList<LvolInfo> ListLvols()
    {
        lock (_sync)
        {
            return Ordered().Select(Describe).ToArray();
        }
    }

    /// <summary>The lvol named <paramref name="name"/> (a name, <c>STORE/NAME</c>, or a UUID).</summary>
    /// <exception cref="LvolException">ENOENT: there is no such lvol.</exception>
    public LvolInfo GetLvol(string name)
    {
        lock (_sync)
        {
            return Describe(Find(name));
        }
    }

    /// <summary>The lvol named <paramref name="name"/>, or null.</summary>
    public LvolInfo? TryGetLvol(string name)
    {
        lock (_sync)
        {
            return TryFind(name) is { } node ? Describe(node) : null;
        }
    }

    /// <summary>Makes every completed write and metadata change durable.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => CommitAsync(cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                CommitAsync(CancellationToken.None).GetAwaiter().GetResult();
            }
            finally
            {
                _direct?.Dispose();
                _file.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                await CommitAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                _direct?.Dispose();
                _file.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"lvol store {Name} ({Path})";

    internal ILogger Logger => _logger;

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    internal LvolNode Find(string name)
    {
        return TryFind(name) ?? throw LvolException.NotFound($"Lvol '{name}' in store {Name}");
    }

    internal LvolNode? TryFind(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name, out var node))
        {
            return node;
        }
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && string.Equals(name[..slash], Name, StringComparison.Ordinal) && _byName.TryGetValue(name[(slash + 1)..], out node))
        {
            return node;
        }
        return Guid.TryParse(name, out var uuid) && _byUuid.TryGetValue(uuid, out node) ? node : null;
    }

    internal LvolInfo Describe(LvolNode node) => new()
    {
        Uuid = node.Uuid,
        Name = node.Name,
        Size = node.Size,
        ParentUuid = node.Parent?.Uuid,
        ParentName = node.Parent?.Name,
        IsSnapshot = node.IsSnapshot,
        IsThin = node.IsThin,
        CreatedUtc = node.CreatedUtc,
        AllocatedClusters = node.Map.Count,
        Children = _byUuid.Values.Where(c => c.Parent == node).Select(c => c.Name).Order(StringComparer.Ordinal).ToArray(),
        Xattrs = node.Xattrs.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal),
    };

    /// <summary>The lvols, parents before children, then by creation time and name.</summary>
    private List<LvolNode> Ordered()
    {
        var result = new List<LvolNode>(_byUuid.Count);
        var done = new HashSet<LvolNode>();
        foreach (var node in _byUuid.Values.OrderBy(n => n.CreatedUtc).ThenBy(n => n.Name, StringComparer.Ordinal))
        {
            Visit(node);
        }
        return result;

        void Visit(LvolNode n)
        {
            if (done.Contains(n))
            {
                return;
            }
            done.Add(n);
            if (n.Parent is { } p)
            {
                Visit(p);
            }
            result.Add(n);
        }
    }

    internal long ClusterCountOf(long size) => _geometry.ClusterCountOf(size);

    internal long FileOffsetOf(long physical) => _geometry.FileOffsetOf(physical);

    internal static void ValidateLvolName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || Encoding.UTF8.GetByteCount(name) > MaxNameBytes || name.Any(IsHiddenCharacter) || name.Contains('/', StringComparison.Ordinal))
        {
            throw new LvolException(LvolErrno.EINVAL,
                $"'{Printable(name)}' is not a valid lvol name: it must be 1 to {MaxNameBytes} bytes, without '/', control characters or invisible format characters (bidirectional overrides, zero-width characters).");
        }
    }

    private static void ValidateStoreName(string name)
    {
        if (string.IsNullOrEmpty(name) || Encoding.UTF8.GetByteCount(name) > MaxNameBytes || name.Any(IsHiddenCharacter) || name.Contains('/', StringComparison.Ordinal))
        {
            throw new LvolException(LvolErrno.EINVAL, $"'{Printable(name)}' is not a valid store name: 1 to {MaxNameBytes} bytes, without '/', control characters or invisible format characters.");
        }
    }

    /// <summary>Control characters, format characters (U+202E and the like), line separators and surrogates: what makes a listing lie.</summary>
    private static bool IsHiddenCharacter(char c) =>
        char.IsControl(c) || char.IsSurrogate(c) || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Format
            or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator;

    private static string Printable(string name) => new(name.Take(80).Select(c => IsHiddenCharacter(c) ? '?' : c).ToArray());
}
