using DeltaSnap.Diagnostics;
using DeltaSnap.Drivers;
using DeltaSnap.Lineage;

namespace DeltaSnap.Replication;

/// <summary>
/// Makes one directory tree equal to another: data, metadata, hard links, symbolic links, extended attributes,
/// ACLs, devices and special files, holes; entries the source lacks are deleted from the target. The route for
/// file system volumes of different backends uses one (DeltaSnap.Rsync's <c>RsyncTreeSynchronizer</c> runs the
/// real <c>rsync</c>); the core never names a program.
/// </summary>
public abstract class TreeSynchronizer
{
    /// <summary>Initializes the synchronizer.</summary>
    protected TreeSynchronizer()
    {
    }

    /// <summary>Makes <see cref="TreeSyncRequest.TargetDirectory"/> equal to <see cref="TreeSyncRequest.SourceDirectory"/>.</summary>
    /// <exception cref="ArgumentException">A directory is not an absolute path of an existing directory, holds a control character or a <c>..</c> component, or the two overlap.</exception>
    /// <exception cref="DeltaSnapException">The synchronization failed (the target may be partly written; the caller rolls it back).</exception>
    public Task<TreeSyncResult> SynchronizeAsync(TreeSyncRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var source = ValidateDirectory(request.SourceDirectory, nameof(request.SourceDirectory));
        var target = ValidateDirectory(request.TargetDirectory, nameof(request.TargetDirectory));
        if (IsSameOrBelow(source, target) || IsSameOrBelow(target, source))
        {
            ThrowHelper.ThrowArgument(nameof(request), $"The source directory '{source}' and the target directory '{target}' overlap.");
        }
        if (request.LinkDirectory is { } link)
        {
            ValidateLinkDirectory(link, target, "target directory");
        }
        return SynchronizeCoreAsync(request, cancellationToken);
    }

    /// <summary>Synchronizes (the request validated: two existing, absolute, disjoint directories).</summary>
    protected abstract Task<TreeSyncResult> SynchronizeCoreAsync(TreeSyncRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Makes a tree on another machine equal to a local one (push) or a local tree equal to one on another machine
    /// (pull): the client half runs here and the server half where the remote volume is
    /// (<see cref="Volume.RunTreeServerAsync"/>), so no second connection is needed.
    /// </summary>
    /// <exception cref="ArgumentException">The local directory is not an absolute path of an existing directory, or holds a control character or a <c>..</c> component.</exception>
    /// <exception cref="NotSupportedException">The remote volume is not on another machine, or this synchronizer has no remote form.</exception>
    /// <exception cref="DeltaSnapException">The synchronization failed (the target may be partly written; the caller rolls it back).</exception>
    public Task<TreeSyncResult> SynchronizeRemoteAsync(RemoteTreeSyncRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.RemoteVolume);
        var local = ValidateDirectory(request.LocalDirectory, nameof(request.LocalDirectory));
        if (!request.RemoteVolume.Driver.Has(DriverCapabilities.RemoteTrees))
        {
            ThrowHelper.ThrowNotSupported($"{request.RemoteVolume.Address} is not on another machine: synchronize its path instead.");
        }
        if (request.RemoteReceivesAside)
        {
            if (request.RemoteIsSource)
            {
                ThrowHelper.ThrowArgument(nameof(request), "Only a remote target receives a tree aside.");
            }
            if (!request.RemoteVolume.Driver.Has(DriverCapabilities.StagedTrees))
            {
                ThrowHelper.ThrowNotSupported($"{request.RemoteVolume.Address} does not receive trees aside (or its server is older): write its live tree instead.");
            }
        }
        else if (request.RemoteIsSource != request.RemoteSnapshot is not null)
        {
            ThrowHelper.ThrowArgument(nameof(request), request.RemoteIsSource
                ? "A remote source is read from one of its snapshots: RemoteSnapshot is required."
                : "A remote target is written in its live tree: RemoteSnapshot must be null.");
        }
        if (request.LinkDirectory is { } link)
        {
            if (!request.RemoteIsSource)
            {
                ThrowHelper.ThrowArgument(nameof(request), "A link directory is the local target's: it needs a remote source.");
            }
            ValidateLinkDirectory(link, local, "local directory");
        }
        return SynchronizeRemoteCoreAsync(request, cancellationToken);
    }

