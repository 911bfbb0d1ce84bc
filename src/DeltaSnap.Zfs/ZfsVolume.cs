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
/// anything is written. The class is split by job: this file holds the volume's operations, <c>ZfsVolume.Receive.cs</c>
/// the receive pipeline (with its zfs-fuse workarounds and quota lifting), <c>ZfsVolume.Holds.cs</c> the holds, and
/// <see cref="ZfsProperties"/> the parsing of <c>zfs get</c> output.
/// </summary>
public sealed partial class ZfsVolume : Volume
{
    /// <summary>The user property that records a snapshot's creation time given at creation (Unix seconds).</summary>
    public const string CreatedProperty = "deltasnap:created";

    /// <summary>The user property that records the identity of the source snapshot a snapshot replicates.</summary>
    public const string ReceivedFromProperty = "deltasnap:received-from";

    private const string LineageProperties = "guid,createtxg,creation," + CreatedProperty + "," + ReceivedFromProperty;

    /// <summary>
    /// What the lineage query reads: the snapshots' properties, and the dataset's mountpoint (for the snapshot paths'
    /// <c>.zfs/snapshot</c> probe, which then needs no command of its own).
    /// </summary>
    private const string LineageQueryProperties = LineageProperties + ",mountpoint,mounted";
    private const int MaxFullNameLength = 255;

    private readonly ZfsDriver _driver;

    /// <summary>
    /// The snapshot this volume object last received, while nothing it did since could have changed the head
    /// (no live path or writable device handed out, no rollback; the dataset has atime=off). Promoting it then
    /// needs no rollback, which on zfs-fuse costs an unmount and a mount (0.2–0.9 s).
    /// </summary>
    private string? _pristineHead;

    /// <summary>Whether the receive that made <see cref="_pristineHead"/> left the dataset mounted (it was mounted before).</summary>
    private bool _pristineHeadMounted;

    /// <summary>The read-only views this volume mounted for <see cref="GetPathCoreAsync"/>, by snapshot name, until released.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _views = new(StringComparer.Ordinal);

    /// <summary>
    /// The GUIDs of snapshots as this object last read them (lineage, creation), by name: a snapshot view is named by its
    /// snapshot's GUID, and with the GUID known the view is cloned at once and the GUID checked in the same command that
    /// reads the view's mountpoint. A stale entry (a snapshot replaced under the same name) is caught by that check.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ulong> _guids = new(StringComparer.Ordinal);

