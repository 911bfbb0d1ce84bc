using System.Globalization;
using DeltaSnap.Drivers;
using DeltaSnap.ExternalCommands;
using DeltaSnap.Lineage;

namespace DeltaSnap.Zfs;

/// <summary>
/// The receive pipeline: <c>zfs receive</c> started early and fed only after the template's check, the target's state
/// read in one command meanwhile, a stale resumable state aborted, zfs-fuse's workarounds (unmount before a forced full
/// receive; accept a receive reported failed that committed), quotas lifted for the receive and restored after, and
/// the steps after the receive run together.
/// </summary>
public sealed partial class ZfsVolume
{
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

    /// <summary>
    /// Starts <c>zfs receive</c> (unfed) and reads the target's state in one command, while the template reads the
    /// stream's BEGIN record: each costs a process start and a round trip to the daemon, and neither changes anything.
    /// A stream that does not fit kills the receive unfed, so nothing is written.
    /// </summary>
    /// <exception cref="ArgumentException">The snapshot's full name is too long for ZFS (thrown at once, before the stream is read).</exception>
    protected override Task<NativeReceiveTarget> ReadNativeReceiveTargetCoreAsync(NativeReceiveRequest request, CancellationToken cancellationToken)
    {
        _pristineHead = null;
        var arguments = ReceiveArguments(request, FullName(request.Snapshot.Name));
        var receive = Zfs.StartWithInput(arguments, cancellationToken);
        return ReadAsync();

        async Task<NativeReceiveTarget> ReadAsync()
        {
            try
            {
                var state = await ReadReceiveStateAsync(cancellationToken).ConfigureAwait(false);
                return new ZfsReceiveTarget(state, receive, arguments);
            }
            catch
            {
                await receive.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>
    /// Reads the stream's BEGIN record (312 bytes, or the compound stream's first); the bytes read are fed to <c>zfs
    /// receive</c> first.
    /// </summary>
    /// <remarks>
    /// A compound stream (<c>zfs send -R</c>, <c>-p</c>, <c>-I</c>) may carry the sent dataset's properties, and
    /// <c>zfs receive</c> sets them: on zfs-fuse a <c>send -p</c> stream of a dataset with <c>mountpoint=/tmp/x</c>
    /// left the received dataset with that mountpoint (source "received") and zfs mounting it there. A peer could so
    /// mount a tree of its own over any empty directory of the server. DeltaSnap itself sends plain streams (<c>-i</c>
    /// only). Where <c>zfs receive -x</c> exists a file system's receive excludes the mount and share properties
    /// (<see cref="ExcludedFilesystemProperties"/>); where it does not (zfs-fuse), a compound stream is refused before
    /// anything is received.
    /// </remarks>
    /// <exception cref="NotSupportedException">A compound stream, and this <c>zfs receive</c> cannot exclude properties.</exception>
    protected override async Task<NativeStreamHeader?> ReadNativeStreamHeaderCoreAsync(Stream source, CancellationToken cancellationToken)
    {
        var (begin, consumed) = await ZfsStreamHeader.ReadAsync(source, cancellationToken).ConfigureAwait(false);
        Log.StreamHeaderRead(Logger, Dataset, begin.IsIncremental ? "incremental" : "full", begin.ToGuid, begin.ToName, begin.FromGuid);
        if (begin.Compound && !Features.ReceiveExcludeProperty)
        {
            throw new NotSupportedException(
                $"{Address}: the stream is a compound ZFS stream (zfs send -R, -p or -I), which may carry dataset properties such as mountpoint, "
                + "and this zfs receive cannot exclude them (no -x); nothing was received. Send each snapshot as a plain stream (zfs send [-i BASE] SNAPSHOT).");
        }
        return new ZfsReceiveHeader(begin, consumed);
    }

    /// <inheritdoc />
    /// <exception cref="NativeStreamMismatchException">
    /// ZFS's own checks: a full stream onto a dataset that has snapshots, or raw and non-raw streams in one chain.
    /// </exception>
    protected override async Task<SnapshotInfo> ReceiveCoreAsync(Stream source, NativeReceiveRequest request, NativeStreamHeader? header, NativeReceiveTarget target, CancellationToken cancellationToken)
    {
        var begin = (ZfsReceiveHeader)header!;
        var zfsTarget = (ZfsReceiveTarget)target;
        var state = zfsTarget.State;
        var name = request.Snapshot.Name;
        var full = FullName(name);
        CheckZfsChain(begin, state);

        if (state?.ResumeToken is not null && !begin.Begin.IsResuming)
        {
            // The stale partial state must go before a receive may start: the one started early goes unfed.
            await zfsTarget.Receive.DisposeAsync().ConfigureAwait(false);
            Log.PartialReceiveAborting(Logger, Dataset);
            await Zfs.RunAsync(["receive", "-A", Dataset], cancellationToken).ConfigureAwait(false);
            zfsTarget.Receive = Zfs.StartWithInput(zfsTarget.Arguments, cancellationToken);
        }

        // A forced full receive over a mounted file system must unmount it, and zfs-fuse then often answers EIO
        // (after committing, mostly; a file system busy from recent I/O may also make it fail before). Unmounted
        // first, retrying while busy, it receives cleanly; it is mounted again below.
        var remount = false;
        if (state is { Mounted: true } && !begin.IsIncremental && Kind == VolumeKind.Filesystem && !Features.ReceiveWithoutMount)
        {
            await Zfs.RunRetryingBusyAsync(["unmount", Dataset], cancellationToken).ConfigureAwait(false);
            remount = true;
        }

        var lifted = await LiftQuotasAsync(state, cancellationToken).ConfigureAwait(false);
        try
        {
            var (result, _) = await zfsTarget.Receive.FeedAsync(begin.Consumed, source, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                await AcceptFailedReceiveIfCompleteAsync(result, name, begin.Begin.ToGuid, cancellationToken).ConfigureAwait(false);
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
            throw new BackendCommandException(notRestored.CommandLine, notRestored.ExitCode,
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
            steps.Add(MountIfMountableAsync(cancellationToken));
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
        if (received.Guid != begin.Begin.ToGuid)
        {
            if (protect && request.TargetBase is { } previous)
            {
                // The protection moved to a snapshot that is not the stream's: put it back on the base.
                await TryProtectAsync([previous.Name], null, cancellationToken).ConfigureAwait(false);
            }
            throw new DeltaSnapException($"{full} was received but has GUID {received.Guid}, not the stream's {begin.Begin.ToGuid}.");
        }
        var atimeOff = Kind == VolumeKind.Block || state?.Atime == "off" || _driver.Options.AtimeOffOnReceive;
        _pristineHead = atimeOff ? name : null;
        // Mounted before, so mounted now: kept mounted by the receive, or mounted again above.
        _pristineHeadMounted = Kind == VolumeKind.Filesystem && state?.Mounted == true;
        return received.Info;
    }

    /// <summary>
    /// ZFS's checks on top of the template's: a full stream needs a dataset without snapshots (<c>zfs receive -F</c>
    /// of a full stream refuses one that has them), and raw and non-raw streams never mix in one chain (a raw
    /// incremental needs a target received raw, a non-raw one a target whose key is loaded).
    /// </summary>
    private void CheckZfsChain(ZfsReceiveHeader header, ZfsReceiveState? state)
    {
        var latest = state?.Lineage.Latest;
        if (!header.IsIncremental && latest is not null)
        {
            throw new NativeStreamMismatchException(
                $"The stream into {Address} is a full stream, but the target has snapshots (newest '{latest.Name}', {latest.Identity}); delete them first or send incrementally. Nothing was written.",
                null, header.To, null, latest.Identity);
        }
        if (state is not null && header.IsIncremental && Features.RawSend)
        {
            var encrypted = state.Encryption is not (null or "off" or "-");
            var keyMissing = encrypted && state.KeyStatus == "unavailable";
            if ((header.Begin.IsRaw && !encrypted) || (!header.Begin.IsRaw && keyMissing))
            {
                throw new NativeStreamMismatchException(
                    $"The stream into {Address} is {(header.Begin.IsRaw ? "raw" : "not raw")} but the target's chain is {(encrypted ? "raw (encrypted, key not loaded)" : "not raw")}; raw and non-raw streams never mix in one chain. Nothing was written.",
                    header.From, header.To, header.From, latest?.Identity);
            }
        }
    }

    /// <summary>
    /// After <c>zfs receive</c> failed: accepts the receive when the snapshot exists with the stream's GUID (zfs-fuse
    /// reports EIO for a forced full receive over an existing file system after committing it). The snapshot exists
    /// only once a receive is complete; it is looked for a few times over about a second, in case the daemon makes
    /// it visible after the command ended. Throws <see cref="BackendCommandException"/> otherwise.
    /// </summary>
    private async Task AcceptFailedReceiveIfCompleteAsync(ExternalCommandResult result, string name, ulong streamGuid, CancellationToken cancellationToken)
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
            throw result.ToException(landed is null ? $" ({full} does not exist afterwards.)" : $" ({full} has GUID {landed.Guid}, not the stream's {streamGuid}.)");
        }
        Log.ReceiveFailureButComplete(Logger, result.CommandLine, result.StandardError.Trim(), full, streamGuid);
    }

    private List<string> ReceiveArguments(NativeReceiveRequest request, string full) =>
        ReceiveArguments(Features, Kind, request.Resumable, full);

    /// <summary>
    /// The properties a received file system never takes from a stream where <c>zfs receive -x</c> exists: those that
    /// decide where and whether it is mounted and whether it is shared (NFS, SMB). A compound stream carries the source's
    /// values, and a peer's stream would otherwise mount a tree of its own on the server or export the dataset. All four
    /// exist wherever <c>-x</c> does (OpenZFS 0.7 and later). The source's other properties (compression, record size)
    /// are received as sent.
    /// </summary>
    internal static readonly string[] ExcludedFilesystemProperties = ["mountpoint", "canmount", "sharenfs", "sharesmb"];

    /// <summary>
    /// <c>zfs receive -F [-u] [-s] [-x PROPERTY]… DATASET@SNAPSHOT</c>. The exclusions are for file systems only: before
    /// OpenZFS 2.1 a receive of a volume with <c>-x mountpoint</c> failed ("property 'mountpoint' does not apply to
    /// datasets of this type", openzfs/zfs#11416), and a volume has none of them to exclude.
    /// </summary>
    internal static List<string> ReceiveArguments(ZfsFeatures features, VolumeKind kind, bool resumable, string full)
    {
        List<string> arguments = ["receive", "-F"];
        if (features.ReceiveWithoutMount)
        {
            arguments.Add("-u");
        }
        if (resumable && features.ResumableStreams)
        {
            arguments.Add("-s");
        }
        if (features.ReceiveExcludeProperty && kind == VolumeKind.Filesystem)
        {
            foreach (var property in ExcludedFilesystemProperties)
            {
                arguments.AddRange(["-x", property]);
            }
        }
        arguments.Add(full);
        return arguments;
    }

    private async Task<ZfsReceiveState?> ReadReceiveStateAsync(CancellationToken cancellationToken)
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
            return result.SaysNotFound() ? null : throw result.ToException();
        }
        return ZfsProperties.ParseReceiveState(result.StandardOutput, Dataset);
    }

    /// <summary>Lifts quota/refquota for the receive (a refquota made rollbacks fail with "out of space", lxc/incus#3625).</summary>
    private async Task<List<(string Property, string Value)>> LiftQuotasAsync(ZfsReceiveState? state, CancellationToken cancellationToken)
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
    private async Task<BackendCommandException?> RestoreQuotasAsync(List<(string Property, string Value)> lifted)
    {
        // Runs after failures and cancellation too, so it does not take the caller's token.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        BackendCommandException? first = null;
        foreach (var (property, value) in lifted)
        {
            try
            {
                await Zfs.RunAsync(["set", property + "=" + value, Dataset], timeout.Token).ConfigureAwait(false);
            }
            catch (BackendCommandException e)
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

    /// <summary>The stream's BEGIN record as the template's header: the GUIDs as identities, and the bytes read for <c>zfs receive</c>.</summary>
    private sealed record ZfsReceiveHeader : NativeStreamHeader
    {
        public ZfsReceiveHeader(ZfsStreamHeader begin, byte[] consumed)
            : base(new SnapshotIdentity(ZfsDriver.GuidIdentityKind, begin.ToGuid.ToString(CultureInfo.InvariantCulture)))
        {
            Begin = begin;
            Consumed = consumed;
            From = begin.IsIncremental ? new SnapshotIdentity(ZfsDriver.GuidIdentityKind, begin.FromGuid.ToString(CultureInfo.InvariantCulture)) : null;
        }

        public ZfsStreamHeader Begin { get; }

        public byte[] Consumed { get; }
    }

    /// <summary>The target's state and the <c>zfs receive</c> started for it (killed unfed when the receive does not go ahead).</summary>
    private sealed class ZfsReceiveTarget(ZfsReceiveState? state, ExternalInputCommand receive, List<string> arguments)
        : NativeReceiveTarget(state?.Lineage ?? SnapshotLineage.Empty)
    {
        public ZfsReceiveState? State { get; } = state;

        public ExternalInputCommand Receive { get; set; } = receive;

        public List<string> Arguments { get; } = arguments;

        protected override ValueTask ReleaseCoreAsync() => Receive.DisposeAsync();
    }
}
