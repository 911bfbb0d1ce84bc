using System.Globalization;
using System.Security.Cryptography;
using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lineage;

namespace DeltaSnap.Btrfs;

/// <summary>
/// One Btrfs subvolume and its read-only snapshots. The live state is the subvolume at <see cref="LivePath"/>;
/// snapshots are read-only subvolumes in <see cref="SnapshotDirectory"/>, named by the snapshot name. Identity
/// is the subvolume UUID; a received snapshot's <see cref="SnapshotInfo.ReceivedFrom"/> is its received UUID.
/// Promotion and rollback put a writable snapshot of the chosen snapshot in place of the live subvolume: a
/// received snapshot is never made writable, since that clears the received UUID later incrementals need as
/// their parent (canonical/lxd#13133).
/// </summary>
public sealed class BtrfsVolume : Volume
{
    private const string StagingPrefix = ".deltasnap-staging.";
    private const string ReplacedPrefix = ".deltasnap-replaced.";
    private const string MetadataSuffix = ".deltasnap-meta";
    private const string CreatingSuffix = ".deltasnap-creating";

    /// <summary>Whether the missing-Landlock warning was logged (once per process).</summary>
    private static int _warnedUnconfined;

    private readonly BtrfsDriver _driver;

    internal BtrfsVolume(BtrfsDriver driver, string name, string livePath, string snapshotDirectory)
        : base(driver, name, VolumeKind.Filesystem)
    {
        _driver = driver;
        LivePath = livePath;
        SnapshotDirectory = snapshotDirectory;
    }

    /// <summary>The live subvolume's path.</summary>
    public string LivePath { get; }

    /// <summary>The directory holding this volume's snapshots.</summary>
    public string SnapshotDirectory { get; }

    /// <summary><c>btrfs:</c> and the live subvolume's absolute path.</summary>
    public override string Address => $"{BtrfsDriver.SchemeName}:{LivePath}";

    private ExternalCommandRunner Commands => _driver.Commands;

    /// <summary>The path of snapshot <paramref name="name"/> (validated: a direct child of the snapshot directory).</summary>
    /// <exception cref="ArgumentException">The name breaks the rules or leads out of the snapshot directory.</exception>
    public string GetSnapshotPath(string name)
    {
        Driver.SnapshotNameRules.Validate(name, "snapshot name");
        return SnapshotPath(name);
    }

    /// <summary>File system volumes report 0: Btrfs has no cheap per-subvolume usage without quota groups.</summary>
    protected override Task<long> GetSizeCoreAsync(CancellationToken cancellationToken) => Task.FromResult(0L);

