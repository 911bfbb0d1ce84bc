using DeltaSnap.Checksums;
using DeltaSnap.Devices;
using DeltaSnap.Diagnostics;
using DeltaSnap.Lineage;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Drivers;

/// <summary>
/// One volume of a backend: its lineage, its snapshots, and access to its data as a block device or a
/// path. Optional operations are guarded by <see cref="VolumeDriver.Capabilities"/>; calling one the backend
/// lacks throws <see cref="NotSupportedException"/> before anything runs. Public methods validate names and
/// log, then call the protected <c>…Core</c> methods.
/// </summary>
public abstract class Volume
{
    /// <summary>Initializes the volume.</summary>
    protected Volume(VolumeDriver driver, string name, VolumeKind kind)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Driver = driver;
        Name = name;
        Kind = kind;
    }

    /// <summary>The driver that opened this volume.</summary>
    public VolumeDriver Driver { get; }

    /// <summary>The volume's name within its backend.</summary>
    public string Name { get; }

    /// <summary>Block or file system.</summary>
    public VolumeKind Kind { get; }

    /// <summary>The volume's address, <c>scheme:name</c> (<c>zfs:tank/vm1</c>, <c>lvol:/var/lib/store#vm1</c>).</summary>
    public virtual string Address => $"{Driver.Scheme}:{Name}";

    /// <summary>This volume's logger.</summary>
    protected ILogger Logger => Driver.Logger;

    /// <summary>The volume's size in bytes (block volumes; file system volumes report their used bytes or 0).</summary>
    public Task<long> GetSizeAsync(CancellationToken cancellationToken = default) => GetSizeCoreAsync(cancellationToken);

    /// <summary>Grows or shrinks a block volume.</summary>
    /// <exception cref="NotSupportedException">The backend cannot resize volumes.</exception>
    public Task ResizeAsync(long size, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        Require(DriverCapabilities.Resize, "resize volumes");
        return ResizeCoreAsync(size, cancellationToken);
    }

    /// <summary>The volume's snapshots, oldest first, temporary ones included.</summary>
    public Task<SnapshotLineage> GetLineageAsync(CancellationToken cancellationToken = default) => GetLineageCoreAsync(cancellationToken);

    /// <summary>Takes a read-only snapshot of the live state.</summary>
    /// <exception cref="ArgumentException">The name breaks the backend's rules.</exception>
    public async Task<SnapshotInfo> CreateSnapshotAsync(string name, SnapshotCreateOptions? options = null, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(name, "snapshot name");
        Log.SnapshotCreating(Logger, Address, name);
        return await CreateSnapshotCoreAsync(name, options ?? new SnapshotCreateOptions(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a snapshot.</summary>
    /// <exception cref="ArgumentException">The name breaks the backend's rules.</exception>
    public Task DeleteSnapshotAsync(string name, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(name, "snapshot name");
        Log.SnapshotDeleting(Logger, Address, name);
        return DeleteSnapshotCoreAsync(name, cancellationToken);
    }

    /// <summary>
    /// Whether the live state is known to equal snapshot <paramref name="snapshot"/>: true only when the backend can tell
    /// (<see cref="DriverCapabilities.LiveStateComparison"/>) that nothing was written since; false when it changed or
    /// the backend cannot tell. A refresh uses it to skip the temporary snapshot of a live state that did not move.
    /// </summary>
    /// <exception cref="ArgumentException">The name breaks the backend's rules.</exception>
    public Task<bool> IsLiveStateUnchangedAsync(string snapshot, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        return Driver.Has(DriverCapabilities.LiveStateComparison)
            ? IsLiveStateUnchangedCoreAsync(snapshot, cancellationToken)
            : Task.FromResult(false);
    }

    /// <summary>
    /// Finishes or undoes what an interrupted operation of the driver left on this volume besides temporary snapshots
    /// (Btrfs: the staging or replaced subvolume of a promotion killed half-way, putting the live subvolume back when the
    /// kill left none). The replicator calls it on the target at the start of every refresh, before planning, so the next
    /// refresh repairs a target whatever moment a kill hit, even one that finds nothing to send. Nothing, for most drivers.
    /// </summary>
    public Task RemoveLeftoversAsync(CancellationToken cancellationToken = default) => RemoveLeftoversCoreAsync(cancellationToken);

    /// <summary>
    /// Takes this volume's refresh lock, which a refresh of it holds from start to end; dispose the result to let go.
    /// The default is an exclusive <c>flock</c> on a file in <c>/run/lock/deltasnap</c> named after <see cref="Address"/>,
    /// which the kernel lets go of when the process ends (a remote volume takes it where the volume is).
    /// </summary>
    /// <exception cref="RefreshInProgressException">Another refresh holds it.</exception>
    public Task<IAsyncDisposable> LockForRefreshAsync(CancellationToken cancellationToken = default) => LockForRefreshCoreAsync(cancellationToken);

    /// <summary>Makes the live state equal to snapshot <paramref name="name"/>. Newer snapshots must be deleted first.</summary>
    /// <exception cref="ArgumentException">The name breaks the backend's rules.</exception>
    public Task RollbackAsync(string name, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(name, "snapshot name");
        Log.SnapshotRollingBack(Logger, Address, name);
        return RollbackCoreAsync(name, cancellationToken);
    }

    /// <summary>Renames a snapshot.</summary>
    /// <exception cref="NotSupportedException">The backend cannot rename snapshots.</exception>
    public Task RenameSnapshotAsync(string name, string newName, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(name, "snapshot name");
        Driver.SnapshotNameRules.Validate(newName, "snapshot name");
        Require(DriverCapabilities.RenameSnapshots, "rename snapshots");
        return RenameSnapshotCoreAsync(name, newName, cancellationToken);
    }

    /// <summary>Opens a snapshot (read-only) or the live volume as a block device.</summary>
    /// <param name="snapshot">The snapshot, or null for the live volume.</param>
    /// <param name="writable">Open the live volume for writing (snapshots are always read-only).</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <exception cref="NotSupportedException">The volume is not a block volume.</exception>
    /// <exception cref="ArgumentException">A snapshot was asked for writing.</exception>
    public Task<BlockDevice> OpenDeviceAsync(string? snapshot, bool writable = false, CancellationToken cancellationToken = default)
    {
        if (Kind != VolumeKind.Block)
        {
            ThrowHelper.ThrowNotSupported($"{Address} is a file system volume; it has no block device.");
        }
        if (snapshot is not null)
        {
            Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
            if (writable)
            {
                ThrowHelper.ThrowArgument(nameof(writable), "Snapshots are read-only.");
            }
        }
        return OpenDeviceCoreAsync(snapshot, writable, cancellationToken);
    }

    /// <summary>The directory holding a snapshot's files, or the live volume's.</summary>
    /// <exception cref="NotSupportedException">The volume is not a file system volume.</exception>
    public Task<string> GetPathAsync(string? snapshot, CancellationToken cancellationToken = default)
    {
        if (Kind != VolumeKind.Filesystem)
        {
            ThrowHelper.ThrowNotSupported($"{Address} is a block volume; it has no path.");
        }
        if (snapshot is not null)
        {
            Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        }
        return GetPathCoreAsync(snapshot, cancellationToken);
    }

    /// <summary>
    /// Gives back what <see cref="GetPathAsync"/> made to expose <paramref name="snapshot"/>'s files, once the caller has
    /// finished reading them (ZFS without a <c>.zfs/snapshot</c> directory mounts a read-only clone per snapshot, which
    /// would otherwise stay mounted until the snapshot is deleted). The path is no longer valid afterwards; a later
    /// <see cref="GetPathAsync"/> exposes it again. Does nothing for backends whose snapshot paths cost nothing.
    /// </summary>
    /// <exception cref="NotSupportedException">The volume is not a file system volume.</exception>
    public Task ReleasePathAsync(string snapshot, CancellationToken cancellationToken = default)
    {
        if (Kind != VolumeKind.Filesystem)
        {
            ThrowHelper.ThrowNotSupported($"{Address} is a block volume; it has no path.");
        }
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        return ReleasePathCoreAsync(snapshot, cancellationToken);
    }

    /// <summary>
    /// Runs the server half of a tree synchronization where this volume's files are, for a volume on another machine
    /// (<see cref="DriverCapabilities.RemoteTrees"/>): the machine holding the volume checks <paramref name="arguments"/>
    /// (the server command line the synchronizer's client half asked for) with its own tree synchronizer and runs it on
    /// the tree of <paramref name="snapshot"/> (read) or, when null, on the live tree (written).
    /// <paramref name="writeInput"/> writes the server half's standard input (returning ends it);
    /// <paramref name="readOutput"/> reads its standard output to its end. Completes when both have returned and the
    /// server half has ended.
    /// </summary>
    /// <exception cref="NotSupportedException">The volume is not a file system volume on another machine.</exception>
    /// <exception cref="UnauthorizedAccessException">The other machine refused the arguments or the access; nothing ran.</exception>
    /// <exception cref="DeltaSnapException">The server half failed (its exit code and standard error in the message).</exception>
    public Task RunTreeServerAsync(string? snapshot, IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task> writeInput,
        Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken = default)
    {
        CheckTreeServerArguments(snapshot, arguments, writeInput, readOutput);
        return RunTreeServerCoreAsync(snapshot, arguments, writeInput, readOutput, cancellationToken);
    }

    /// <summary>
    /// Runs the server half of a tree synchronization into a fresh directory where this volume is, for a volume on another
    /// machine that receives trees aside (<see cref="DriverCapabilities.RemoteTrees"/> and
    /// <see cref="DriverCapabilities.StagedTrees"/>): what <see cref="ReceiveTreeAsync"/> does there, with the server half
    /// (checked as <see cref="RunTreeServerAsync"/> checks it) writing the directory and hard-linking the files it does
    /// not receive from the newest snapshot, which the machine holding the volume names itself. The directory becomes
    /// snapshot <paramref name="snapshot"/> (returned) or, when that is null, the live tree (null returned); after a
    /// failure it is removed and nothing changed.
    /// </summary>
    /// <exception cref="NotSupportedException">The volume is not a file system volume on another machine that receives trees aside.</exception>
    /// <exception cref="UnauthorizedAccessException">The other machine refused the arguments or the access; nothing ran.</exception>
    /// <exception cref="DeltaSnapException">The server half failed (its exit code and standard error in the message).</exception>
    public Task<SnapshotInfo?> ReceiveTreeServerAsync(string? snapshot, SnapshotCreateOptions? options, IReadOnlyList<string> arguments,
        Func<Stream, CancellationToken, Task> writeInput, Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken = default)
    {
        CheckTreeServerArguments(snapshot, arguments, writeInput, readOutput);
        Require(DriverCapabilities.StagedTrees, "receive trees in a fresh directory");
        return ReceiveTreeServerCoreAsync(snapshot, options ?? new SnapshotCreateOptions(), arguments, writeInput, readOutput, cancellationToken);
    }

    private void CheckTreeServerArguments(string? snapshot, IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task> writeInput,
        Func<Stream, CancellationToken, Task> readOutput)
    {
        if (Kind != VolumeKind.Filesystem)
        {
            ThrowHelper.ThrowNotSupported($"{Address} is a block volume; it has no tree.");
        }
        Require(DriverCapabilities.RemoteTrees, "run a tree synchronizer's server half where the volume is");
        if (snapshot is not null)
        {
            Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        }
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(writeInput);
        ArgumentNullException.ThrowIfNull(readOutput);
    }

    /// <summary>Writes the backend's native stream of <paramref name="snapshot"/>, incremental from <paramref name="baseSnapshot"/> when given.</summary>
    /// <exception cref="NotSupportedException">The backend has no native stream.</exception>
    public Task SendAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions? options = null, CancellationToken cancellationToken = default)
    {
        Require(DriverCapabilities.NativeStream, "send native streams");
        if (baseSnapshot is not null)
        {
            Driver.SnapshotNameRules.Validate(baseSnapshot, "snapshot name");
        }
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        ArgumentNullException.ThrowIfNull(destination);
        Log.NativeSending(Logger, Address, baseSnapshot, snapshot);
        return SendCoreAsync(baseSnapshot, snapshot, destination, options ?? new NativeSendOptions(), cancellationToken);
    }

    /// <summary>
    /// Writes the native stream of <paramref name="snapshot"/> as <see cref="SendAsync"/> does, except its first
    /// <paramref name="prefixLength"/> bytes, which are read and checked against <paramref name="prefixDigest"/> (XXH128,
    /// seed 0) instead of written: how an interrupted transfer continues after the bytes the receiving side already has.
    /// Meant for backends with <see cref="DriverCapabilities.ReproducibleNativeStream"/>; on others the digest decides.
    /// </summary>
    /// <returns>
    /// True when the stream's first bytes matched and the rest was written; false, with nothing written, when they
    /// differ or the stream is shorter (another snapshot pair, a changed snapshot, a damaged spool).
    /// </returns>
    /// <exception cref="NotSupportedException">The backend has no native stream.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="prefixLength"/> is negative.</exception>
    public Task<bool> SendAfterPrefixAsync(string? baseSnapshot, string snapshot, long prefixLength, UInt128 prefixDigest, Stream destination,
        NativeSendOptions? options = null, CancellationToken cancellationToken = default)
    {
        Require(DriverCapabilities.NativeStream, "send native streams");
        if (baseSnapshot is not null)
        {
            Driver.SnapshotNameRules.Validate(baseSnapshot, "snapshot name");
        }
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentNullException.ThrowIfNull(destination);
        Log.NativeSendingAfterPrefix(Logger, Address, baseSnapshot, snapshot, prefixLength);
        return SendAfterPrefixCoreAsync(baseSnapshot, snapshot, prefixLength, prefixDigest, destination, options ?? new NativeSendOptions(), cancellationToken);
    }

    /// <summary>
    /// Receives a native stream into this volume, creating the snapshot the request names. The stream's header is
    /// read (<see cref="ReadNativeStreamHeaderCoreAsync"/>) while the target's state is read
    /// (<see cref="ReadNativeReceiveTargetCoreAsync"/>), and checked against it and the request with one decision
    /// table before a byte reaches the backend: full or incremental as the request says, incremental from the
    /// target's base (by identity, or the identity the base was received from), the snapshot the request names, a
    /// name the target does not have yet, and no target snapshots newer than the base (unless the backend
    /// has <see cref="DriverCapabilities.KeepSnapshotsAfterBase"/>).
    /// </summary>
    /// <exception cref="NotSupportedException">The backend has no native stream.</exception>
    /// <exception cref="NativeStreamMismatchException">The stream does not fit the target or the request; nothing was written.</exception>
    /// <exception cref="CorruptDataException">The stream's header is damaged, truncated or of an unknown format.</exception>
    public async Task<SnapshotInfo> ReceiveAsync(Stream source, NativeReceiveRequest request, CancellationToken cancellationToken = default)
    {
        Require(DriverCapabilities.NativeStream, "receive native streams");
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(request);
        Driver.SnapshotNameRules.Validate(request.Snapshot.Name, "snapshot name");
        if (request.TargetBase is { } targetBase)
        {
            Driver.SnapshotNameRules.Validate(targetBase.Name, "target base snapshot name");
        }
        Log.NativeReceiving(Logger, Address, request.TargetBase?.Name, request.Snapshot.Name);

        // The target's state is read while the stream's first bytes arrive (the sender is starting up); neither writes.
        var reading = ReadNativeReceiveTargetCoreAsync(request, cancellationToken);
        NativeStreamHeader? header;
        try
        {
            header = await ReadNativeStreamHeaderCoreAsync(source, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await DiscardAsync(reading).ConfigureAwait(false);
            throw;
        }
        var target = await reading.ConfigureAwait(false);
        await using (target.ConfigureAwait(false))
        {
            if (header is not null)
            {
                NativeStreamFit.Check(Address, header, request, target.Lineage, Driver.Has(DriverCapabilities.KeepSnapshotsAfterBase));
            }
            return await ReceiveCoreAsync(source, request, header, target, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Receives a tree in a fresh directory (<see cref="DriverCapabilities.StagedTrees"/>): <paramref name="write"/> fills
    /// <see cref="TreeStaging.Directory"/> (it may hard-link unchanged files from <see cref="TreeStaging.LinkDirectory"/>,
    /// which it must never write); when it returns, the directory becomes snapshot <paramref name="snapshot"/> (returned),
    /// or, when that is null, the live tree (null returned). When it throws, the directory is removed and nothing changed;
    /// a directory left by a killed process is removed by the next receive.
    /// </summary>
    /// <exception cref="NotSupportedException">The backend does not receive trees this way.</exception>
    /// <exception cref="ArgumentException">The snapshot name breaks the backend's rules.</exception>
    public Task<SnapshotInfo?> ReceiveTreeAsync(string? snapshot, SnapshotCreateOptions? options, Func<TreeStaging, CancellationToken, Task> write,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        Require(DriverCapabilities.StagedTrees, "receive trees in a fresh directory");
        if (snapshot is not null)
        {
            Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
            Log.SnapshotCreating(Logger, Address, snapshot);
        }
        return ReceiveTreeCoreAsync(snapshot, options ?? new SnapshotCreateOptions(), write, cancellationToken);
    }

    /// <summary>
    /// Makes snapshot <paramref name="snapshot"/> (just received) the live state. The default rolls back to it;
    /// backends whose received snapshots are separate trees (Btrfs) replace the live tree instead.
    /// </summary>
    public Task PromoteAsync(string snapshot, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        return PromoteCoreAsync(snapshot, cancellationToken);
    }

    /// <summary>The byte ranges that may differ between <paramref name="baseSnapshot"/> (null: an empty volume) and <paramref name="snapshot"/>.</summary>
    /// <exception cref="NotSupportedException">The backend cannot tell.</exception>
    public Task<RangeSet> GetChangedRangesAsync(string? baseSnapshot, string snapshot, CancellationToken cancellationToken = default)
    {
        Require(DriverCapabilities.ChangedRanges, "report changed ranges");
        if (baseSnapshot is not null)
        {
            Driver.SnapshotNameRules.Validate(baseSnapshot, "snapshot name");
        }
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        return GetChangedRangesCoreAsync(baseSnapshot, snapshot, cancellationToken);
    }

    /// <summary>
    /// The checksum map the backend has stored for a snapshot, when one with the asked cluster size and
    /// algorithm exists and is current; null otherwise (the caller computes it).
    /// </summary>
    public Task<ClusterChecksums?> GetStoredChecksumsAsync(string snapshot, ClusterChecksumOptions options, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        ArgumentNullException.ThrowIfNull(options);
        return Driver.Has(DriverCapabilities.StoredChecksums)
            ? GetStoredChecksumsCoreAsync(snapshot, options, cancellationToken)
            : Task.FromResult<ClusterChecksums?>(null);
    }

    /// <summary>Stores a snapshot's checksum map with the snapshot, where the backend can; does nothing otherwise.</summary>
    public Task StoreChecksumsAsync(string snapshot, ClusterChecksums map, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        ArgumentNullException.ThrowIfNull(map);
        return Driver.Has(DriverCapabilities.StoredChecksums) ? StoreChecksumsCoreAsync(snapshot, map, cancellationToken) : Task.CompletedTask;
    }

    /// <inheritdoc />
    public override string ToString() => Address;

    /// <summary>Reads the size.</summary>
    protected abstract Task<long> GetSizeCoreAsync(CancellationToken cancellationToken);

    /// <summary>Resizes (capability checked).</summary>
    protected virtual Task ResizeCoreAsync(long size, CancellationToken cancellationToken) => throw Unsupported("resize volumes");

    /// <summary>Reads the lineage.</summary>
    protected abstract Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken);

    /// <summary>Creates a snapshot (name validated).</summary>
    protected abstract Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken);

    /// <summary>Deletes a snapshot (name validated).</summary>
    protected abstract Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken);

    /// <summary>Rolls the live state back (name validated).</summary>
    protected abstract Task RollbackCoreAsync(string name, CancellationToken cancellationToken);

    /// <summary>Renames a snapshot (capability checked).</summary>
    protected virtual Task RenameSnapshotCoreAsync(string name, string newName, CancellationToken cancellationToken) => throw Unsupported("rename snapshots");

    /// <summary>Opens a block device (block volumes only).</summary>
    protected virtual Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken) => throw Unsupported("open block devices");

    /// <summary>Returns a path (file system volumes only).</summary>
    protected virtual Task<string> GetPathCoreAsync(string? snapshot, CancellationToken cancellationToken) => throw Unsupported("give paths");

    /// <summary>Releases what <see cref="GetPathCoreAsync"/> made for a snapshot (argument checked). The default does nothing.</summary>
    protected virtual Task ReleasePathCoreAsync(string snapshot, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs a tree synchronizer's server half where the volume is (capability checked).</summary>
    protected virtual Task RunTreeServerCoreAsync(string? snapshot, IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task> writeInput,
        Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken) =>
        throw Unsupported("run a tree synchronizer's server half where the volume is");

    /// <summary>Runs a tree synchronizer's server half into a fresh directory where the volume is (capabilities and arguments checked).</summary>
    protected virtual Task<SnapshotInfo?> ReceiveTreeServerCoreAsync(string? snapshot, SnapshotCreateOptions options, IReadOnlyList<string> arguments,
        Func<Stream, CancellationToken, Task> writeInput, Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken) =>
        throw Unsupported("receive trees aside through a tree synchronizer's server half where the volume is");

    /// <summary>Sends a native stream (capability checked).</summary>
    protected virtual Task SendCoreAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions options, CancellationToken cancellationToken) =>
        throw Unsupported("send native streams");

    /// <summary>
    /// Sends all but a checked prefix (arguments checked). The default runs <see cref="SendCoreAsync"/> into a stream
    /// that hashes the first <paramref name="prefixLength"/> bytes and drops them, stops the send at the first byte
    /// past them when their digest differs, and writes the rest to <paramref name="destination"/>: the source still
    /// reads the whole stream, but only the rest leaves it. A proxy may instead ask the machine holding the volume to
    /// skip the prefix there.
    /// </summary>
    protected virtual async Task<bool> SendAfterPrefixCoreAsync(string? baseSnapshot, string snapshot, long prefixLength, UInt128 prefixDigest, Stream destination,
        NativeSendOptions options, CancellationToken cancellationToken)
    {
        var skipping = new PrefixCheckingStream(destination, prefixLength, prefixDigest);
        try
        {
            await SendCoreAsync(baseSnapshot, snapshot, skipping, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (skipping.Mismatched)
        {
            // However the driver reported the stopped send (the mismatch itself, or its command's failure).
            return false;
        }
        return skipping.Matched;
    }

    /// <summary>
    /// Reads what a receive needs to know of this volume, concurrently with the stream's header: at least its
    /// lineage (the default reads it with <see cref="GetLineageCoreAsync"/>). A driver may return a derived
    /// <see cref="NativeReceiveTarget"/> with more (properties, a handle, a process started early and not fed yet);
    /// it is disposed when the receive ends, whether or not anything was received.
    /// </summary>
    protected virtual async Task<NativeReceiveTarget> ReadNativeReceiveTargetCoreAsync(NativeReceiveRequest request, CancellationToken cancellationToken) =>
        new(await GetLineageCoreAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Reads the stream's header (capability checked): the identities of the snapshot it carries and the one it is
    /// incremental from, consuming as few bytes as it can. A driver that must give the consumed bytes to the backend
    /// returns a derived <see cref="NativeStreamHeader"/> that holds them. Returns null only for a volume that checks
    /// no header itself (a wrapper handing the stream to another volume's <see cref="ReceiveAsync"/>, which does);
    /// the default returns null.
    /// </summary>
    /// <exception cref="CorruptDataException">The header is damaged, truncated or of an unknown format.</exception>
    protected virtual Task<NativeStreamHeader?> ReadNativeStreamHeaderCoreAsync(Stream source, CancellationToken cancellationToken) =>
        Task.FromResult<NativeStreamHeader?>(null);

    /// <summary>
    /// Receives the rest of a native stream whose <paramref name="header"/> fits (capability checked; checked with
    /// the template's decision table). Backend-specific checks that remain (ZFS: raw and non-raw chains) throw
    /// <see cref="NativeStreamMismatchException"/> before anything is written.
    /// </summary>
    protected virtual Task<SnapshotInfo> ReceiveCoreAsync(Stream source, NativeReceiveRequest request, NativeStreamHeader? header, NativeReceiveTarget target, CancellationToken cancellationToken) =>
        throw Unsupported("receive native streams");

    /// <summary>Promotes a received snapshot to the live state. The default rolls back to it.</summary>
    protected virtual Task PromoteCoreAsync(string snapshot, CancellationToken cancellationToken) => RollbackCoreAsync(snapshot, cancellationToken);

    /// <summary>Takes the refresh lock (see <see cref="LockForRefreshAsync"/>); the default locks a file named after <see cref="Address"/>.</summary>
    protected virtual Task<IAsyncDisposable> LockForRefreshCoreAsync(CancellationToken cancellationToken) =>
        Task.FromResult(RefreshLock.Acquire(Address, Logger));

    /// <summary>Removes what interrupted operations left (see <see cref="RemoveLeftoversAsync"/>); the default does nothing.</summary>
    protected virtual Task RemoveLeftoversCoreAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Tells whether the live state equals the snapshot (only called with <see cref="DriverCapabilities.LiveStateComparison"/>); false when unsure.</summary>
    protected virtual Task<bool> IsLiveStateUnchangedCoreAsync(string snapshot, CancellationToken cancellationToken) => Task.FromResult(false);

    /// <summary>Receives a tree in a fresh directory (capability and name checked).</summary>
    protected virtual Task<SnapshotInfo?> ReceiveTreeCoreAsync(string? snapshot, SnapshotCreateOptions options, Func<TreeStaging, CancellationToken, Task> write,
        CancellationToken cancellationToken) =>
        throw Unsupported("receive trees in a fresh directory");

    /// <summary>Reports changed ranges (capability checked).</summary>
    protected virtual Task<RangeSet> GetChangedRangesCoreAsync(string? baseSnapshot, string snapshot, CancellationToken cancellationToken) =>
        throw Unsupported("report changed ranges");

    /// <summary>Returns a stored map or null (only called with <see cref="DriverCapabilities.StoredChecksums"/>).</summary>
    protected virtual Task<ClusterChecksums?> GetStoredChecksumsCoreAsync(string snapshot, ClusterChecksumOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<ClusterChecksums?>(null);

    /// <summary>Stores a map (only called with <see cref="DriverCapabilities.StoredChecksums"/>).</summary>
    protected virtual Task StoreChecksumsCoreAsync(string snapshot, ClusterChecksums map, CancellationToken cancellationToken) => Task.CompletedTask;

    private void Require(DriverCapabilities capability, string what)
    {
        if (!Driver.Has(capability))
        {
            throw Unsupported(what);
        }
    }

    /// <summary>Waits for the target state no longer wanted (the header read failed) and releases it; its own failure is secondary.</summary>
    private static async Task DiscardAsync(Task<NativeReceiveTarget> reading)
    {
        try
        {
            await (await reading.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is DeltaSnapException or OperationCanceledException or IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            // The stream's failure is the one to report.
        }
    }

    private NotSupportedException Unsupported(string what) => new($"The {Driver.Scheme} backend cannot {what} ({Address}).");
}

/// <summary>Where <see cref="Volume.ReceiveTreeAsync"/> has a tree written.</summary>
/// <param name="Directory">The fresh, empty directory to fill.</param>
/// <param name="LinkDirectory">The volume's newest snapshot tree, whose files equal to the new ones may be hard-linked instead of copied (never written); null for none.</param>
public sealed record TreeStaging(string Directory, string? LinkDirectory);