    /// <summary>The dataset's mountpoint when it was last seen mounted; only for the <c>.zfs/snapshot</c> probe (a stale value costs a view, never a wrong path).</summary>
    private volatile string? _liveMountpoint;

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
        var result = await Zfs.TryRunAsync(["get", "-H", "-p", "-r", "-d", "1", "-o", "name,property,value", LineageQueryProperties, Dataset], cancellationToken)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw result.SaysNotFound()
                ? new VolumeNotFoundException($"The ZFS dataset '{Dataset}' does not exist.")
                : result.ToException();
        }
        var snapshots = ZfsProperties.ParseSnapshots(result.StandardOutput, Dataset + "@");
        _guids.Clear();
        foreach (var snapshot in snapshots)
        {
            _guids[snapshot.Info.Name] = snapshot.Guid;
        }
        var own = ZfsProperties.ParseNamedProperties(result.StandardOutput, Dataset);
        _liveMountpoint = own.TryGetValue("mountpoint", out var mountpoint) && mountpoint.StartsWith('/') && own.GetValueOrDefault("mounted") == "yes"
            ? mountpoint
            : null;
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
        _guids.TryRemove(name, out _);
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
            if (result.SaysNotFound())
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
            if (result.SaysBusy() && Features.Holds && (await ReadUserRefsAsync(cancellationToken).ConfigureAwait(false)).GetValueOrDefault(name) > 0)
            {
                throw result.ToException($"({full} carries holds of other tags; release them first.)");
            }
            if (!result.SaysBusy() || clock.Elapsed > TimeSpan.FromSeconds(5))
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
        _guids.Clear(); // a rollback may destroy later snapshots
        return Zfs.RunRetryingBusyAsync(["rollback", FullName(name)], cancellationToken);
    }

    /// <inheritdoc />
    protected override Task RenameSnapshotCoreAsync(string name, string newName, CancellationToken cancellationToken)
    {
        _guids.TryRemove(name, out _);
        _guids.TryRemove(newName, out _);
        return Zfs.RunAsync(["rename", FullName(name), FullName(newName)], cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task PromoteCoreAsync(string snapshot, CancellationToken cancellationToken)
    {
        // After a receive the head already is the received snapshot. Unless this object knows nothing touched it
        // since, a rollback undoes whatever did (atime, a reader, a writer); a receive without mounting (-u) may
        // have left it unmounted.
        var pristine = _pristineHead == snapshot;
        if (!pristine)
        {
            await RollbackCoreAsync(snapshot, cancellationToken).ConfigureAwait(false);
        }
        _pristineHead = null;
        if (Kind == VolumeKind.Filesystem && !(pristine && _pristineHeadMounted))
        {
            await MountIfMountableAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    protected override async Task<string> GetPathCoreAsync(string? snapshot, CancellationToken cancellationToken)
    {
        if (snapshot is null)
        {
            _pristineHead = null; // the caller may write there
            return await MountedPathAsync(cancellationToken).ConfigureAwait(false);
        }
        // The live mountpoint only serves to look for .zfs/snapshot: the one the lineage query read will do (a dataset
        // unmounted since merely costs a view).
        var live = _liveMountpoint ?? await MountedPathAsync(cancellationToken).ConfigureAwait(false);
        var control = Path.Combine(live, ".zfs", "snapshot", snapshot);
        if (Directory.Exists(control))
        {
            return control; // ZFS lists exactly the snapshots that exist there
        }
        if (!_driver.Options.SnapshotViews)
        {
            throw new NotSupportedException($"{Address}: this ZFS has no .zfs/snapshot directory and snapshot views are turned off (ZfsDriverOptions.SnapshotViews).");
        }
        return await ViewPathAsync(snapshot, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task ReleasePathCoreAsync(string snapshot, CancellationToken cancellationToken)
    {
        if (_views.TryRemove(snapshot, out var view))
        {
            Log.ViewDestroying(Logger, view, FullName(snapshot));
            try
            {
                // zfs-fuse reports the view busy for a moment after the last reader closed it (seconds under load; a view
                // left behind keeps its snapshot from being deleted, so this waits longer than other commands).
                await _driver.DestroyViewAsync(view, mounted: true, cancellationToken).ConfigureAwait(false);
            }
            catch (BackendCommandException e) when (e.SaysNotFound())
            {
                // Released through another volume object already (views are shared by name).
            }
        }
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
        var sending = SendCheckedAsync();
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
            catch (BackendCommandException e)
            {
                // The transfer itself succeeded; a hold left behind only protects more than needed.
                Log.ProtectFailed(Logger, e, Dataset);
            }
        }

        // A resume token, which the receiving side gives, decides what is sent: the stream must be of this snapshot.
        async Task SendCheckedAsync()
        {
            if (options.ResumeToken is null)
            {
                await Zfs.RunWithOutputAsync(arguments, destination, cancellationToken).ConfigureAwait(false);
                return;
            }
            var check = new ResumedSendCheck(destination, FullName(snapshot));
            await Zfs.RunWithOutputAsync(arguments, check, cancellationToken).ConfigureAwait(false);
            check.Complete();
        }
    }

    /// <summary>Waits for a task whose result is no longer wanted, so that its failure is observed and not rethrown.</summary>
    private static async Task ObserveAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is BackendCommandException or OperationCanceledException or VolumeNotFoundException)
        {
            // The caller is failing for another reason already.
        }
    }
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

    /// <summary>
    /// Mounts the dataset when ZFS mounts it at all and it is not mounted. A dataset with <c>mountpoint=none</c> or
    /// <c>legacy</c>, or <c>canmount</c> other than <c>on</c>, stays unmounted: it can still receive (as <c>zfs receive -u</c>
    /// does); only reading its files through a path needs the mount.
    /// </summary>
    private async Task MountIfMountableAsync(CancellationToken cancellationToken)
    {
        var props = await GetPropertiesAsync(Dataset, ["mountpoint", "canmount", "mounted"], cancellationToken).ConfigureAwait(false);
        if (props["mountpoint"].Value.StartsWith('/') && props["canmount"].Value == "on" && props["mounted"].Value != "yes")
        {
            await MountAsync(Dataset, cancellationToken).ConfigureAwait(false);
        }
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
            await MountAsync(Dataset, cancellationToken).ConfigureAwait(false);
        }
        _liveMountpoint = mountpoint;
        return mountpoint;
    }

    /// <summary>
    /// A read-only clone of the snapshot named by its GUID, made once and destroyed when released or with the snapshot.
    /// With the GUID known (the lineage or the snapshot's creation read it), two commands: the clone, then one
    /// <c>zfs get</c> of the view's origin and mountpoint and the snapshot's GUID, which must be the one the view is named
    /// by. The views dataset is made only when the clone says it is missing; a view that exists already (made by another
    /// volume object, or left by an interrupted process) is used when it is a clone of this snapshot.
    /// </summary>
    private async Task<string> ViewPathAsync(string snapshot, CancellationToken cancellationToken)
    {
        var full = FullName(snapshot);
        for (var attempt = 1; ; attempt++)
        {
            var guid = _guids.TryGetValue(snapshot, out var known) ? known : (await ReadSnapshotAsync(snapshot, cancellationToken).ConfigureAwait(false)).Guid;
            var view = ZfsDriver.ViewsRootOf(Dataset) + "/" + Text(guid);
            var cloned = !(_views.TryGetValue(snapshot, out var held) && held == view)
                && await CloneViewAsync(full, view, cancellationToken).ConfigureAwait(false);
            if (cloned)
            {
                _views[snapshot] = view; // released from now on, even if what follows fails
            }
            var result = await Zfs.TryRunAsync(["get", "-H", "-p", "-o", "name,property,value", "origin,mountpoint,mounted,guid", view, full], cancellationToken)
                .ConfigureAwait(false);
            if (!result.Succeeded && result.SaysNotFound() && attempt == 1)
            {
                // The view this object held was destroyed by someone else, or the snapshot is gone: start over from its GUID.
                _views.TryRemove(snapshot, out _);
                _guids.TryRemove(snapshot, out _);
                continue;
            }
            result.ThrowIfFailed();
            var props = ZfsProperties.ParseNamedProperties(result.StandardOutput, view);
            var origin = props.GetValueOrDefault("origin", "-");
            if (origin != full)
            {
                throw new DeltaSnapException($"The snapshot view {view} is a clone of {origin}, not of {full}.");
            }
            var actual = ZfsProperties.ParseNamedProperties(result.StandardOutput, full).GetValueOrDefault("guid");
            if (actual != Text(guid))
            {
                // The GUID this object remembered is stale: the snapshot was replaced under the same name. A view made
                // just now is named wrongly; it goes, and the view is made again under the snapshot's real GUID.
                if (!cloned || attempt > 1)
                {
                    throw new DeltaSnapException($"The snapshot view {view} is a clone of {full}, whose GUID is {actual}, not {Text(guid)}.");
                }
                _guids.TryRemove(snapshot, out _);
                _views.TryRemove(snapshot, out _);
                await _driver.DestroyViewAsync(view, mounted: props.GetValueOrDefault("mounted") == "yes", cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (props.GetValueOrDefault("mounted") != "yes")
            {
                await MountAsync(view, cancellationToken).ConfigureAwait(false);
            }
            _views[snapshot] = view;
            return props.GetValueOrDefault("mountpoint", "-") is ['/', ..] mountpoint
                ? mountpoint
                : throw new DeltaSnapException($"The snapshot view {view} has mountpoint={props.GetValueOrDefault("mountpoint")}; it cannot be read.");
        }
    }

    /// <summary>
    /// Mounts a dataset or view that <c>zfs get</c> said was not mounted. zfs-fuse mounts a new clone, and a dataset it has
    /// just received, by itself a moment after the command returns, and a <c>zfs mount</c> meanwhile says "mountpoint or
    /// dataset is busy" (seen for views at 1 GiB under load, and after a receive across the network benchmark): the
    /// mount is retried while it says so, for up to <see cref="ZfsDriver.ViewBusyRetryTime"/>, and "already mounted" is success.
    /// </summary>
    private async Task MountAsync(string dataset, CancellationToken cancellationToken)
    {
        var result = await Zfs.TryRunRetryingBusyAsync(["mount", dataset], cancellationToken, ZfsDriver.ViewBusyRetryTime).ConfigureAwait(false);
        if (!result.Succeeded && !result.StandardErrorContains("already mounted"))
        {
            result.ThrowIfFailed();
        }
    }

    /// <summary>
    /// Clones the snapshot <paramref name="full"/> as the read-only <paramref name="view"/>, making the views dataset
    /// first when ZFS says it is missing. Returns false when the view exists already.
    /// </summary>
    private async Task<bool> CloneViewAsync(string full, string view, CancellationToken cancellationToken)
    {
        string[] clone = ["clone", "-o", "readonly=on", "-o", "atime=off", full, view];
        // Busy: zfs-fuse says so while another command works on the same dataset.
        var result = await Zfs.TryRunRetryingBusyAsync(clone, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded && result.StandardErrorContains("parent does not exist"))
        {
            var root = ZfsDriver.ViewsRootOf(Dataset);
            var made = await Zfs.TryRunAsync(["create", "-o", "canmount=off", root], cancellationToken).ConfigureAwait(false);
            if (!made.Succeeded && !made.StandardErrorContains("already exists"))
            {
                made.ThrowIfFailed();
            }
            result = await Zfs.TryRunRetryingBusyAsync(clone, cancellationToken).ConfigureAwait(false);
        }
        if (result.Succeeded)
        {
            Log.ViewCreated(Logger, full, view);
            return true;
        }
        if (result.StandardErrorContains("already exists"))
        {
            return false;
        }
        throw result.SaysNotFound()
            ? new VolumeNotFoundException($"The ZFS snapshot '{full}' does not exist.")
            : result.ToException();
    }

    private async Task<Dictionary<string, (string Value, string Source)>> GetPropertiesAsync(string dataset, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        var result = await Zfs.TryRunAsync(["get", "-H", "-p", "-o", "property,value,source", string.Join(',', names), dataset], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw result.SaysNotFound()
                ? new VolumeNotFoundException($"The ZFS dataset '{dataset}' does not exist.")
                : result.ToException();
        }
        return ZfsProperties.ParseOwnProperties(result.StandardOutput);
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
            return result.SaysNotFound() ? null : throw result.ToException();
        }
        var record = ZfsProperties.ParseSnapshots(result.StandardOutput, Dataset + "@").SingleOrDefault();
        if (record is not null)
        {
            _guids[name] = record.Guid;
        }
        return record;
    }
}