    /// <summary>Synchronizes with a remote tree (request validated). The default has no remote form.</summary>
    protected virtual Task<TreeSyncResult> SynchronizeRemoteCoreAsync(RemoteTreeSyncRequest request, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{GetType().Name} cannot synchronize with a tree on another machine.");

    /// <summary>
    /// Runs the server half of a synchronization that a peer's client half asked for, on a tree of this machine: checks
    /// <see cref="TreeServeRequest.Arguments"/> against what this synchronizer's route uses (its options only, the
    /// tree's path only, reading or writing as <see cref="TreeServeRequest.Writable"/> allows), then runs it with
    /// <paramref name="input"/> as its standard input and <paramref name="output"/> as its standard output.
    /// </summary>
    /// <exception cref="ArgumentException">The directory is not an absolute path of an existing directory.</exception>
    /// <exception cref="UnauthorizedAccessException">The arguments ask for something the route does not do; nothing ran.</exception>
    /// <exception cref="NotSupportedException">This synchronizer has no server half.</exception>
    /// <exception cref="DeltaSnapException">The server half failed.</exception>
    public Task ServeAsync(TreeServeRequest request, Stream input, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Arguments);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var directory = ValidateDirectory(request.Directory, nameof(request.Directory));
        if (request.LinkDirectory is { } link)
        {
            if (!request.Writable)
            {
                ThrowHelper.ThrowArgument(nameof(request), "A link directory is for a tree that is written.");
            }
            ValidateLinkDirectory(link, directory, "directory");
        }
        return ServeCoreAsync(request, input, output, cancellationToken);
    }

    /// <summary>Checks and runs a server half (directory validated). The default has none.</summary>
    protected virtual Task ServeCoreAsync(TreeServeRequest request, Stream input, Stream output, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{GetType().Name} has no server half.");

    private static string ValidateDirectory(string path, string what)
    {
        if (string.IsNullOrEmpty(path) || !Path.IsPathFullyQualified(path))
        {
            ThrowHelper.ThrowArgument(what, $"The {what} '{path}' is not an absolute path.");
        }
        if (path.Any(char.IsControl))
        {
            ThrowHelper.ThrowArgument(what, $"The {what} holds a control character.");
        }
        if (path.Split('/').Any(part => part is ".."))
        {
            ThrowHelper.ThrowArgument(what, $"The {what} '{path}' has a '..' component.");
        }
        if (!Directory.Exists(path))
        {
            ThrowHelper.ThrowArgument(what, $"The {what} '{path}' is not an existing directory.");
        }
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
    }

    /// <summary>Checks a link directory: an existing directory apart from <paramref name="written"/> (the <paramref name="what"/> it lends files to).</summary>
    private static void ValidateLinkDirectory(string link, string written, string what)
    {
        link = ValidateDirectory(link, "LinkDirectory");
        if (IsSameOrBelow(written, link) || IsSameOrBelow(link, written))
        {
            ThrowHelper.ThrowArgument("request", $"The link directory '{link}' and the {what} '{written}' overlap.");
        }
    }

    private static bool IsSameOrBelow(string path, string ancestor) =>
        path == ancestor || path.StartsWith(ancestor.EndsWith('/') ? ancestor : ancestor + "/", StringComparison.Ordinal);
}

/// <summary>What a <see cref="TreeSynchronizer"/> is to do.</summary>
public sealed record TreeSyncRequest
{
    /// <summary>The directory whose contents are copied (a snapshot's tree).</summary>
    public required string SourceDirectory { get; init; }

    /// <summary>The directory made equal to the source (the target volume's live tree).</summary>
    public required string TargetDirectory { get; init; }

    /// <summary>
    /// Whether the target is copy-on-write with its previous snapshot (ZFS, Btrfs, reflinked directories): then
    /// changed files are updated in place so that their unchanged blocks stay shared with that snapshot.
    /// </summary>
    public bool TargetIsCopyOnWrite { get; init; }

    /// <summary>Whether files that vanish from the source during the copy are tolerated (an inconsistent copy) rather than an error.</summary>
    public bool AllowVanishedFiles { get; init; }

    /// <summary>
    /// A tree (the target volume's newest snapshot) whose files equal to the source's are hard-linked into the empty
    /// target directory instead of copied (<c>rsync --link-dest</c>); never written. Null: none.
    /// </summary>
    public string? LinkDirectory { get; init; }