    /// <inheritdoc />
    protected override async Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken) =>
        LineageOf(await ReadSnapshotsAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>The complete (read-only) snapshots, in the order they were taken.</summary>
    private SnapshotLineage LineageOf(List<(string Name, BtrfsSubvolumeInfo Info)> snapshots) =>
        new(snapshots
            .Where(s => s.Info.ReadOnly)
            .OrderBy(s => s.Info.GenerationAtCreation)
            .ThenBy(s => s.Info.CreatedUtc)
            .ThenBy(s => s.Name, StringComparer.Ordinal)
            .Select(s => ToSnapshotInfo(s.Name, s.Info)));

    /// <summary>
    /// Btrfs's generations, after the file system's dirty data is written back (a snapshot does the same first): the
    /// live subvolume is unchanged since snapshot <paramref name="snapshot"/> when the snapshot was taken of it and no
    /// transaction changed it after the snapshot's (its generation is the snapshot's creation transaction), or when it
    /// is itself a writable snapshot of that snapshot (a rollback or promotion made it) not changed since it was made.
    /// Reading a file counts as a change where the mount updates access times.
    /// </summary>
    protected override async Task<bool> IsLiveStateUnchangedCoreAsync(string snapshot, CancellationToken cancellationToken)
    {
        var path = SnapshotPath(snapshot);
        if (!SubvolumeInfoIoctl.TrySyncFileSystem(LivePath))
        {
            await Commands.RunAsync(["-q", "filesystem", "sync", LivePath], cancellationToken).ConfigureAwait(false);
        }
        var infos = await _driver.ShowManyAsync([LivePath, path], cancellationToken).ConfigureAwait(false);
        if (infos[0] is not { } live || infos[1] is not { ReadOnly: true } snap)
        {
            return false;
        }
        var takenOfLive = snap.ParentUuid == live.Uuid && live.Generation == snap.GenerationAtCreation;
        var madeFromSnapshot = live.ParentUuid == snap.Uuid && live.Generation == live.GenerationAtCreation;
        return takenOfLive || madeFromSnapshot;
    }

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken)
    {
        var path = SnapshotPath(name);
        await RequireLiveAsync(cancellationToken).ConfigureAwait(false);
        if (Path.Exists(path))
        {
            throw new DeltaSnapException($"Snapshot '{name}' of {Address} already exists ({path}).");
        }
        Directory.CreateDirectory(SnapshotDirectory);
        if (options.CreatedUtc is null && options.ReceivedFrom is null)
        {
            await Commands.RunAsync(["-q", "subvolume", "snapshot", "-r", LivePath, path], cancellationToken).ConfigureAwait(false);
            return ToSnapshotInfo(name, await ShowRequiredAsync(path, name, cancellationToken).ConfigureAwait(false));
        }

        // The metadata names the snapshot's UUID, known only once it exists. The snapshot is made under a hidden name
        // and renamed into place after its metadata is written, so a kill in between never leaves a received snapshot
        // without the record that lets the next refresh recognise it (only a hidden leftover, removed next time).
        await RemoveCreatingLeftoversAsync(cancellationToken).ConfigureAwait(false);
        var creating = CreatingPath(name);
        await Commands.RunAsync(["-q", "subvolume", "snapshot", "-r", LivePath, creating], cancellationToken).ConfigureAwait(false);
        try
        {
            var info = await ShowRequiredAsync(creating, name, cancellationToken).ConfigureAwait(false);
            await WriteMetadataAsync(name, info.Uuid, options, cancellationToken).ConfigureAwait(false);
            Directory.Move(creating, path);
            return ToSnapshotInfo(name, info);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DeltaSnapException or OperationCanceledException)
        {
            await Commands.RunAsync(["-q", "subvolume", "delete", creating], CancellationToken.None).ConfigureAwait(false);
            File.Delete(MetadataPath(name));
            throw;
        }
    }

    /// <summary>Where snapshot <paramref name="name"/> is made before it has its metadata: hidden, so no lineage lists it.</summary>
    private string CreatingPath(string name) => Path.Combine(SnapshotDirectory, "." + name + CreatingSuffix);

    /// <summary>Removes snapshots an interrupted <see cref="CreateSnapshotCoreAsync"/> left under their hidden names.</summary>
    private async Task RemoveCreatingLeftoversAsync(CancellationToken cancellationToken)
    {
        var leftovers = new DirectoryInfo(SnapshotDirectory).EnumerateDirectories()
            .Where(d => d.LinkTarget is null && d.Name.StartsWith(BtrfsDriver.ReservedPrefix, StringComparison.Ordinal) && d.Name.EndsWith(CreatingSuffix, StringComparison.Ordinal))
            .Select(d => d.FullName)
            .ToArray();
        foreach (var leftover in leftovers)
        {
            Log.LeftoverRemoving(Logger, Address, leftover);
            await Commands.RunAsync(["-q", "subvolume", "delete", leftover], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    protected override async Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken)
    {
        var path = SnapshotPath(name);
        if (!Directory.Exists(path))
        {
            throw new VolumeNotFoundException($"Snapshot '{name}' of {Address} does not exist ({path}).");
        }
        await Commands.RunAsync(["-q", "subvolume", "delete", path], cancellationToken).ConfigureAwait(false);
        File.Delete(MetadataPath(name));
    }

    /// <summary>Puts a writable snapshot of <paramref name="name"/> in place of the live subvolume.</summary>
    protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken) => ReplaceLiveAsync(name, cancellationToken);

    /// <summary>
    /// Puts a writable snapshot of the received snapshot <paramref name="snapshot"/> in place of the live
    /// subvolume. The received snapshot stays read-only with its received UUID, so it (or any later snapshot)
    /// can be the parent of the next incremental.
    /// </summary>
    protected override Task PromoteCoreAsync(string snapshot, CancellationToken cancellationToken) => ReplaceLiveAsync(snapshot, cancellationToken);

    /// <inheritdoc />
    protected override Task RenameSnapshotCoreAsync(string name, string newName, CancellationToken cancellationToken)
    {
        var from = SnapshotPath(name);
        var to = SnapshotPath(newName);
        if (!Directory.Exists(from))
        {
            throw new VolumeNotFoundException($"Snapshot '{name}' of {Address} does not exist ({from}).");
        }
        if (Path.Exists(to))
        {
            throw new DeltaSnapException($"Cannot rename snapshot '{name}' of {Address} to '{newName}': {to} already exists.");
        }
        Directory.Move(from, to);
        if (File.Exists(MetadataPath(name)))
        {
            File.Move(MetadataPath(name), MetadataPath(newName));
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override Task<string> GetPathCoreAsync(string? snapshot, CancellationToken cancellationToken)
    {
        if (snapshot is null)
        {
            return Task.FromResult(LivePath);
        }
        var path = SnapshotPath(snapshot);
        if (!Directory.Exists(path))
        {
            throw new VolumeNotFoundException($"Snapshot '{snapshot}' of {Address} does not exist ({path}).");
        }
        return Task.FromResult(path);
    }

    /// <summary>
    /// <c>btrfs send [-p BASE] SNAPSHOT</c>, its standard output streamed to <paramref name="destination"/>. With
    /// <see cref="NativeSendOptions.Compressed"/>, data compressed on disk is sent as it is (<c>--compressed-data</c>,
    /// protocol version 2). Btrfs has no raw (encrypted) sends; <see cref="NativeSendOptions.Raw"/> changes nothing.
    /// </summary>
    /// <exception cref="NotSupportedException">A resume token was given: Btrfs streams cannot be resumed.</exception>
    protected override async Task SendCoreAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions options, CancellationToken cancellationToken)
    {
        if (options.ResumeToken is not null)
        {
            throw new NotSupportedException("Btrfs send streams cannot be resumed; send again from the base.");
        }
        var path = SnapshotPath(snapshot);
        var basePath = baseSnapshot is null ? null : SnapshotPath(baseSnapshot);
        if (!Directory.Exists(path))
        {
            throw new VolumeNotFoundException($"Snapshot '{snapshot}' of {Address} does not exist ({path}).");
        }
        if (basePath is not null && !Directory.Exists(basePath))
        {
            throw new VolumeNotFoundException($"Base snapshot '{baseSnapshot}' of {Address} does not exist ({basePath}).");
        }
        List<string> arguments = ["-q", "send"];
        if (options.Compressed)
        {
            arguments.Add("--compressed-data");
        }
        if (basePath is not null)
        {
            arguments.Add("-p");
            arguments.Add(basePath);
        }
        arguments.Add(path);
        var bytes = await Commands.RunWithOutputAsync(arguments, destination, cancellationToken).ConfigureAwait(false);
        Log.Sent(Logger, Address, snapshot, baseSnapshot, bytes);
    }

    /// <summary>
    /// Reads the target's snapshots (read-only ones are its lineage) while the template reads the stream's first
    /// bytes: the sender is starting up meanwhile.
    /// </summary>
    /// <exception cref="ArgumentException">A snapshot name is reserved or leads out of the snapshot directory (thrown at once, before the stream is read).</exception>
    protected override Task<NativeReceiveTarget> ReadNativeReceiveTargetCoreAsync(NativeReceiveRequest request, CancellationToken cancellationToken)
    {
        _ = SnapshotPath(request.Snapshot.Name);
        if (request.TargetBase is { } targetBase)
        {
            _ = SnapshotPath(targetBase.Name);
        }
        return ReadAsync();

        async Task<NativeReceiveTarget> ReadAsync() => new(LineageOf(await ReadSnapshotsAsync(cancellationToken).ConfigureAwait(false)));
    }

    /// <summary>
    /// Reads the stream's header and first command, which say what the stream creates: its name and UUID (the sent
    /// snapshot's received UUID, else its UUID), and for an incremental its parent's. The bytes read are fed to
    /// <c>btrfs receive</c> first.
    /// </summary>
    /// <exception cref="CorruptDataException">The stream is not a Btrfs send stream, has an unknown version or a damaged first command.</exception>
    protected override async Task<NativeStreamHeader?> ReadNativeStreamHeaderCoreAsync(Stream source, CancellationToken cancellationToken)
    {
        var start = await BtrfsStreamStart.ReadAsync(source, cancellationToken).ConfigureAwait(false);
        Log.StreamChecked(Logger, Address, start.IsIncremental ? "incremental" : "full", start.Name, start.Uuid, start.ParentUuid, start.Version);
        return new BtrfsReceiveHeader(start);
    }

    /// <summary>
    /// How <c>btrfs receive</c> is started. It follows the paths of the stream's commands as they come, <c>..</c> and
    /// symbolic links included: a stream whose MKFILE and WRITE named <c>../../x</c> made <c>x</c> two directories above
    /// the receive directory (btrfs-progs 6.2). A stream from a peer is not to be trusted that far, so where the kernel
    /// has Landlock the receive may change nothing outside the volume's snapshot directory (it still reads, and its
    /// ioctls, which create the subvolume and clone extents, are not path operations). Without Landlock it runs as
    /// before, and a warning says so once.
    /// </summary>
    private Func<System.Diagnostics.ProcessStartInfo, System.Diagnostics.Process?>? ReceiveConfinement()
    {
        if (!Landlock.IsAvailable)
        {
            if (Interlocked.Exchange(ref _warnedUnconfined, 1) == 0)
            {
                Log.ReceiveUnconfined(Logger);
            }
            return null;
        }
        var directory = SnapshotDirectory;
        return info => Landlock.Start(info, [(directory, Landlock.AllChanges)]);
    }

    /// <summary>
    /// <c>btrfs receive -e</c> into the snapshot directory, fed the bytes already read and the rest of the stream
    /// (through the shared runner's relay). A receive that fails or is cancelled leaves no half-received subvolume behind.
    /// </summary>
    protected override async Task<SnapshotInfo> ReceiveCoreAsync(Stream source, NativeReceiveRequest request, NativeStreamHeader? header, NativeReceiveTarget target, CancellationToken cancellationToken)
    {
        var start = ((BtrfsReceiveHeader)header!).Start;
        var name = request.Snapshot.Name;
        var path = SnapshotPath(name);

        await RemoveHalfReceivedAsync(name, path, cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(SnapshotDirectory);

        long bytes;
        try
        {
            bytes = await Commands.RunWithInputAsync(["-q", "receive", "-e", SnapshotDirectory], start.Bytes, source, cancellationToken, ReceiveConfinement())
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            if (Directory.Exists(path))
            {
                Log.HalfReceivedRemoving(Logger, Address, name, path);
                try
                {
                    await Commands.RunAsync(["-q", "subvolume", "delete", path], CancellationToken.None).ConfigureAwait(false);
                }
                catch (BackendCommandException cleanup)
                {
                    // The next receive of this name removes it; the receive's own failure is what the caller needs.
                    Log.HalfReceivedRemoveFailed(Logger, cleanup, Address, path);
                }
            }
            throw;
        }

        var info = await _driver.TryShowAsync(path, CancellationToken.None).ConfigureAwait(false);
        if (info is null || !info.ReadOnly || info.ReceivedUuid != start.Uuid)
        {
            if (info is not null)
            {
                await Commands.RunAsync(["-q", "subvolume", "delete", path], CancellationToken.None).ConfigureAwait(false);
            }
            throw new DeltaSnapException(
                $"`btrfs receive` into {SnapshotDirectory} succeeded but left no complete snapshot '{name}' " +
                $"(found: {(info is null ? "nothing" : $"read-only {info.ReadOnly}, received UUID {info.ReceivedUuid ?? "-"}")}); it was removed.");
        }
        Log.Received(Logger, Address, name, bytes, start.Uuid);
        return ToSnapshotInfo(name, info);
    }

    /// <summary>Deletes the volume: its snapshots, leftovers of interrupted promotions, then the live subvolume.</summary>
    internal async Task DeleteAsync(CancellationToken cancellationToken)
    {
        var leftovers = FindRootLeftovers();
        var hasSnapshots = Directory.Exists(SnapshotDirectory);
        if (!Directory.Exists(LivePath) && !hasSnapshots && leftovers.Count == 0)
        {
            throw new VolumeNotFoundException($"There is no Btrfs volume {Address}.");
        }
        if (hasSnapshots)
        {
            var entries = new DirectoryInfo(SnapshotDirectory).EnumerateDirectories().Where(d => d.LinkTarget is null).Select(d => d.FullName).ToArray();
            var infos = await _driver.ShowManyAsync(entries, cancellationToken).ConfigureAwait(false);
            var subvolumes = entries.Where((_, i) => infos[i] is not null).ToList();
            if (subvolumes.Count > 0)
            {
                await Commands.RunAsync(["-q", "subvolume", "delete", .. subvolumes], cancellationToken).ConfigureAwait(false);
            }
            Directory.Delete(SnapshotDirectory, recursive: true);
        }
        List<string> rest = [.. leftovers];
        if (Directory.Exists(LivePath))
        {
            rest.Add(LivePath);
        }
        if (rest.Count > 0)
        {
            await Commands.RunAsync(["-q", "subvolume", "delete", .. rest], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Removes what an earlier receive left half-done: the target name if it is a writable subvolume (a finished
    /// receive is read-only), and writable temporary snapshots. A complete snapshot of the same name is an error.
    /// </summary>
    private async Task RemoveHalfReceivedAsync(string name, string path, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(SnapshotDirectory))
        {
            return;
        }
        var candidates = new DirectoryInfo(SnapshotDirectory).EnumerateDirectories()
            .Where(d => d.LinkTarget is null && (d.Name == name || TemporarySnapshot.IsTemporary(d.Name)))
            .Select(d => d.FullName)
            .ToArray();
        var infos = await _driver.ShowManyAsync(candidates, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < candidates.Length; i++)
        {
            var candidate = candidates[i];
            var info = infos[i];
            if (candidate == path && (info is null || info.ReadOnly))
            {
                throw new DeltaSnapException($"Cannot receive snapshot '{name}' into {Address}: {path} already exists{(info is null ? " and is not a subvolume" : "")}.");
            }
            if (info is { ReadOnly: false })
            {
                Log.LeftoverHalfReceivedRemoving(Logger, Address, candidate);
                await Commands.RunAsync(["-q", "subvolume", "delete", candidate], cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Replaces the live subvolume with a writable snapshot of snapshot <paramref name="name"/>; the old live state is kept until the new one is in place.</summary>
    private async Task ReplaceLiveAsync(string name, CancellationToken cancellationToken)
    {
        var path = SnapshotPath(name);
        var info = await ShowRequiredAsync(path, name, cancellationToken).ConfigureAwait(false);
        if (!info.ReadOnly)
        {
            throw new DeltaSnapException($"'{name}' of {Address} is a writable subvolume (a half-received leftover), not a complete snapshot; it cannot become the live state.");
        }
        Log.LiveReplacing(Logger, Address, name);
        await RemoveRootLeftoversAsync(cancellationToken).ConfigureAwait(false);

        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var staging = BtrfsDriver.ChildPath(_driver.RootDirectory, StagingPrefix + token + "." + Name, "staging");
        var replaced = BtrfsDriver.ChildPath(_driver.RootDirectory, ReplacedPrefix + token + "." + Name, "replaced live");
        await Commands.RunAsync(["-q", "subvolume", "snapshot", path, staging], cancellationToken).ConfigureAwait(false);

        var hadLive = Directory.Exists(LivePath);
        try
        {
            if (hadLive)
            {
                Directory.Move(LivePath, replaced);
            }
            Directory.Move(staging, LivePath);
        }
        catch (IOException)
        {
            if (hadLive && !Directory.Exists(LivePath) && Directory.Exists(replaced))
            {
                Directory.Move(replaced, LivePath);
            }
            await Commands.RunAsync(["-q", "subvolume", "delete", staging], CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        if (hadLive)
        {
            try
            {
                await Commands.RunAsync(["-q", "subvolume", "delete", replaced], CancellationToken.None).ConfigureAwait(false);
            }
            catch (BackendCommandException e)
            {
                Log.ReplacedLiveDeleteFailed(Logger, e, Address, replaced);
            }
        }
    }

    /// <summary>
    /// Removes the staging and replaced subvolumes an interrupted promotion or rollback left in the root. One killed
    /// between its two renames left no live subvolume: then the replaced one, the live state before it, goes back in
    /// place (the refresh that follows brings it where it must be).
    /// </summary>
    protected override async Task RemoveLeftoversCoreAsync(CancellationToken cancellationToken)
    {
        var leftovers = FindRootLeftovers();
        if (leftovers.Count == 0)
        {
            return;
        }
        if (!Directory.Exists(LivePath) && leftovers.Find(l => Path.GetFileName(l).StartsWith(ReplacedPrefix, StringComparison.Ordinal)) is { } replaced)
        {
            Log.LeftoverRemoving(Logger, Address, replaced + " (back in place as the live subvolume)");
            Directory.Move(replaced, LivePath);
        }
        await RemoveRootLeftoversAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Staging and replaced subvolumes of this volume left in the root by an interrupted promotion or rollback.</summary>
    private List<string> FindRootLeftovers()
    {
        if (!Directory.Exists(_driver.RootDirectory))
        {
            return [];
        }
        return new DirectoryInfo(_driver.RootDirectory).EnumerateDirectories()
            .Where(d => d.LinkTarget is null && IsLeftoverOfThisVolume(d.Name))
            .Select(d => d.FullName)
            .ToList();

        bool IsLeftoverOfThisVolume(string entry)
        {
            foreach (var prefix in (string[])[StagingPrefix, ReplacedPrefix])
            {
                if (entry.StartsWith(prefix, StringComparison.Ordinal))
                {
                    var dot = entry.IndexOf('.', prefix.Length);
                    return dot > 0 && string.Equals(entry[(dot + 1)..], Name, StringComparison.Ordinal);
                }
            }
            return false;
        }
    }

    private async Task RemoveRootLeftoversAsync(CancellationToken cancellationToken)
    {
        foreach (var leftover in FindRootLeftovers())
        {
            Log.LeftoverRemoving(Logger, Address, leftover);
            await Commands.RunAsync(["-q", "subvolume", "delete", leftover], cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<List<(string Name, BtrfsSubvolumeInfo Info)>> ReadSnapshotsAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(SnapshotDirectory))
        {
            return [];
        }
        var names = new List<string>();
        foreach (var entry in new DirectoryInfo(SnapshotDirectory).EnumerateDirectories())
        {
            if (entry.Name.StartsWith(BtrfsDriver.ReservedPrefix, StringComparison.Ordinal))
            {
                continue;
            }
            if (entry.LinkTarget is not null)
            {
                Log.SnapshotEntrySkipped(Logger, Address, entry.FullName, "a symbolic link");
                continue;
            }
            try
            {
                Driver.SnapshotNameRules.Validate(entry.Name);
            }
            catch (ArgumentException e)
            {
                Log.SnapshotEntrySkipped(Logger, Address, entry.FullName, e.Message);
                continue;
            }
            names.Add(entry.Name);
        }
        var infos = await _driver.ShowManyAsync(names.Select(n => Path.Combine(SnapshotDirectory, n)).ToArray(), cancellationToken).ConfigureAwait(false);
        var result = new List<(string, BtrfsSubvolumeInfo)>();
        for (var i = 0; i < names.Count; i++)
        {
            if (infos[i] is not { } info)
            {
                Log.SnapshotEntrySkipped(Logger, Address, Path.Combine(SnapshotDirectory, names[i]), "not a subvolume");
                continue;
            }
            if (!info.ReadOnly)
            {
                Log.SnapshotEntrySkipped(Logger, Address, Path.Combine(SnapshotDirectory, names[i]), "writable (a half-received leftover)");
            }
            result.Add((names[i], info));
        }
        return result;
    }

    private SnapshotInfo ToSnapshotInfo(string name, BtrfsSubvolumeInfo info)
    {
        var metadata = ReadMetadata(name, info.Uuid);
        return new SnapshotInfo(name, new SnapshotIdentity(BtrfsDriver.IdentityKind, info.Uuid), metadata?.CreatedUtc ?? info.CreatedUtc)
        {
            ReceivedFrom = info.ReceivedUuid is { } received
                ? new SnapshotIdentity(BtrfsDriver.IdentityKind, received)
                : metadata?.ReceivedFrom,
        };
    }

    private async Task RequireLiveAsync(CancellationToken cancellationToken)
    {
        if (await _driver.TryShowAsync(LivePath, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new VolumeNotFoundException($"There is no Btrfs subvolume at {LivePath} (volume {Address}).");
        }
    }

    private async Task<BtrfsSubvolumeInfo> ShowRequiredAsync(string path, string name, CancellationToken cancellationToken) =>
        await _driver.TryShowAsync(path, cancellationToken).ConfigureAwait(false)
            ?? throw new VolumeNotFoundException($"Snapshot '{name}' of {Address} does not exist ({path}).");

    private string SnapshotPath(string name)
    {
        BtrfsDriver.RejectReserved(name, "snapshot name");
        return BtrfsDriver.ChildPath(SnapshotDirectory, name, "snapshot");
    }

    // Recorded creation time and origin of snapshots made by a non-native refresh (Btrfs cannot set a
    // subvolume's received UUID or otime from the command line): SNAPDIR/.NAME.deltasnap-meta, tied to the
    // snapshot's UUID so that a stale file never applies to a new snapshot of the same name.
    private string MetadataPath(string name) => Path.Combine(SnapshotDirectory, "." + name + MetadataSuffix);

    private async Task WriteMetadataAsync(string name, string uuid, SnapshotCreateOptions options, CancellationToken cancellationToken)
    {
        var lines = new List<string> { "uuid=" + uuid };
        if (options.CreatedUtc is { } created)
        {
            lines.Add("created=" + SnapshotInfo.TruncateToSeconds(created).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        }
        if (options.ReceivedFrom is { IsEmpty: false } from)
        {
            lines.Add("receivedFrom=" + from);
        }
        var path = MetadataPath(name);
        await File.WriteAllLinesAsync(path + ".new", lines, cancellationToken).ConfigureAwait(false);
        File.Move(path + ".new", path, overwrite: true);
    }

    private (DateTimeOffset? CreatedUtc, SnapshotIdentity? ReceivedFrom)? ReadMetadata(string name, string uuid)
    {
        var path = MetadataPath(name);
        if (!File.Exists(path))
        {
            return null;
        }
        DateTimeOffset? created = null;
        SnapshotIdentity? receivedFrom = null;
        var matches = false;
        foreach (var line in File.ReadLines(path))
        {
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }
            var value = line[(eq + 1)..];
            switch (line[..eq])
            {
                case "uuid":
                    matches = string.Equals(value, uuid, StringComparison.OrdinalIgnoreCase);
                    break;
                case "created" when long.TryParse(value, CultureInfo.InvariantCulture, out var seconds):
                    created = DateTimeOffset.FromUnixTimeSeconds(seconds);
                    break;
                case "receivedFrom":
                    try
                    {
                        receivedFrom = SnapshotIdentity.Parse(value);
                    }
                    catch (FormatException)
                    {
                        // Ignore an unreadable origin; the snapshot still has its own identity.
                    }
                    catch (ArgumentException)
                    {
                        // Likewise.
                    }
                    break;
                default:
                    break;
            }
        }
        return matches ? (created, receivedFrom) : null;
    }

    /// <summary>The stream's first command as the template's header: UUIDs as identities, the name it creates, and the bytes read.</summary>
    private sealed record BtrfsReceiveHeader : NativeStreamHeader
    {
        public BtrfsReceiveHeader(BtrfsStreamStart start)
            : base(new SnapshotIdentity(BtrfsDriver.IdentityKind, start.Uuid))
        {
            Start = start;
            ToName = start.Name;
            From = start.ParentUuid is { } parent ? new SnapshotIdentity(BtrfsDriver.IdentityKind, parent) : null;
        }

        public BtrfsStreamStart Start { get; }
    }
}
