using DeltaSnap.Diagnostics;

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
        return SynchronizeCoreAsync(request, cancellationToken);
    }

    /// <summary>Synchronizes (the request validated: two existing, absolute, disjoint directories).</summary>
    protected abstract Task<TreeSyncResult> SynchronizeCoreAsync(TreeSyncRequest request, CancellationToken cancellationToken);

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
    /// Told the bytes of file data done so far, as often as the synchronizer learns them (from any thread); null when
    /// nobody asked. A synchronizer that cannot tell reports nothing.
    /// </summary>
    public IProgress<long>? Progress { get; init; }
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
}