    /// <summary>
    /// Told the bytes of file data done so far, as often as the synchronizer learns them (from any thread); null when
    /// nobody asked. A synchronizer that cannot tell reports nothing.
    /// </summary>
    public IProgress<long>? Progress { get; init; }
}

/// <summary>What <see cref="TreeSynchronizer.SynchronizeRemoteAsync"/> is to do: one tree here, one on another machine.</summary>
public sealed record RemoteTreeSyncRequest
{
    /// <summary>The tree on this machine: the source snapshot's (push) or the target's live tree (pull).</summary>
    public required string LocalDirectory { get; init; }

    /// <summary>The volume on another machine (its driver has <see cref="DriverCapabilities.RemoteTrees"/>).</summary>
    public required Volume RemoteVolume { get; init; }

    /// <summary>Whether the remote volume is the source (pull: its snapshot is read) or the target (push: its live tree is written).</summary>
    public bool RemoteIsSource { get; init; }

    /// <summary>
    /// The remote source's snapshot that is read; with <see cref="RemoteReceivesAside"/>, the remote target's snapshot that
    /// the received tree becomes (null: its live tree); otherwise null when the remote volume is the target.
    /// </summary>
    public string? RemoteSnapshot { get; init; }

    /// <summary>
    /// Push only: the remote target (<see cref="DriverCapabilities.StagedTrees"/>) receives the tree in a fresh directory
    /// that hard-links its unchanged files from the target's newest snapshot and becomes <see cref="RemoteSnapshot"/> (or
    /// the live tree) when complete (<see cref="Volume.ReceiveTreeServerAsync"/>); its live tree is not written.
    /// </summary>
    public bool RemoteReceivesAside { get; init; }

    /// <summary>With <see cref="RemoteReceivesAside"/> and a <see cref="RemoteSnapshot"/>: how the received snapshot is recorded (time, origin).</summary>
    public SnapshotCreateOptions? SnapshotOptions { get; init; }

    /// <summary>Whether the target is copy-on-write with its previous snapshot (see <see cref="TreeSyncRequest.TargetIsCopyOnWrite"/>).</summary>
    public bool TargetIsCopyOnWrite { get; init; }

    /// <summary>Whether files that vanish from the source during the copy are tolerated.</summary>
    public bool AllowVanishedFiles { get; init; }

    /// <summary>
    /// Pull only: a local tree (the target's newest snapshot) whose files equal to the source's are hard-linked into the
    /// empty local directory instead of copied (see <see cref="TreeSyncRequest.LinkDirectory"/>); never written. Null: none.
    /// </summary>
    public string? LinkDirectory { get; init; }
}

/// <summary>What <see cref="TreeSynchronizer.ServeAsync"/> is asked to run, on the machine that holds the tree.</summary>
public sealed record TreeServeRequest
{
    /// <summary>The tree: a snapshot's (only read) or a volume's live tree (written when <see cref="Writable"/>).</summary>
    public required string Directory { get; init; }

    /// <summary>The server command line the peer's client half asked for (checked before anything runs).</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>Whether the tree is a target to write; false: a source that is only read.</summary>
    public bool Writable { get; init; }

    /// <summary>
    /// A written tree only: a tree of this machine (the volume's newest snapshot, chosen here, never by the peer) whose
    /// files equal to the peer's are hard-linked into <see cref="Directory"/> instead of received; never written. Null: none.
    /// </summary>
    public string? LinkDirectory { get; init; }
}

/// <summary>What a <see cref="TreeSynchronizer"/> did.</summary>
public sealed record TreeSyncResult
{
    /// <summary>Regular files whose data was (re)written on the target.</summary>
    public long FilesTransferred { get; init; }

    /// <summary>The size of the files transferred (whole files, not just the changed parts).</summary>
    public long TransferredFileBytes { get; init; }

    /// <summary>File data that actually crossed from source to target (the changed parts).</summary>
    public long LiteralBytes { get; init; }

    /// <summary>All bytes the sending side wrote (data, checksums, file list, protocol).</summary>
    public long BytesSent { get; init; }

    /// <summary>Whether some source files vanished during the copy (only when that was allowed).</summary>
    public bool FilesVanished { get; init; }

    /// <summary>The snapshot a remote target made of the tree it received aside (<see cref="RemoteTreeSyncRequest.RemoteReceivesAside"/>); otherwise null.</summary>
    public SnapshotInfo? ReceivedSnapshot { get; init; }
}
