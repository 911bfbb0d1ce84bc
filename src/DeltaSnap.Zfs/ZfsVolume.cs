using System.Globalization;
using DeltaSnap.Devices;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;
using Microsoft.Extensions.Logging;

namespace DeltaSnap.Zfs;

/// <summary>
/// A ZFS dataset (file system volume) or zvol (block volume). Snapshots are <c>DATASET@NAME</c>, identified by
/// their GUID (<see cref="ZfsDriver.GuidIdentityKind"/>) and ordered by <c>createtxg</c>; the native stream is
/// <c>zfs send</c>/<c>zfs receive</c>, and a receive checks the stream's BEGIN record against the target before
/// anything is written.
/// </summary>
public sealed class ZfsVolume : Volume
{
    /// <summary>The user property that records a snapshot's creation time given at creation (Unix seconds).</summary>
    public const string CreatedProperty = "deltasnap:created";

    /// <summary>The user property that records the identity of the source snapshot a snapshot replicates.</summary>
    public const string ReceivedFromProperty = "deltasnap:received-from";

    private const string LineageProperties = "guid,createtxg,creation," + CreatedProperty + "," + ReceivedFromProperty;
    private const int MaxFullNameLength = 255;

    private readonly ZfsDriver _driver;

    /// <summary>
    /// The snapshot this volume object last received, while nothing it did since could have changed the head
    /// (no live path or writable device handed out, no rollback; the dataset has atime=off). Promoting it then
    /// needs no rollback, which on zfs-fuse costs an unmount and a mount (0.2–0.9 s).
    /// </summary>
    private string? _pristineHead;

    internal ZfsVolume(ZfsDriver driver, string name, string dataset, VolumeKind kind)
        : base(driver, name, kind)
    {
        _driver = driver;
        Dataset = dataset;
    }

    /// <summary>The dataset's full name (<c>pool/path</c>).</summary>
    public string Dataset { get; }

    /// <inheritdoc />
    public override string Address => $"{ZfsDriver.SchemeName}:{Dataset}";

    private ZfsCommandRunner Zfs => _driver.Zfs;

    private ZfsFeatures Features => _driver.Features;

    /// <summary>
    /// Protects <paramref name="snapshot"/> as the common base: holds it with <see cref="ZfsDriverOptions.HoldTag"/>
    /// and releases that tag from every other snapshot of this dataset. Refreshes do this on their own where
    /// the driver has <see cref="DriverCapabilities.ProtectBase"/>: the target after each received snapshot,
    /// the source after each send (keeping the base and the sent snapshot).
    /// </summary>
    /// <exception cref="NotSupportedException">The installed ZFS has no holds, or protection is turned off.</exception>
    public Task ProtectBaseAsync(string snapshot, CancellationToken cancellationToken = default)
    {
        Driver.SnapshotNameRules.Validate(snapshot, "snapshot name");
        if (!Driver.Has(DriverCapabilities.ProtectBase))
        {
            throw new NotSupportedException($"{Address}: the installed ZFS has no holds (or ZfsDriverOptions.ProtectBase is off), so the base cannot be protected.");
        }
        return ProtectAsync([snapshot], null, cancellationToken);
    }

    /// <summary>The snapshots of this dataset that carry at least one hold (any tag), by name.</summary>
    /// <exception cref="NotSupportedException">The installed ZFS has no holds.</exception>
    public async Task<IReadOnlyList<string>> GetHeldSnapshotsAsync(CancellationToken cancellationToken = default)
    {
        if (!Features.Holds)
        {
            throw new NotSupportedException($"{Address}: the installed ZFS has no holds.");
        }
        return (await ReadUserRefsAsync(cancellationToken).ConfigureAwait(false)).Where(p => p.Value > 0).Select(p => p.Key).ToArray();
    }

    /// <summary>The resume token an interrupted resumable receive left on this dataset, or null.</summary>
    /// <exception cref="NotSupportedException">The installed ZFS has no resumable streams.</exception>
    public async Task<string?> GetResumeTokenAsync(CancellationToken cancellationToken = default)
    {
        if (!Features.ResumableStreams)
        {
            throw new NotSupportedException($"{Address}: the installed ZFS has no resumable streams.");
        }
        var props = await GetPropertiesAsync(Dataset, ["receive_resume_token"], cancellationToken).ConfigureAwait(false);
        return props.TryGetValue("receive_resume_token", out var p) && p.Value is not ("-" or "") ? p.Value : null;
    }

    /// <inheritdoc />
    protected override async Task<long> GetSizeCoreAsync(CancellationToken cancellationToken)
    {
        var property = Kind == VolumeKind.Block ? "volsize" : "referenced";
        var props = await GetPropertiesAsync(Dataset, [property], cancellationToken).ConfigureAwait(false);
        return long.Parse(props[property].Value, CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    protected override Task ResizeCoreAsync(long size, CancellationToken cancellationToken) =>
        Zfs.RunAsync(["set", "volsize=" + size.ToString(CultureInfo.InvariantCulture), Dataset], cancellationToken);

    /// <inheritdoc />
    protected override async Task<SnapshotLineage> GetLineageCoreAsync(CancellationToken cancellationToken)
    {
        // One command for the whole lineage: `zfs list` prints GUIDs abbreviated and zfs-fuse rejects `list -p`,
        // so the exact values come from `zfs get -Hp`, over the dataset and its snapshots (depth 1).
        var result = await Zfs.TryRunAsync(["get", "-H", "-p", "-r", "-d", "1", "-o", "name,property,value", LineageProperties, Dataset], cancellationToken)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw result.SaysNotFound
                ? new VolumeNotFoundException($"The ZFS dataset '{Dataset}' does not exist.")
                : new ZfsCommandException(result.CommandLine, result.ExitCode, result.StandardError);
        }
        var snapshots = ParseSnapshots(result.StandardOutput, Dataset + "@");
        return new SnapshotLineage(snapshots.OrderBy(s => s.CreateTxg).Select(s => s.Info));
    }

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(string name, SnapshotCreateOptions options, CancellationToken cancellationToken)
    {
        var full = FullName(name);
        List<string> arguments = ["snapshot"];
        if (options.CreatedUtc is { } created)
        {
            arguments.AddRange(["-o", $"{CreatedProperty}={created.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}"]);
        }
        if (options.ReceivedFrom is { IsEmpty: false } from)
        {
            arguments.AddRange(["-o", $"{ReceivedFromProperty}={from}"]);
        }
        arguments.Add(full);
        await Zfs.RunAsync(arguments, cancellationToken).ConfigureAwait(false);
        return (await ReadSnapshotAsync(name, cancellationToken).ConfigureAwait(false)).Info;
    }

    /// <inheritdoc />
    protected override async Task DeleteSnapshotCoreAsync(string name, CancellationToken cancellationToken)
    {
        var full = FullName(name);
        if (_pristineHead == name)
        {
            _pristineHead = null;
        }
        if (Features.Holds && !TemporarySnapshot.IsTemporary(name))
        {
            await ReleaseAsync([name], cancellationToken).ConfigureAwait(false);
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(50);
        var viewsDestroyed = false;
        while (true)
        {
            var result = await Zfs.TryRunAsync(["destroy", full], cancellationToken).ConfigureAwait(false);
            if (result.Succeeded)
            {
                return;
            }
            if (result.SaysNotFound)
            {
                throw new VolumeNotFoundException($"The ZFS snapshot '{full}' does not exist.");
            }
            if (!viewsDestroyed && result.StandardError.Contains("dependent clones", StringComparison.Ordinal))
            {
                // Our read-only view of the snapshot (if that is the clone) goes with it; other clones still refuse.
                await _driver.DestroyViewsAsync(origin => origin == full, Dataset, cancellationToken).ConfigureAwait(false);
                viewsDestroyed = true;
                continue;
            }
            if (result.SaysBusy && Features.Holds && (await ReadUserRefsAsync(cancellationToken).ConfigureAwait(false)).GetValueOrDefault(name) > 0)
            {
                throw new ZfsCommandException(result.CommandLine, result.ExitCode,
                    result.StandardError.Trim() + $" ({full} carries holds of other tags; release them first.)");
            }
            if (!result.SaysBusy || clock.Elapsed > TimeSpan.FromSeconds(5))
            {
                result.ThrowIfFailed();
            }
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
    }

    /// <inheritdoc />
    protected override Task RollbackCoreAsync(string name, CancellationToken cancellationToken)
    {
        _pristineHead = null;
        return Zfs.RunRetryingBusyAsync(["rollback", FullName(name)], cancellationToken);
    }

    /// <inheritdoc />
    protected override Task RenameSnapshotCoreAsync(string name, string newName, CancellationToken cancellationToken) =>
        Zfs.RunAsync(["rename", FullName(name), FullName(newName)], cancellationToken);

    /// <inheritdoc />
    protected override async Task PromoteCoreAsync(string snapshot, CancellationToken cancellationToken)
    {
        // After a receive the head already is the received snapshot. Unless this object knows nothing touched it
        // since, a rollback undoes whatever did (atime, a reader, a writer); a receive without mounting (-u) may
        // have left it unmounted.
        if (_pristineHead != snapshot)
        {
            await RollbackCoreAsync(snapshot, cancellationToken).ConfigureAwait(false);
        }
        _pristineHead = null;
        if (Kind == VolumeKind.Filesystem)
        {
            await MountedPathAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    protected override async Task<string> GetPathCoreAsync(string? snapshot, CancellationToken cancellationToken)
    {
        var live = await MountedPathAsync(cancellationToken).ConfigureAwait(false);
        if (snapshot is null)
        {
            _pristineHead = null; // the caller may write there
            return live;
        }
        var record = await ReadSnapshotAsync(snapshot, cancellationToken).ConfigureAwait(false);
        var control = Path.Combine(live, ".zfs", "snapshot", snapshot);
        if (Directory.Exists(control))
        {
            return control;
        }
        if (!_driver.Options.SnapshotViews)
        {
            throw new NotSupportedException($"{Address}: this ZFS has no .zfs/snapshot directory and snapshot views are turned off (ZfsDriverOptions.SnapshotViews).");
        }
        return await ViewPathAsync(snapshot, record.Guid, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task<BlockDevice> OpenDeviceCoreAsync(string? snapshot, bool writable, CancellationToken cancellationToken)
    {
        if (writable)
        {
            _pristineHead = null;
        }
        var path = "/dev/zvol/" + (snapshot is null ? Dataset : FullName(snapshot));
        if (snapshot is not null)
        {
            var props = await GetPropertiesAsync(Dataset, ["snapdev"], cancellationToken).ConfigureAwait(false);
            if (props.TryGetValue("snapdev", out var snapdev) && snapdev.Value != "visible")
            {
                await Zfs.RunAsync(["set", "snapdev=visible", Dataset], cancellationToken).ConfigureAwait(false);
            }
        }
        // udev makes the device node a moment after the zvol (or its snapshot device) appears.
        for (var i = 0; i < 100 && !File.Exists(path); i++)
        {
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
        return FileBlockDevice.Open(path, readOnly: !writable);
    }

    /// <inheritdoc />
    protected override async Task SendCoreAsync(string? baseSnapshot, string snapshot, Stream destination, NativeSendOptions options, CancellationToken cancellationToken)
    {
        var arguments = SendArguments(baseSnapshot, snapshot, options);
        var protect = Driver.Has(DriverCapabilities.ProtectBase) && options.ResumeToken is null && !TemporarySnapshot.IsTemporary(snapshot);
        // `zfs send` starts first: the stream's first bytes are what everything downstream waits for.
        var sending = Zfs.RunWithOutputAsync(arguments, destination, cancellationToken);
        if (!protect)
        {
            await sending.ConfigureAwait(false);
            return;
        }

        // The base is known common; the sent snapshot will be once the target has it. Both are held while the
        // stream flows (holding more than needed is harmless if the send fails), so that the hold's transaction
        // group sync is over before the receive's heavy end; the tag is released from the others only after the
        // send succeeded. Both stay held until the next send, so whichever the target ends up with stays protected.
        string[] keep = baseSnapshot is null || TemporarySnapshot.IsTemporary(baseSnapshot) ? [snapshot] : [baseSnapshot, snapshot];
        var holding = HoldForSendAsync(keep, cancellationToken);
        try
        {
            await sending.ConfigureAwait(false);
        }
        catch
        {
            await ObserveAsync(holding).ConfigureAwait(false);
            throw;
        }
        if (await holding.ConfigureAwait(false) is { } userRefs)
        {
            try
            {
                await ReleaseAsync(userRefs.Where(p => p.Value > 0 && !keep.Contains(p.Key)).Select(p => p.Key).ToArray(), cancellationToken).ConfigureAwait(false);
            }
            catch (ZfsCommandException e)
            {
                // The transfer itself succeeded; a hold left behind only protects more than needed.
                Log.ProtectFailed(Logger, e, Dataset);
            }
        }
    }

    /// <summary>Reads the hold counts and holds <paramref name="keep"/>; returns the counts, or null (logged) when either failed.</summary>
    private async Task<Dictionary<string, long>?> HoldForSendAsync(string[] keep, CancellationToken cancellationToken)
    {
        try
        {
            var userRefs = await ReadUserRefsAsync(cancellationToken).ConfigureAwait(false);
            await HoldAsync(keep, cancellationToken).ConfigureAwait(false);
            return userRefs;
        }
        catch (ZfsCommandException e)
        {
            // A missing hold only weakens protection against other tools; the send goes on (and reports its own failure).
            Log.ProtectFailed(Logger, e, Dataset);
            return null;
        }
    }

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> ReceiveCoreAsync(Stream source, NativeReceiveRequest request, CancellationToken cancellationToken)
    {
        var name = request.Snapshot.Name;
        var full = FullName(name);
        _pristineHead = null;
        var arguments = ReceiveArguments(request, full);

        // The target's state and the `zfs receive` process are made while the stream's BEGIN record is read: each
        // costs a process start and a round trip to the daemon, and neither changes anything. The receive gets no
        // byte until the record is checked; a stream that does not fit kills it unfed, so nothing is written.
        var receive = Zfs.StartWithInput(arguments, cancellationToken);
        var stateRead = ReadReceiveStateAsync(cancellationToken);
        try
        {
            ZfsStreamHeader header;
            byte[] consumed;
            try
            {
                (header, consumed) = await ZfsStreamHeader.ReadAsync(source, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await ObserveAsync(stateRead).ConfigureAwait(false);
                throw;
            }
            Log.StreamHeaderRead(Logger, Dataset, header.IsIncremental ? "incremental" : "full", header.ToGuid, header.ToName, header.FromGuid);
            var state = await stateRead.ConfigureAwait(false);
            CheckStreamFits(header, request, state?.Lineage ?? SnapshotLineage.Empty);
            if (state is not null && header.IsIncremental && Features.RawSend)
            {
                // Never mix raw and non-raw in one chain: a raw incremental needs a target received raw (encrypted),
                // a non-raw one a target whose key is loaded.
                var encrypted = state.Encryption is not (null or "off" or "-");
                var keyMissing = encrypted && state.KeyStatus == "unavailable";
                if ((header.IsRaw && !encrypted) || (!header.IsRaw && keyMissing))
                {
                    throw new ZfsStreamMismatchException(
                        $"The stream into {Address} is {(header.IsRaw ? "raw" : "not raw")} but the target's chain is {(encrypted ? "raw (encrypted, key not loaded)" : "not raw")}; raw and non-raw streams never mix in one chain.",
                        header.FromGuid, header.FromGuid);
                }
            }

            if (state?.ResumeToken is not null && !header.IsResuming)
            {
                // The stale partial state must go before a receive may start: the one started early goes unfed.
                await receive.DisposeAsync().ConfigureAwait(false);
                Log.PartialReceiveAborting(Logger, Dataset);
                await Zfs.RunAsync(["receive", "-A", Dataset], cancellationToken).ConfigureAwait(false);
                receive = Zfs.StartWithInput(arguments, cancellationToken);
            }

            // A forced full receive over a mounted file system must unmount it, and zfs-fuse then often answers EIO
            // (after committing, mostly; a file system busy from recent I/O may also make it fail before). Unmounted
            // first, retrying while busy, it receives cleanly; it is mounted again below.
            var remount = false;
            if (state is { Mounted: true } && !header.IsIncremental && Kind == VolumeKind.Filesystem && !Features.ReceiveWithoutMount)
            {
                await Zfs.RunRetryingBusyAsync(["unmount", Dataset], cancellationToken).ConfigureAwait(false);
                remount = true;
            }

            var lifted = await LiftQuotasAsync(state, cancellationToken).ConfigureAwait(false);
            try
            {
                var (result, _) = await receive.FeedAsync(consumed, source, cancellationToken).ConfigureAwait(false);
                if (!result.Succeeded)
                {
                    await AcceptFailedReceiveIfCompleteAsync(result, name, header.ToGuid, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                await RestoreQuotasAsync(lifted).ConfigureAwait(false);
                throw;
            }
            if (await RestoreQuotasAsync(lifted).ConfigureAwait(false) is { } notRestored)
            {
                // The data landed, but the dataset is left without a quota its owner set: say so.
                throw new ZfsCommandException(notRestored.CommandLine, notRestored.ExitCode,
                    $"{full} was received, but the quota lifted for the receive could not be restored (the received data may exceed it); it stays lifted. {notRestored.StandardError.Trim()}");
            }

            // What is left are independent commands, each waiting on the daemon (holds and property changes on a
            // transaction group): run them together.
            var steps = new List<Task>();
            if (_driver.Options.AtimeOffOnReceive && Kind == VolumeKind.Filesystem && state?.Atime != "off")
            {
                steps.Add(Zfs.RunAsync(["set", "atime=off", Dataset], cancellationToken));
            }
            if (Kind == VolumeKind.Filesystem && (remount || (Features.ReceiveWithoutMount && state?.Mounted == true)))
            {
                steps.Add(MountedPathAsync(cancellationToken));
            }
            var protect = Driver.Has(DriverCapabilities.ProtectBase) && !TemporarySnapshot.IsTemporary(name);
            if (protect)
            {
                // The new snapshot has no holds yet; the ones held before the receive are released.
                steps.Add(TryProtectAsync([name], state?.UserRefs ?? new Dictionary<string, long>(), cancellationToken));
            }
            var read = ReadSnapshotAsync(name, cancellationToken);
            steps.Add(read);
            await Task.WhenAll(steps).ConfigureAwait(false);
            var received = await read.ConfigureAwait(false);
            if (received.Guid != header.ToGuid)
            {
                if (protect && request.TargetBase is { } previous)
                {
                    // The protection moved to a snapshot that is not the stream's: put it back on the base.
                    await TryProtectAsync([previous.Name], null, cancellationToken).ConfigureAwait(false);
                }
                throw new DeltaSnapException($"{full} was received but has GUID {received.Guid}, not the stream's {header.ToGuid}.");
            }
            var atimeOff = Kind == VolumeKind.Block || state?.Atime == "off" || _driver.Options.AtimeOffOnReceive;
            _pristineHead = atimeOff ? name : null;
            return received.Info;
        }
        finally
        {
            await receive.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After <c>zfs receive</c> failed: accepts the receive when the snapshot exists with the stream's GUID (zfs-fuse
    /// reports EIO for a forced full receive over an existing file system after committing it). The snapshot exists
    /// only once a receive is complete; it is looked for a few times over about a second, in case the daemon makes
    /// it visible after the command ended. Throws <see cref="ZfsCommandException"/> otherwise.
    /// </summary>
    private async Task AcceptFailedReceiveIfCompleteAsync(ZfsCommandResult result, string name, ulong streamGuid, CancellationToken cancellationToken)
    {
        var full = FullName(name);
        SnapshotRecord? landed = null;
        for (var attempt = 0; attempt < 4; attempt++)
        {
            if (attempt > 0)
            {
                Log.ReceiveFailedSnapshotMissing(Logger, result.CommandLine, result.StandardError.Trim(), full, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(100 << attempt), cancellationToken).ConfigureAwait(false);
            }
            landed = await TryReadSnapshotAsync(name, cancellationToken).ConfigureAwait(false);
            if (landed is not null)
            {
                break;
            }
        }
        if (landed?.Guid != streamGuid)
        {
            throw new ZfsCommandException(result.CommandLine, result.ExitCode,
                result.StandardError.Trim() + (landed is null ? $" ({full} does not exist afterwards.)" : $" ({full} has GUID {landed.Guid}, not the stream's {streamGuid}.)"));
        }
        Log.ReceiveFailureButComplete(Logger, result.CommandLine, result.StandardError.Trim(), full, streamGuid);
    }

    private List<string> ReceiveArguments(NativeReceiveRequest request, string full)
    {
        List<string> arguments = ["receive", "-F"];
        if (Features.ReceiveWithoutMount)
        {
            arguments.Add("-u");
        }
        if (request.Resumable && Features.ResumableStreams)
        {
            arguments.Add("-s");
        }
        if (Features.ReceiveExcludeProperty)
        {
            arguments.AddRange(["-x", "mountpoint"]);
        }
        arguments.Add(full);
        return arguments;
    }

    /// <summary>Waits for a task whose result is no longer wanted, so that its failure is observed and not rethrown.</summary>
    private static async Task ObserveAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is ZfsCommandException or OperationCanceledException or VolumeNotFoundException)
        {
            // The caller is failing for another reason already.
        }
    }

    /// <summary>Releases this driver's hold tag from every snapshot of the dataset (before the dataset is destroyed).</summary>
    internal Task ReleaseAllOwnHoldsAsync(CancellationToken cancellationToken) =>
        Features.Holds ? ProtectAsync([], null, cancellationToken) : Task.CompletedTask;

    /// <summary>The arguments of <c>zfs send</c> for these options; throws before anything runs when a feature is missing.</summary>
    internal List<string> SendArguments(string? baseSnapshot, string snapshot, NativeSendOptions options)
    {
        var full = FullName(snapshot);
        if (options.Compressed && !Features.CompressedSend)
        {
            throw new NotSupportedException($"{Address}: the installed ZFS has no compressed send (zfs send -c).");
        }
        if (options.Raw && !Features.RawSend)
        {
            throw new NotSupportedException($"{Address}: the installed ZFS has no raw send (zfs send -w).");
        }
        List<string> arguments = ["send"];
        if (options.Compressed)
        {
            arguments.Add("-c");
        }
        if (options.Raw)
        {
            arguments.Add("-w");
        }
        if (options.ResumeToken is { } token)
        {
            if (!Features.ResumableStreams)
            {
                throw new NotSupportedException($"{Address}: the installed ZFS has no resumable streams (zfs send -t).");
            }
            if (token.Length == 0 || token[0] == '-' || token.Any(char.IsControl) || token.Any(char.IsWhiteSpace))
            {
                throw new ArgumentException("The resume token is not a ZFS resume token.", nameof(options));
            }
            // The token names the snapshots and the offset; the names given were validated all the same.
            arguments.AddRange(["-t", token]);
            return arguments;
        }
        if (baseSnapshot is not null)
        {
            arguments.AddRange(["-i", FullName(baseSnapshot)]);
        }
        arguments.Add(full);
        return arguments;
    }

    private void CheckStreamFits(ZfsStreamHeader header, NativeReceiveRequest request, SnapshotLineage lineage)
    {
        var name = request.Snapshot.Name;
        if (request.Snapshot.Identity is { IsEmpty: false, Kind: ZfsDriver.GuidIdentityKind } wanted && wanted.Value != Text(header.ToGuid))
        {
            throw new ZfsStreamMismatchException(
                $"The stream into {Address} carries snapshot GUID {header.ToGuid} ({header.ToName}), but the request is for {name} with GUID {wanted.Value}.",
                header.FromGuid, TargetGuid(lineage.Latest));
        }
        if (lineage.Find(name) is { } existing)
        {
            throw new ZfsStreamMismatchException(
                $"{Address} already has a snapshot named {name} (GUID {existing.Identity.Value}); delete it before receiving {header.ToName} (GUID {header.ToGuid}).",
                header.FromGuid, TargetGuid(existing));
        }
        var latest = lineage.Latest;
        if (!header.IsIncremental)
        {
            if (request.TargetBase is { } expected)
            {
                throw new ZfsStreamMismatchException(
                    $"The stream into {Address} is a full stream (fromguid 0), but the request expects an incremental from the target's {expected.Name} (GUID {expected.Identity.Value}).",
                    0, TargetGuid(expected));
            }
            if (latest is not null)
            {
                throw new ZfsStreamMismatchException(
                    $"The stream into {Address} is a full stream (fromguid 0), but the target has snapshots (newest {latest.Name}, GUID {latest.Identity.Value}); delete them first or send incrementally.",
                    0, TargetGuid(latest));
            }
            return;
        }
        if (latest is null)
        {
            throw new ZfsStreamMismatchException(
                $"The stream into {Address} is incremental from GUID {header.FromGuid}, but the target has no snapshots (target base GUID 0).",
                header.FromGuid, 0);
        }
        if (request.TargetBase is null)
        {
            throw new ZfsStreamMismatchException(
                $"The stream into {Address} is incremental from GUID {header.FromGuid}, but the request names no target base (a full stream was expected; the target's newest is {latest.Name}, GUID {latest.Identity.Value}).",
                header.FromGuid, TargetGuid(latest));
        }
        var targetBase = lineage.Find(request.TargetBase.Name)
            ?? throw new ZfsStreamMismatchException(
                $"The stream into {Address} is incremental from GUID {header.FromGuid}, but the target has no snapshot {request.TargetBase.Name} (the request's base).",
                header.FromGuid, 0);
        if (targetBase.Identity.Value != Text(header.FromGuid))
        {
            throw new ZfsStreamMismatchException(
                $"The stream into {Address} is incremental from GUID {header.FromGuid}, but the target's base {targetBase.Name} has GUID {targetBase.Identity.Value}.",
                header.FromGuid, TargetGuid(targetBase));
        }
        if (!ReferenceEquals(targetBase, latest) && latest.Name != targetBase.Name)
        {
            throw new ZfsStreamMismatchException(
                $"The stream into {Address} is incremental from GUID {header.FromGuid} ({targetBase.Name}), but the target has newer snapshots (newest {latest.Name}, GUID {latest.Identity.Value}); delete them first.",
                header.FromGuid, TargetGuid(latest));
        }
    }

    private static ulong TargetGuid(SnapshotInfo? snapshot) =>
        snapshot is not null && ulong.TryParse(snapshot.Identity.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var guid) ? guid : 0;

    private static string Text(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    private string FullName(string snapshot)
    {
        var full = Dataset + "@" + snapshot;
        if (full.Length > MaxFullNameLength)
        {
            throw new ArgumentException($"The snapshot name '{full}' is longer than ZFS's {MaxFullNameLength} characters.", nameof(snapshot));
        }
        return full;
    }

    /// <summary>The live mountpoint, mounting the dataset when it is not.</summary>
    private async Task<string> MountedPathAsync(CancellationToken cancellationToken)
    {
        var props = await GetPropertiesAsync(Dataset, ["mountpoint", "mounted"], cancellationToken).ConfigureAwait(false);
        var mountpoint = props["mountpoint"].Value;
        if (!mountpoint.StartsWith('/'))
        {
            throw new DeltaSnapException($"{Address} has mountpoint={mountpoint}; DeltaSnap needs a dataset that ZFS mounts itself.");
        }
        if (props["mounted"].Value != "yes")
        {
            await Zfs.RunAsync(["mount", Dataset], cancellationToken).ConfigureAwait(false);
        }
        return mountpoint;
    }

    /// <summary>A read-only clone of the snapshot, made once and destroyed with the snapshot.</summary>
    private async Task<string> ViewPathAsync(string snapshot, ulong guid, CancellationToken cancellationToken)
    {
        var full = FullName(snapshot);
        var root = ZfsDriver.ViewsRootOf(Dataset);
        var view = root + "/" + Text(guid);
        var existing = await Zfs.TryRunAsync(["get", "-H", "-p", "-o", "property,value", "origin,mountpoint,mounted", view], cancellationToken).ConfigureAwait(false);
        if (!existing.Succeeded)
        {
            var made = await Zfs.TryRunAsync(["create", "-o", "canmount=off", root], cancellationToken).ConfigureAwait(false);
            if (!made.Succeeded && !made.StandardError.Contains("already exists", StringComparison.Ordinal))
            {
                made.ThrowIfFailed();
            }
            await Zfs.RunAsync(["clone", "-o", "readonly=on", "-o", "atime=off", full, view], cancellationToken).ConfigureAwait(false);
            Log.ViewCreated(Logger, full, view);
        }
        var props = await GetPropertiesAsync(view, ["origin", "mountpoint", "mounted"], cancellationToken).ConfigureAwait(false);
        if (props["origin"].Value != full)
        {
            throw new DeltaSnapException($"The snapshot view {view} is a clone of {props["origin"].Value}, not of {full}.");
        }
        if (props["mounted"].Value != "yes")
        {
            await Zfs.RunAsync(["mount", view], cancellationToken).ConfigureAwait(false);
        }
        return props["mountpoint"].Value;
    }

    private async Task TryProtectAsync(IReadOnlyCollection<string> keep, IReadOnlyDictionary<string, long>? userRefs, CancellationToken cancellationToken)
    {
        try
        {
            await ProtectAsync(keep, userRefs, cancellationToken).ConfigureAwait(false);
        }
        catch (ZfsCommandException e)
        {
            // The transfer itself succeeded; a missing hold only weakens protection against other tools.
            Log.ProtectFailed(Logger, e, Dataset);
        }
    }

    /// <summary>
    /// Holds the <paramref name="keep"/> snapshots with the driver's tag and releases it from all others.
    /// <paramref name="userRefs"/> are the snapshots' hold counts when the caller has just read them.
    /// </summary>
    private async Task ProtectAsync(IReadOnlyCollection<string> keep, IReadOnlyDictionary<string, long>? userRefs, CancellationToken cancellationToken)
    {
        userRefs ??= await ReadUserRefsAsync(cancellationToken).ConfigureAwait(false);
        // One `zfs hold` and one `zfs release` for all the snapshots (each command takes several), run together:
        // each waits for a transaction group to sync, and together they share one.
        var releases = userRefs.Where(p => p.Value > 0 && !keep.Contains(p.Key)).Select(p => p.Key).ToArray();
        await Task.WhenAll(HoldAsync(keep, cancellationToken), ReleaseAsync(releases, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Holds <paramref name="snapshots"/> with the driver's tag in one command; a snapshot that has the tag already is fine.</summary>
    private Task HoldAsync(IReadOnlyCollection<string> snapshots, CancellationToken cancellationToken) =>
        HoldOrReleaseAsync("hold", snapshots, static line => line.Contains("tag already exists", StringComparison.Ordinal), cancellationToken);

    /// <summary>Releases the driver's tag from <paramref name="snapshots"/> in one command; a snapshot without the tag, or gone, is fine.</summary>
    private Task ReleaseAsync(IReadOnlyCollection<string> snapshots, CancellationToken cancellationToken) =>
        HoldOrReleaseAsync("release", snapshots,
            static line => line.Contains("no such tag", StringComparison.Ordinal) || line.Contains("does not exist", StringComparison.Ordinal), cancellationToken);

    /// <summary>
    /// Runs <c>zfs hold|release TAG SNAPSHOT…</c>. The command handles each snapshot on its own (zfs-fuse and OpenZFS
    /// alike) and prints one line per snapshot it could not: the command fails only when a line is not
    /// <paramref name="harmless"/>.
    /// </summary>
    private async Task HoldOrReleaseAsync(string verb, IReadOnlyCollection<string> snapshots, Func<string, bool> harmless, CancellationToken cancellationToken)
    {
        if (snapshots.Count == 0)
        {
            return;
        }
        var tag = _driver.Options.HoldTag;
        List<string> arguments = [verb, tag];
        foreach (var snapshot in snapshots)
        {
            if (verb == "hold")
            {
                Log.Holding(Logger, FullName(snapshot), tag);
            }
            else
            {
                Log.Releasing(Logger, FullName(snapshot), tag);
            }
            arguments.Add(FullName(snapshot));
        }
        var result = await Zfs.TryRunAsync(arguments, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded && !result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).All(harmless))
        {
            result.ThrowIfFailed();
        }
    }

    private async Task<Dictionary<string, long>> ReadUserRefsAsync(CancellationToken cancellationToken)
    {
        var output = await Zfs.RunAsync(["get", "-H", "-p", "-r", "-d", "1", "-o", "name,value", "userrefs", Dataset], cancellationToken).ConfigureAwait(false);
        var refs = new Dictionary<string, long>(StringComparer.Ordinal);
        var prefix = Dataset + "@";
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length == 2 && fields[0].StartsWith(prefix, StringComparison.Ordinal) &&
                long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                refs[fields[0][prefix.Length..]] = n;
            }
        }
        return refs;
    }

    /// <summary>What a receive needs to know of its target, read in one command; null when the dataset does not exist.</summary>
    private sealed record ReceiveState(
        SnapshotLineage Lineage,
        IReadOnlyDictionary<string, long> UserRefs,
        bool Mounted,
        string? Atime,
        string? ResumeToken,
        string? Encryption,
        string? KeyStatus,
        IReadOnlyList<(string Property, string Value)> LocalQuotas);

    private async Task<ReceiveState?> ReadReceiveStateAsync(CancellationToken cancellationToken)
    {
        List<string> names = [LineageProperties, "quota", "refquota", "atime", "mounted"];
        if (Features.Holds)
        {
            names.Add("userrefs");
        }
        if (Features.ResumableStreams)
        {
            names.Add("receive_resume_token");
        }
        if (Features.RawSend)
        {
            names.AddRange(["encryption", "keystatus"]);
        }
        var result = await Zfs.TryRunAsync(["get", "-H", "-p", "-r", "-d", "1", "-o", "name,property,value,source", string.Join(',', names), Dataset], cancellationToken)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return result.SaysNotFound ? null : throw new ZfsCommandException(result.CommandLine, result.ExitCode, result.StandardError);
        }
        var own = new Dictionary<string, (string Value, string Source)>(StringComparer.Ordinal);
        var userRefs = new Dictionary<string, long>(StringComparer.Ordinal);
        var prefix = Dataset + "@";
        foreach (var line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length < 4)
            {
                continue;
            }
            if (fields[0] == Dataset)
            {
                own[fields[1]] = (fields[2], fields[3]);
            }
            else if (fields[1] == "userrefs" && fields[0].StartsWith(prefix, StringComparison.Ordinal) &&
                     long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var refs))
            {
                userRefs[fields[0][prefix.Length..]] = refs;
            }
        }
        var lineage = new SnapshotLineage(ParseSnapshots(result.StandardOutput, prefix).OrderBy(r => r.CreateTxg).Select(r => r.Info));
        var quotas = new List<(string, string)>();
        foreach (var q in (string[])["quota", "refquota"])
        {
            if (own.TryGetValue(q, out var p) && p.Source == "local" && p.Value is not ("0" or "-" or "none"))
            {
                quotas.Add((q, p.Value));
            }
        }
        return new ReceiveState(
            lineage,
            userRefs,
            own.TryGetValue("mounted", out var m) && m.Value == "yes",
            own.TryGetValue("atime", out var a) ? a.Value : null,
            own.TryGetValue("receive_resume_token", out var t) && t.Value is not ("-" or "") ? t.Value : null,
            own.TryGetValue("encryption", out var e) ? e.Value : null,
            own.TryGetValue("keystatus", out var k) ? k.Value : null,
            quotas);
    }

    /// <summary>Lifts quota/refquota for the receive (a refquota made rollbacks fail with "out of space", lxc/incus#3625).</summary>
    private async Task<List<(string Property, string Value)>> LiftQuotasAsync(ReceiveState? state, CancellationToken cancellationToken)
    {
        var lifted = new List<(string, string)>();
        if (state is null)
        {
            return lifted;
        }
        try
        {
            foreach (var (property, value) in state.LocalQuotas)
            {
                Log.QuotaLifted(Logger, Dataset, property, value);
                await Zfs.RunAsync(["set", property + "=none", Dataset], cancellationToken).ConfigureAwait(false);
                lifted.Add((property, value));
            }
        }
        catch
        {
            await RestoreQuotasAsync(lifted).ConfigureAwait(false);
            throw;
        }
        return lifted;
    }

    /// <summary>Sets the lifted quotas back; every one is tried. Returns the first failure (also logged), or null.</summary>
    private async Task<ZfsCommandException?> RestoreQuotasAsync(List<(string Property, string Value)> lifted)
    {
        // Runs after failures and cancellation too, so it does not take the caller's token.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        ZfsCommandException? first = null;
        foreach (var (property, value) in lifted)
        {
            try
            {
                await Zfs.RunAsync(["set", property + "=" + value, Dataset], timeout.Token).ConfigureAwait(false);
            }
            catch (ZfsCommandException e)
            {
                Log.QuotaRestoreFailed(Logger, e, Dataset, property, value);
                first ??= e;
            }
            catch (OperationCanceledException e)
            {
                Log.QuotaRestoreFailed(Logger, e, Dataset, property, value);
            }
        }
        return first;
    }

    private async Task<Dictionary<string, (string Value, string Source)>> GetPropertiesAsync(string dataset, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        var result = await Zfs.TryRunAsync(["get", "-H", "-p", "-o", "property,value,source", string.Join(',', names), dataset], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw result.SaysNotFound
                ? new VolumeNotFoundException($"The ZFS dataset '{dataset}' does not exist.")
                : new ZfsCommandException(result.CommandLine, result.ExitCode, result.StandardError);
        }
        var props = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length >= 3)
            {
                props[fields[0]] = (fields[1], fields[2]);
            }
        }
        return props;
    }

    private async Task<SnapshotRecord> ReadSnapshotAsync(string name, CancellationToken cancellationToken) =>
        await TryReadSnapshotAsync(name, cancellationToken).ConfigureAwait(false)
        ?? throw new VolumeNotFoundException($"The ZFS snapshot '{FullName(name)}' does not exist.");

    private async Task<SnapshotRecord?> TryReadSnapshotAsync(string name, CancellationToken cancellationToken)
    {
        var full = FullName(name);
        var result = await Zfs.TryRunAsync(["get", "-H", "-p", "-o", "name,property,value", LineageProperties, full], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return result.SaysNotFound ? null : throw new ZfsCommandException(result.CommandLine, result.ExitCode, result.StandardError);
        }
        return ParseSnapshots(result.StandardOutput, Dataset + "@").SingleOrDefault();
    }

    /// <summary>Parses <c>zfs get -Hp -o name,property,value</c> output into snapshot records (names starting with <paramref name="prefix"/>).</summary>
    internal static List<SnapshotRecord> ParseSnapshots(string output, string prefix)
    {
        var byName = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length < 3 || !fields[0].StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }
            if (!byName.TryGetValue(fields[0], out var props))
            {
                byName[fields[0]] = props = new Dictionary<string, string>(StringComparer.Ordinal);
                order.Add(fields[0]);
            }
            props[fields[1]] = fields[2];
        }
        var records = new List<SnapshotRecord>(order.Count);
        foreach (var full in order)
        {
            var props = byName[full];
            var name = full[prefix.Length..];
            if (!props.TryGetValue("guid", out var guidText) || !ulong.TryParse(guidText, NumberStyles.None, CultureInfo.InvariantCulture, out var guid) ||
                !props.TryGetValue("createtxg", out var txgText) || !ulong.TryParse(txgText, NumberStyles.None, CultureInfo.InvariantCulture, out var txg) ||
                !props.TryGetValue("creation", out var creationText) || !long.TryParse(creationText, NumberStyles.None, CultureInfo.InvariantCulture, out var creation))
            {
                throw new ZfsCommandException($"zfs get returned incomplete or non-numeric properties for {full} (guid, createtxg, creation).");
            }
            if (props.TryGetValue(CreatedProperty, out var createdText) && long.TryParse(createdText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var created))
            {
                creation = created;
            }
            SnapshotIdentity? receivedFrom = null;
            if (props.TryGetValue(ReceivedFromProperty, out var fromText) && fromText != "-")
            {
                try
                {
                    receivedFrom = SnapshotIdentity.Parse(fromText);
                }
                catch (Exception e) when (e is FormatException or ArgumentException)
                {
                    receivedFrom = null; // not written by DeltaSnap; ignore
                }
            }
            var info = new SnapshotInfo(name, new SnapshotIdentity(ZfsDriver.GuidIdentityKind, Text(guid)), DateTimeOffset.FromUnixTimeSeconds(creation))
            {
                ReceivedFrom = receivedFrom,
            };
            records.Add(new SnapshotRecord(info, guid, txg));
        }
        return records;
    }

    /// <summary>A snapshot as read from ZFS: its info plus the exact GUID and createtxg.</summary>
    internal sealed record SnapshotRecord(SnapshotInfo Info, ulong Guid, ulong CreateTxg);
}
